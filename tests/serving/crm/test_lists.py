"""The CRM lists on a hand-made scores table: ranking, filters, provenance, holdout, no changes to the scores."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
import pytest
from pydantic import ValidationError

from features.errors import ConfigError
from serving.columns import SCORE_COLUMNS
from serving.crm.lists import ActivationPolicy, ListFilter, activation_list, at_risk_list, coupon_list
from serving.crm.targeting import CouponPolicy

WHEN = dt.datetime(2025, 10, 1, 8, 30)
DAY = dt.date(2025, 9, 30)


def _scores(model: str = "churn") -> pd.DataFrame:
    rows = [
        # user, p, band, value, tier, city, region, channel, category
        ("u1", 0.95, "high", 300.0, "gold", "1", "east", "app", "books"),
        ("u2", 0.70, "high", 9000.0, "gold", "2", "west", "web", "phones"),
        ("u3", 0.45, "medium", 120.0, "silver", "1", "east", "app", "books"),
        ("u4", 0.20, "low", 80.0, None, "3", "east", "web", None),
        ("u5", 0.70, "high", 50.0, "silver", "1", "north", "app", "toys"),
    ]
    frame = pd.DataFrame(rows, columns=["user_id", "probability", "risk_band", "value_at_risk", "member_tier", "city_tier", "region", "channel", "top_category"])
    return frame.assign(
        as_of=DAY,
        percentile=[100.0, 80.0, 40.0, 20.0, 80.0],
        reason_1=[f"reason of {u}" for u in frame["user_id"]],
        reason_2=None,
        reason_3=None,
        model_name=model,
        model_version="7",
        scored_at=pd.Timestamp("2025-10-01 02:00"),
    )[list(SCORE_COLUMNS)]


def test_at_risk_ranks_by_probability_then_user_and_keeps_the_global_rank_after_filters():
    scores = _scores()
    everyone = at_risk_list(scores, ListFilter(), WHEN)
    assert everyone["user_id"].tolist() == ["u1", "u2", "u5", "u3", "u4"]  # u2 and u5 tie: more value first
    swapped = scores.assign(value_at_risk=scores["value_at_risk"].where(scores["user_id"] != "u5", 99999.0))
    assert at_risk_list(swapped, ListFilter(top=3), WHEN)["user_id"].tolist() == ["u1", "u5", "u2"]
    assert everyone["rank"].tolist() == [1, 2, 3, 4, 5]
    east_app = at_risk_list(scores, ListFilter(region=("east",), channel=("app",)), WHEN)
    assert east_app["user_id"].tolist() == ["u1", "u3"] and east_app["rank"].tolist() == [1, 4]
    high_top1 = at_risk_list(scores, ListFilter(bands=("high",), member_tier=("silver",), top=1), WHEN)
    assert high_top1["user_id"].tolist() == ["u5"]
    city = at_risk_list(scores, ListFilter(city_tier=("1", "3")), WHEN)
    assert city["user_id"].tolist() == ["u1", "u5", "u3", "u4"]


def test_every_list_row_says_where_it_came_from():
    out = at_risk_list(_scores(), ListFilter(top=2), WHEN)
    assert (out["model_name"] == "churn").all() and (out["model_version"] == "7").all()
    assert (out["as_of"] == DAY).all() and (out["generated_at"] == pd.Timestamp(WHEN)).all()
    assert out["reason_1"].tolist() == ["reason of u1", "reason of u2"]


def test_bad_filters_are_named_with_the_allowed_values():
    with pytest.raises(ValidationError, match="unknown band 'severe'; allowed: low, medium, high"):
        ListFilter(bands=("severe",))
    with pytest.raises(ConfigError, match="region south: no scored user has it; known: east, north, west"):
        at_risk_list(_scores(), ListFilter(region=("south",)), WHEN)


def test_lists_do_not_change_the_scores():
    scores = _scores()
    before = scores.copy()
    at_risk_list(scores, ListFilter(bands=("high",)), WHEN)
    coupon_list(scores, CouponPolicy(campaign_id="c", budget=100, coupon_value=10, control_share=0.5), WHEN)
    activation_list(_scores("activation"), ActivationPolicy(campaign_id="a"), WHEN)
    pd.testing.assert_frame_equal(scores, before)


def test_coupon_list_adds_reasons_and_segments_to_the_policy_choice():
    # EV = p x value x 0.2 - 10: u1 47, u2 1250 (callback: value 9000), u3 0.8, u4 -6.8, u5 -3
    policy = CouponPolicy(campaign_id="autumn", budget=20, coupon_value=10, control_share=0)
    out = coupon_list(_scores(), policy, WHEN)
    assert out["user_id"].tolist() == ["u2", "u1", "u3"]
    assert out["action"].tolist() == ["callback", "coupon", "coupon"]
    assert out["value"].tolist() == [0.0, 10.0, 10.0]
    assert out["reason_1"].tolist() == ["reason of u2", "reason of u1", "reason of u3"]
    assert out["region"].tolist() == ["west", "east", "east"]
    # The coupons go out the day after the scores' as_of (2025-09-30), not when the file was written (WHEN).
    assert (out["issued_at"] == pd.Timestamp("2025-10-01 00:00")).all() and (out["generated_at"] == pd.Timestamp(WHEN)).all()
    assert (out["model_version"] == "7").all()
    assert list(out.columns[:6]) == ["coupon_id", "user_id", "issued_at", "value", "campaign_id", "group"]


def test_coupon_list_issued_at_is_when_the_coupons_go_out():
    policy = CouponPolicy(campaign_id="autumn", budget=20, coupon_value=10, control_share=0)
    later = dt.datetime(2025, 10, 3, 9, 0)
    assert (coupon_list(_scores(), policy, WHEN, later)["issued_at"] == pd.Timestamp(later)).all()
    with pytest.raises(ConfigError, match=r"issued_at 2025-09-30 12:00: before the end of the scores' as_of 2025-09-30"):
        coupon_list(_scores(), policy, WHEN, dt.datetime(2025, 9, 30, 12, 0))


def test_activation_list_ranks_new_users_holds_out_a_seeded_control_and_keeps_their_category():
    scores = _scores("activation")
    out = activation_list(scores, ActivationPolicy(campaign_id="welcome", coupon_value=5, control_share=0), WHEN)
    assert out["user_id"].tolist() == ["u1", "u2", "u5", "u3", "u4"]
    assert out["top_category"].tolist()[:4] == ["books", "phones", "toys", "books"] and pd.isna(out["top_category"].iloc[4])
    assert out["coupon_id"].tolist()[:2] == ["welcome-000001", "welcome-000002"]
    assert (out["value"] == 5.0).all() and (out["group"] == "treatment").all()
    assert list(out.columns[:6]) == ["coupon_id", "user_id", "issued_at", "value", "campaign_id", "group"]
    top2 = activation_list(scores, ActivationPolicy(campaign_id="welcome", top=2), WHEN)
    assert top2["user_id"].tolist() == ["u1", "u2"] and (top2["value"] == 0.0).all()  # a message only


def test_activation_holdout_is_seeded_and_costs_nothing():
    n = 4000
    many = pd.concat([_scores("activation")] * (n // 5), ignore_index=True)
    many["user_id"] = [f"n{i}" for i in range(len(many))]
    many["probability"] = np.linspace(0.9, 0.1, len(many))
    policy = ActivationPolicy(campaign_id="w", coupon_value=5, control_share=0.1, seed=3)
    a, b = activation_list(many, policy, WHEN), activation_list(many, policy, WHEN)
    pd.testing.assert_frame_equal(a, b)
    control = a[a["group"] == "control"]
    assert 0.08 < len(control) / n < 0.12 and (control["value"] == 0).all()
    other = activation_list(many, policy.model_copy(update={"seed": 4}), WHEN)
    assert set(other.loc[other["group"] == "control", "user_id"]) != set(control["user_id"])


def test_lists_read_cleanly_rounded_money_probabilities_percentiles():
    scores = _scores().assign(value_at_risk=[190768.34999999998, 9000.0, 120.004, 80.0, 50.0],
                              probability=[0.95123456, 0.7, 0.45, 0.2, 0.7], percentile=[100.0, 80.04, 40.0, 20.0, 80.04])  # fmt: skip
    out = at_risk_list(scores, ListFilter(), WHEN)
    assert out["value_at_risk"].tolist()[:1] == [190768.35] and out["probability"].iloc[0] == 0.951
    assert out["percentile"].tolist() == [100.0, 80.0, 80.0, 40.0, 20.0]
    assert "190768.35," in out.to_csv(index=False)


def test_new_since_lists_who_entered_and_who_left_the_high_band():
    now = _scores()  # high: u1, u2, u5
    before = _scores().assign(
        as_of=dt.date(2025, 9, 29),
        risk_band=["high", "medium", "high", "high", "low"],  # u1 stays high, u2 and u5 entered, u3 and u4 left
        probability=[0.9, 0.5, 0.61, 0.8, 0.1],
    )
    gone = before.iloc[[0]].assign(user_id="u9", probability=0.99, risk_band="high")  # high then, not scored now
    previous = pd.concat([before, gone], ignore_index=True)
    out = at_risk_list(now, ListFilter(new_since=dt.date(2025, 9, 29)), WHEN, previous=previous)
    assert out["user_id"].tolist() == ["u2", "u5", "u9", "u4", "u3"]
    assert out["change"].tolist() == ["entered", "entered", "left", "left", "left"]
    assert out["previous_band"].tolist() == ["medium", "low", "high", "high", "high"]
    assert out["risk_band"].tolist() == ["high", "high", "not scored", "low", "medium"]
    assert out["rank"].tolist()[:2] == [2, 3] and pd.isna(out["rank"].iloc[2])
    east = at_risk_list(now, ListFilter(new_since=dt.date(2025, 9, 29), region=("east",)), WHEN, previous=previous)
    assert east["user_id"].tolist() == ["u9", "u4", "u3"]  # u9's region then: east
    with pytest.raises(ConfigError, match="no band filter"):
        at_risk_list(now, ListFilter(new_since=dt.date(2025, 9, 29), bands=("high",)), WHEN, previous=previous)
    with pytest.raises(ConfigError, match="scores of that date"):
        at_risk_list(now, ListFilter(new_since=dt.date(2025, 9, 29)), WHEN)


def test_listed_users_without_reasons_get_them_from_explain():
    scores = _scores().assign(reason_1=[None, "kept", None, None, None])
    seen = []

    def explain(frame):
        seen.append(frame["user_id"].tolist())
        return frame.assign(reason_1=[r if isinstance(r, str) else f"on demand {u}" for u, r in zip(frame["user_id"], frame["reason_1"])])

    out = at_risk_list(scores, ListFilter(top=2), WHEN, explain=explain)
    assert out["reason_1"].tolist() == ["on demand u1", "kept"] and seen == [["u1", "u2"]]  # only the listed rows
    coupons = coupon_list(scores, CouponPolicy(campaign_id="c", budget=100, coupon_value=5, control_share=0), WHEN, explain=explain)
    assert coupons["reason_1"].notna().all()
