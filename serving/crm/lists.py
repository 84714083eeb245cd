"""The lists the CRM team acts on, built from published scores: at-risk, coupons, activation.

Pure functions over a scores table (``serving.batch.scoring.SCORE_COLUMNS``, as read
from the score store); they never modify it. Every list carries the model
name and version, the as-of date of the scores and the time it was generated
(``generated_at``), on every row, so a file on its own says where it came from.

* at-risk: users ranked by churn probability, filtered by band, segment and top N,
  with their reasons;
* coupons: :func:`serving.crm.targeting.choose_targets` (budget, callbacks, holdout)
  plus the user's reasons and segments, so a callback agent knows what to say;
* activation: new users ranked by the activation model with their most-browsed
  category, a seeded holdout, in the data contract's ``coupons`` columns.
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated

import numpy as np
import pandas as pd
from pydantic import BaseModel, ConfigDict, Field, StringConstraints, field_validator

from features import contract as C
from features.catalog import AS_OF, USER_ID
from features.errors import ConfigError
from serving.batch.bands import BANDS
from serving.columns import (
    BAND,
    MODEL_NAME,
    MODEL_VERSION,
    PERCENTILE,
    PROBABILITY,
    REASONS,
    SEGMENTS,
    TOP_CATEGORY,
    VALUE_AT_RISK,
)
from serving.crm.targeting import MAX_CAMPAIGN_ID, MAX_SEED, CouponPolicy, check_issued_at, choose_targets, default_issued_at

RANK = "rank"
GENERATED_AT = "generated_at"
PROVENANCE = (AS_OF, MODEL_NAME, MODEL_VERSION, GENERATED_AT)
LIST_KINDS = ("at-risk", "coupons", "activation")


MAX_SEGMENT_VALUES = 50  # values per filter
MAX_TOP = 10**9
Segment = Annotated[str, StringConstraints(max_length=64)]


class ListFilter(BaseModel):
    """Which scored users an at-risk list shows. Empty tuples mean "any"; ``top``: at most this many."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    bands: tuple[Segment, ...] = Field((), max_length=MAX_SEGMENT_VALUES)
    member_tier: tuple[Segment, ...] = Field((), max_length=MAX_SEGMENT_VALUES)
    city_tier: tuple[Segment, ...] = Field((), max_length=MAX_SEGMENT_VALUES)
    region: tuple[Segment, ...] = Field((), max_length=MAX_SEGMENT_VALUES)
    channel: tuple[Segment, ...] = Field((), max_length=MAX_SEGMENT_VALUES)
    top: int | None = Field(None, gt=0, le=MAX_TOP)

    @field_validator("bands")
    @classmethod
    def _known_bands(cls, bands: tuple[str, ...]) -> tuple[str, ...]:
        unknown = [b for b in bands if b not in BANDS]
        if unknown:
            raise ValueError(f"unknown band {', '.join(map(repr, unknown))}; allowed: {', '.join(BANDS)}")
        return bands

    def segments(self) -> dict[str, tuple[str, ...]]:
        """The segment filters that are set: column -> allowed values."""
        return {name: getattr(self, name) for name in SEGMENTS if getattr(self, name)}


class ActivationPolicy(BaseModel):
    """The activation campaign: who gets the first-order nudge, and who is held out."""

    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)

    campaign_id: str = Field(min_length=1, max_length=MAX_CAMPAIGN_ID)
    coupon_value: float = Field(0.0, ge=0, description="value of a first-order coupon; 0 for a message only")
    top: int | None = Field(None, gt=0, le=MAX_TOP, description="at most this many users, most likely to activate first")
    control_share: float = Field(0.1, ge=0, lt=1)
    seed: int = Field(0, ge=0, le=MAX_SEED)


def _provenance(frame: pd.DataFrame, scores: pd.DataFrame, generated_at: dt.datetime) -> pd.DataFrame:
    """``frame`` with the scores' as-of date, model name and version and the generation time on every row."""
    first = scores.iloc[0] if len(scores) else None
    values = {
        AS_OF: first[AS_OF] if first is not None else None,
        MODEL_NAME: first[MODEL_NAME] if first is not None else None,
        MODEL_VERSION: first[MODEL_VERSION] if first is not None else None,
        GENERATED_AT: pd.Timestamp(generated_at),
    }
    return frame.assign(**values)


def _ranked(scores: pd.DataFrame) -> pd.DataFrame:
    """Highest probability first; at equal probability, the most valuable user first, then by id."""
    return scores.sort_values([PROBABILITY, VALUE_AT_RISK, USER_ID], ascending=[False, False, True], kind="stable", ignore_index=True)


def at_risk_list(scores: pd.DataFrame, filters: ListFilter, generated_at: dt.datetime) -> pd.DataFrame:
    """Scored users at risk, highest probability first, with ``rank`` (1 = highest risk among all scored users).

    At equal probability the user with more value at risk comes first.

    Raises ConfigError when a segment filter names a value no scored user has
    (a typo would otherwise give an empty list that looks like good news).
    """
    ranked = _ranked(scores)
    ranked.insert(0, RANK, np.arange(1, len(ranked) + 1))
    keep = np.ones(len(ranked), dtype=bool)
    if filters.bands:
        keep &= ranked[BAND].astype(str).isin(filters.bands).to_numpy()
    for name, wanted in filters.segments().items():
        values = pd.Series([None if pd.isna(v) else str(v) for v in ranked[name]], index=ranked.index, dtype=object)
        known = sorted({v for v in values if v is not None})
        unknown = [w for w in wanted if w not in known]
        if unknown:
            raise ConfigError(f"{name} {', '.join(unknown)}: no scored user has it; known: {', '.join(known) or 'none'}")
        keep &= values.isin(wanted).to_numpy()
    chosen = ranked[keep]
    if filters.top is not None:
        chosen = chosen.head(filters.top)
    columns = [RANK, USER_ID, PROBABILITY, BAND, PERCENTILE, *REASONS, VALUE_AT_RISK, *SEGMENTS, TOP_CATEGORY]
    return _provenance(chosen[columns].reset_index(drop=True), scores, generated_at)


def coupon_list(
    scores: pd.DataFrame, policy: CouponPolicy, generated_at: dt.datetime, issued_at: dt.datetime | None = None
) -> pd.DataFrame:
    """The retention campaign (see :mod:`serving.crm.targeting`) with each user's reasons and segments.

    ``issued_at`` of every row: when the coupons go out (None: the day after the scores' as_of,
    :func:`~serving.crm.targeting.default_issued_at`), never ``generated_at``, the file's write time.
    """
    if len(scores):
        day = pd.Timestamp(scores[AS_OF].iloc[0]).date()
        issued_at = default_issued_at(day) if issued_at is None else check_issued_at(issued_at, day)
    targets = choose_targets(scores, policy, issued_at if issued_at is not None else generated_at)
    extra = scores[[USER_ID, BAND, *REASONS, *SEGMENTS, TOP_CATEGORY]]
    out = targets.merge(extra, on=USER_ID, how="left", validate="one_to_one")
    return _provenance(out, scores, generated_at)


def activation_list(scores: pd.DataFrame, policy: ActivationPolicy, generated_at: dt.datetime) -> pd.DataFrame:
    """New users to nudge towards a first order, most likely to activate first, with a seeded holdout.

    scores: the activation model's scores table. Columns: the data contract's
    ``coupons`` columns (control users: value 0), then ``rank``,
    ``probability`` (of a first order within the horizon), ``top_category``
    (most browsed in the last 30 days, for the message) and the segments.
    """
    ranked = _ranked(scores)
    if policy.top is not None:
        ranked = ranked.head(policy.top)
    rng = np.random.default_rng(policy.seed)
    control = rng.random(len(ranked)) < policy.control_share
    out = pd.DataFrame(
        {
            C.Coupons.COUPON_ID: [f"{policy.campaign_id}-{i + 1:06d}" for i in range(len(ranked))],
            C.Coupons.USER_ID: ranked[USER_ID].to_numpy(),
            C.Coupons.ISSUED_AT: pd.Timestamp(generated_at),
            C.Coupons.VALUE: np.where(control, 0.0, policy.coupon_value),
            C.Coupons.CAMPAIGN_ID: policy.campaign_id,
            C.Coupons.GROUP: np.where(control, C.GROUP_CONTROL, C.GROUP_TREATMENT),
            RANK: np.arange(1, len(ranked) + 1),
            PROBABILITY: ranked[PROBABILITY].to_numpy(),
            TOP_CATEGORY: ranked[TOP_CATEGORY].to_numpy(),
            **{name: ranked[name].to_numpy() for name in SEGMENTS},
        }
    )
    return _provenance(out, scores, generated_at)
