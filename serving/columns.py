"""The columns of the scores table, named once (a light module: the CLI imports it at start-up)."""

from __future__ import annotations

from features.catalog import AS_OF, USER_ID

PROBABILITY = "probability"
BAND = "risk_band"
PERCENTILE = "percentile"
REASONS = ("reason_1", "reason_2", "reason_3")
VALUE_AT_RISK = "value_at_risk"
VALUE_SOURCE = "spend_90d"  # value at risk: what the user spent in the last 90 days
# Segments the CRM team filters lists by, copied from the profile features.
SEGMENTS = ("member_tier", "city_tier", "region", "channel")
# The user's category: most bought for customers, most browsed (last 30 days) for new users.
TOP_CATEGORY = "top_category"
CATEGORY_SOURCES = ("main_category", "top_browsed_category_30d")
MODEL_NAME = "model_name"
MODEL_VERSION = "model_version"
SCORED_AT = "scored_at"
ROW_COLUMNS = (USER_ID, PROBABILITY, *REASONS, VALUE_AT_RISK, *SEGMENTS, TOP_CATEGORY)
SCORE_COLUMNS = (
    USER_ID, AS_OF, PROBABILITY, BAND, PERCENTILE, *REASONS, VALUE_AT_RISK, *SEGMENTS, TOP_CATEGORY,
    MODEL_NAME, MODEL_VERSION, SCORED_AT,
)  # fmt: skip

__all__ = [
    "AS_OF", "BAND", "CATEGORY_SOURCES", "MODEL_NAME", "MODEL_VERSION", "PERCENTILE", "PROBABILITY", "REASONS",
    "ROW_COLUMNS", "SCORED_AT", "SCORE_COLUMNS", "SEGMENTS", "TOP_CATEGORY", "USER_ID", "VALUE_AT_RISK", "VALUE_SOURCE",
]  # fmt: skip
