"""The coupon policy on a hand-computed example."""

from __future__ import annotations

import datetime as dt

import pandas as pd
import pytest

from serving.crm.targeting import CouponPolicy, choose_targets

WHEN = dt.datetime(2025, 12, 1, 9, 0)


def _scores():
    # expected value = p x value x 0.5 - 10
    return pd.DataFrame(
        {
            "user_id": [1, 2, 3, 4, 5, 6],
            "probability": [0.9, 0.8, 0.5, 0.1, 0.6, 0.9],
            "value_at_risk": [100.0, 200.0, 30.0, 100.0, 9000.0, 60.0],
            # EV:          35.0    70.0    -2.5    -5.0    2690.0   17.0
        }
    )


def test_budget_order_callbacks_and_no_control():
    policy = CouponPolicy(campaign_id="winter", budget=25, coupon_value=10, save_rate=0.5, callback_value=5000, control_share=0)
    out = choose_targets(_scores(), policy, WHEN)
    # User 5 is worth a callback (no budget used); the budget buys two coupons: users 2 and 1 (best EV first);
    # user 6 (EV 17) does not fit; users 3 and 4 have a negative EV.
    assert out["user_id"].tolist() == [5, 2, 1]
    assert out["action"].tolist() == ["callback", "coupon", "coupon"]
    assert out["value"].tolist() == [0.0, 10.0, 10.0]
    assert out["expected_value"].tolist() == pytest.approx([2690.0, 70.0, 35.0])
    assert out["group"].tolist() == ["treatment"] * 3
    assert out["coupon_id"].tolist() == ["winter-000001", "winter-000002", "winter-000003"]
    assert list(out.columns[:6]) == ["coupon_id", "user_id", "issued_at", "value", "campaign_id", "group"]


def test_control_group_costs_nothing_and_is_seeded():
    scores = pd.DataFrame({"user_id": range(1, 2001), "probability": 0.9, "value_at_risk": 500.0})
    policy = CouponPolicy(campaign_id="c", budget=10_000, coupon_value=10, control_share=0.1, seed=7)
    out = choose_targets(scores, policy, WHEN)
    treated = out[out["group"] == "treatment"]
    control = out[out["group"] == "control"]
    assert len(treated) == 1000 and treated["value"].sum() == 10_000  # the budget, exactly
    assert (control["value"] == 0).all() and 0.07 < len(control) / len(out) < 0.13
    again = choose_targets(scores, policy, WHEN)
    pd.testing.assert_frame_equal(out, again)
    other = choose_targets(scores, policy.model_copy(update={"seed": 8}), WHEN)
    assert set(other.loc[other["group"] == "control", "user_id"]) != set(control["user_id"])


def test_callbacks_are_capped_by_the_team_capacity_and_the_rest_get_coupons():
    scores = pd.DataFrame({"user_id": [1, 2, 3, 4], "probability": 0.5, "value_at_risk": [6000.0, 9000.0, 7000.0, 100.0]})
    # EV = 0.5 x value x 0.5 - 10: 1490, 2240, 1740, 15
    policy = CouponPolicy(campaign_id="c", budget=100, coupon_value=10, save_rate=0.5, callback_value=5000, max_callbacks=2, control_share=0)
    out = choose_targets(scores, policy, WHEN)
    assert out["user_id"].tolist() == [2, 3, 1, 4]
    assert out["action"].tolist() == ["callback", "callback", "coupon", "coupon"]
    assert out["value"].tolist() == [0.0, 0.0, 10.0, 10.0]
