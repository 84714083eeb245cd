"""Whom to give a retention coupon, whom to call, and who is held out: a pure, tested policy.

Expected retained value of a coupon for a user = P(churn) x value at risk x save
rate - coupon value. Users worth more than ``callback_value`` get a
customer-service callback instead of a coupon, as many as the team can make
(``max_callbacks``, best expected value first; the others get coupons). The others are taken in order
of expected value (positive only) while the budget lasts. A seeded random
share of everyone chosen is held out as the control group, so the campaign's
real effect can be measured; control users receive nothing and cost nothing.
The list is written in the data contract's ``coupons`` columns plus its own,
so that once sent it joins back as campaign history. Its ``issued_at`` is the
moment the coupons go out (a campaign readout's horizon starts there), by default
the start of the day after the scores' ``as_of`` (:func:`default_issued_at`),
never the moment the file was written.
"""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
from pydantic import BaseModel, ConfigDict, Field

from features import contract as C
from features.errors import ConfigError
from serving.columns import PROBABILITY, VALUE_AT_RISK

ACTION = "action"
COUPON, CALLBACK = "coupon", "callback"
EXPECTED_VALUE = "expected_value"


MAX_CAMPAIGN_ID = 64  # characters; every coupon id carries it
MAX_SEED = 2**63 - 1


def default_issued_at(as_of: dt.date) -> dt.datetime:
    """When the coupons of scores as of the end of day ``as_of`` go out by default: 00:00 UTC the next day (naive UTC)."""
    return dt.datetime.combine(as_of + dt.timedelta(days=1), dt.time())


def check_issued_at(issued_at: dt.datetime, as_of: dt.date) -> dt.datetime:
    """``issued_at`` if the coupons go out after the scores' day ``as_of`` ended; ConfigError otherwise."""
    if issued_at < default_issued_at(as_of):
        raise ConfigError(
            f"issued_at {issued_at:%Y-%m-%d %H:%M}: before the end of the scores' as_of {as_of.isoformat()}; "
            f"coupons go out after the scores exist (default {default_issued_at(as_of):%Y-%m-%d %H:%M})"
        )
    return issued_at


class CouponPolicy(BaseModel):
    """The campaign's money and rules (every amount finite)."""

    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)

    campaign_id: str = Field(min_length=1, max_length=MAX_CAMPAIGN_ID)
    budget: float = Field(gt=0, description="total value of the coupons that may be issued")
    coupon_value: float = Field(gt=0)
    save_rate: float = Field(0.2, gt=0, le=1, description="share of would-be churners a coupon keeps")
    callback_value: float = Field(5000.0, gt=0, description="value at risk from which a user gets a callback instead")
    max_callbacks: int = Field(100, ge=0, description="callbacks the customer-service team can make; further high-value users get coupons")
    control_share: float = Field(0.1, ge=0, lt=1)
    seed: int = Field(0, ge=0, le=MAX_SEED)


def choose_targets(scores: pd.DataFrame, policy: CouponPolicy, issued_at: dt.datetime) -> pd.DataFrame:
    """The campaign list from ``scores`` (``user_id``, ``probability``, ``value_at_risk``: the scores table).

    Returns one row per chosen user, best first: ``coupon_id``, ``user_id``,
    ``issued_at``, ``value`` (0 for callbacks and control), ``campaign_id``,
    ``group`` (treatment/control), ``action`` (coupon/callback),
    ``expected_value``, ``probability``, ``value_at_risk``. The input is not modified.
    """
    frame = scores[[C.Coupons.USER_ID, PROBABILITY, VALUE_AT_RISK]].copy()
    frame[EXPECTED_VALUE] = frame[PROBABILITY] * frame[VALUE_AT_RISK] * policy.save_rate - policy.coupon_value
    frame = frame[frame[EXPECTED_VALUE] > 0].sort_values([EXPECTED_VALUE, C.Coupons.USER_ID], ascending=[False, True])
    wants_callback = (frame[VALUE_AT_RISK] >= policy.callback_value).to_numpy()
    # The best ``max_callbacks`` of them get a call (control users included, as for coupons); the rest a coupon.
    frame[ACTION] = np.where(wants_callback & (np.cumsum(wants_callback) <= policy.max_callbacks), CALLBACK, COUPON)
    rng = np.random.default_rng(policy.seed)
    held_out = rng.random(len(frame)) < policy.control_share
    capacity = int(policy.budget // policy.coupon_value)
    keep, groups = [], []
    issued = 0
    for is_control, action in zip(held_out, frame[ACTION], strict=True):
        if action == COUPON and issued == capacity:
            # Budget spent: coupon candidates from here on are neither treated nor held out,
            # so that the control group stays comparable with the treated users.
            keep.append(False)
            groups.append(None)
            continue
        if action == COUPON and not is_control:
            issued += 1
        keep.append(True)
        groups.append(C.GROUP_CONTROL if is_control else C.GROUP_TREATMENT)
    frame = frame.assign(**{C.Coupons.GROUP: groups})[np.array(keep, dtype=bool)].reset_index(drop=True)
    gets_coupon = (frame[ACTION] == COUPON) & (frame[C.Coupons.GROUP] == C.GROUP_TREATMENT)
    out = pd.DataFrame(
        {
            C.Coupons.COUPON_ID: [f"{policy.campaign_id}-{i + 1:06d}" for i in range(len(frame))],
            C.Coupons.USER_ID: frame[C.Coupons.USER_ID].to_numpy(),
            C.Coupons.ISSUED_AT: pd.Timestamp(issued_at),
            C.Coupons.VALUE: np.where(gets_coupon, policy.coupon_value, 0.0),
            C.Coupons.CAMPAIGN_ID: policy.campaign_id,
            C.Coupons.GROUP: frame[C.Coupons.GROUP].to_numpy(),
            ACTION: frame[ACTION].to_numpy(),
            EXPECTED_VALUE: frame[EXPECTED_VALUE].to_numpy(),
            PROBABILITY: frame[PROBABILITY].to_numpy(),
            VALUE_AT_RISK: frame[VALUE_AT_RISK].to_numpy(),
        }
    )
    return out
