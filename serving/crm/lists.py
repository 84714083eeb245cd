"""The lists the CRM team acts on, built from published scores: at-risk, coupons, activation.

Pure functions over a scores table (``serving.batch.scoring.SCORE_COLUMNS``, as read
from the score store); they never modify it. Every list carries the model
name and version, the as-of date of the scores and the time it was generated
(``generated_at``), on every row, so a file on its own says where it came from.

* at-risk: users ranked by churn probability, filtered by band, segment and top N,
  with their reasons; with ``new_since`` (a previous scoring date), only the users
  who entered the high band since then and those who left it (``change``);
* coupons: :func:`serving.crm.targeting.choose_targets` (budget, callbacks, holdout)
  plus the user's reasons and segments, so a callback agent knows what to say;
* activation: new users ranked by the activation model with their most-browsed
  category, a seeded holdout, in the data contract's ``coupons`` columns.

Lists are for people: money is rounded to cents, probabilities to 3 decimals,
percentiles to 1 (:func:`readable`); the ranking is made before rounding.
A listed user the nightly job did not explain gets reasons through the
``explain`` argument (:meth:`serving.batch.contributions.ReasonsOnDemand.fill`).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Annotated

import numpy as np
import pandas as pd
from pydantic import AliasChoices, BaseModel, ConfigDict, Field, StringConstraints, field_validator

from features import contract as C
from features.catalog import AS_OF, USER_ID
from features.errors import ConfigError
from serving.batch.bands import BANDS, HIGH
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
from serving.crm.targeting import EXPECTED_VALUE, MAX_CAMPAIGN_ID, MAX_SEED, CouponPolicy, check_issued_at, choose_targets, default_issued_at

RANK = "rank"
GENERATED_AT = "generated_at"
PROVENANCE = (AS_OF, MODEL_NAME, MODEL_VERSION, GENERATED_AT)
LIST_KINDS = ("at-risk", "coupons", "activation")
CHANGE, PREVIOUS_BAND, PREVIOUS_PROBABILITY = "change", "previous_band", "previous_probability"
ENTERED, LEFT = "entered", "left"  # the high band, since the previous date
NOT_SCORED = "not scored"  # a user of the previous date absent from the current scores
MONEY = (VALUE_AT_RISK, C.Coupons.VALUE, EXPECTED_VALUE)
ROUNDING = {**{name: 2 for name in MONEY}, PROBABILITY: 3, PREVIOUS_PROBABILITY: 3, PERCENTILE: 1}
Explain = Callable[[pd.DataFrame], pd.DataFrame]  # rows with no reasons -> the same rows with their reasons


MAX_SEGMENT_VALUES = 50  # values per filter
MAX_TOP = 10**9
Segment = Annotated[str, StringConstraints(max_length=64)]


class ListFilter(BaseModel):
    """Which scored users an at-risk list shows. Empty tuples mean "any"; ``top``: at most this many."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    # "band" as the CLI's --band calls it, "bands" as the API always has
    bands: tuple[Segment, ...] = Field((), max_length=MAX_SEGMENT_VALUES, validation_alias=AliasChoices("bands", "band"))
    member_tier: tuple[Segment, ...] = Field((), max_length=MAX_SEGMENT_VALUES)
    city_tier: tuple[Segment, ...] = Field((), max_length=MAX_SEGMENT_VALUES)
    region: tuple[Segment, ...] = Field((), max_length=MAX_SEGMENT_VALUES)
    channel: tuple[Segment, ...] = Field((), max_length=MAX_SEGMENT_VALUES)
    top: int | None = Field(None, gt=0, le=MAX_TOP)
    new_since: dt.date | None = Field(None, description="only users who entered or left the high band since this scoring date")

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


def readable(frame: pd.DataFrame) -> pd.DataFrame:
    """``frame`` with money to cents, probabilities to 3 decimals, percentiles to 1 (the columns present)."""
    rounded = {name: frame[name].astype(float).round(digits) for name, digits in ROUNDING.items() if name in frame.columns}
    return frame.assign(**rounded)


def _explained(frame: pd.DataFrame, explain: Explain | None) -> pd.DataFrame:
    return frame if explain is None or not len(frame) else explain(frame)


def _ranked(scores: pd.DataFrame) -> pd.DataFrame:
    """Highest probability first; at equal probability, the most valuable user first, then by id."""
    return scores.sort_values([PROBABILITY, VALUE_AT_RISK, USER_ID], ascending=[False, False, True], kind="stable", ignore_index=True)


def at_risk_list(
    scores: pd.DataFrame,
    filters: ListFilter,
    generated_at: dt.datetime,
    *,
    previous: pd.DataFrame | None = None,
    explain: Explain | None = None,
) -> pd.DataFrame:
    """Scored users at risk, highest probability first, with ``rank`` (1 = highest risk among all scored users).

    At equal probability the user with more value at risk comes first.
    With ``filters.new_since``, ``previous`` are the scores of that date and the
    list holds only the users who entered the high band since then, then those
    who left it, each with ``change``, ``previous_band`` and ``previous_probability``
    (a user who left and is not scored now has band ``not scored``).
    explain: gives reasons to listed rows that have none (on-demand reasons).

    Raises ConfigError when a segment filter names a value no scored user has
    (a typo would otherwise give an empty list that looks like good news), or
    when ``new_since`` is given without its scores or with a band filter.
    """
    ranked = _ranked(scores)
    ranked.insert(0, RANK, np.arange(1, len(ranked) + 1))
    columns = [RANK, USER_ID, PROBABILITY, BAND, PERCENTILE, *REASONS, VALUE_AT_RISK, *SEGMENTS, TOP_CATEGORY]
    if filters.new_since is not None:
        if previous is None:
            raise ConfigError(f"new_since {filters.new_since}: the scores of that date are needed")
        if filters.bands:
            raise ConfigError("new_since lists the users who entered or left the high band: it takes no band filter")
        ranked = _changes(ranked, previous)
        columns = [CHANGE, *columns, PREVIOUS_BAND, PREVIOUS_PROBABILITY]
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
    chosen = _explained(chosen[columns].reset_index(drop=True), explain)
    return readable(_provenance(chosen, scores, generated_at))


def _changes(ranked: pd.DataFrame, previous: pd.DataFrame) -> pd.DataFrame:
    """The users of ``ranked`` who entered the high band since ``previous`` (in rank order), then those who left it
    (highest previous probability first)."""
    before = previous.set_index(previous[USER_ID].astype(str))
    was_high = before[BAND].astype(str) == HIGH
    keys = ranked[USER_ID].astype(str)
    was = before[BAND].astype(str).reindex(keys).to_numpy()
    is_high = ranked[BAND].astype(str).to_numpy() == HIGH
    entered = ranked[is_high & (was != HIGH)].assign(**{CHANGE: ENTERED})
    left_now = ranked[~is_high & (was == HIGH)].assign(**{CHANGE: LEFT})
    gone = before[was_high.to_numpy() & ~before.index.isin(keys)].reset_index(drop=True)
    gone = gone.assign(**{RANK: pd.NA, PROBABILITY: np.nan, BAND: NOT_SCORED, PERCENTILE: np.nan, CHANGE: LEFT,
                          **{name: None for name in REASONS}})[list(left_now.columns)]  # fmt: skip
    parts = [entered, left_now, gone]
    for i, part in enumerate(parts):
        ids = part[USER_ID].astype(str)
        parts[i] = part.assign(**{PREVIOUS_BAND: before[BAND].astype(str).reindex(ids).to_numpy(),
                                  PREVIOUS_PROBABILITY: before[PROBABILITY].astype(float).reindex(ids).to_numpy()})  # fmt: skip
    left = pd.concat([p for p in parts[1:] if len(p)] or [parts[1]], ignore_index=True)
    left = left.sort_values([PREVIOUS_PROBABILITY, USER_ID], ascending=[False, True], kind="stable")
    out = pd.concat([p for p in (parts[0], left) if len(p)] or [parts[0]], ignore_index=True)
    return out.assign(**{RANK: out[RANK].astype("Int64")})


def coupon_list(
    scores: pd.DataFrame,
    policy: CouponPolicy,
    generated_at: dt.datetime,
    issued_at: dt.datetime | None = None,
    *,
    explain: Explain | None = None,
) -> pd.DataFrame:
    """The retention campaign (see :mod:`serving.crm.targeting`) with each user's reasons and segments.

    ``issued_at`` of every row: when the coupons go out (None: the day after the scores' as_of,
    :func:`~serving.crm.targeting.default_issued_at`), never ``generated_at``, the file's write time.
    explain: gives reasons to listed rows that have none (on-demand reasons).
    """
    if len(scores):
        day = pd.Timestamp(scores[AS_OF].iloc[0]).date()
        issued_at = default_issued_at(day) if issued_at is None else check_issued_at(issued_at, day)
    targets = choose_targets(scores, policy, issued_at if issued_at is not None else generated_at)
    extra = scores[[USER_ID, BAND, *REASONS, *SEGMENTS, TOP_CATEGORY]]
    out = _explained(targets.merge(extra, on=USER_ID, how="left", validate="one_to_one"), explain)
    return readable(_provenance(out, scores, generated_at))


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
    return readable(_provenance(out, scores, generated_at))
