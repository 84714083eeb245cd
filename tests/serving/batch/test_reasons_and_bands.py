"""Bands, percentiles and reasons in words, on hand-made rows."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from pydantic import ValidationError

from serving.batch.bands import BandCutoffs, percentile, risk_band
from serving.batch.reasons import reasons


def test_bands_at_their_edges():
    p = np.array([0.0, 0.2999, 0.3, 0.5999, 0.6, 1.0])
    assert list(risk_band(p)) == ["low", "low", "medium", "medium", "high", "high"]
    assert list(risk_band(p, BandCutoffs(medium=0.5, high=0.9))) == ["low", "low", "low", "medium", "medium", "high"]
    with pytest.raises(ValidationError, match="must increase"):
        BandCutoffs(medium=0.7, high=0.6)


def test_percentiles():
    assert percentile([0.1, 0.9, 0.5, 0.5]).tolist() == [25.0, 100.0, 75.0, 75.0]


def test_reasons_in_words_strongest_first_one_per_theme():
    features = pd.DataFrame(
        {
            "days_since_last_order": [46.2, 3.0],
            "order_gap_median": [12.0, np.nan],
            "order_overdue": [3.85, np.nan],
            "days_since_last_event": [20.0, 1.0],
            "login_trend_30_60": [0.3, 1.5],
            "complaints_30d": [2, 0],
            "main_category": pd.Categorical(["apparel", "digital"]),
        }
    )
    contributions = pd.DataFrame(
        {
            "days_since_last_order": [0.9, -0.5],
            "order_gap_median": [0.0, 0.0],
            "order_overdue": [1.1, -0.2],  # same theme as days since last order: said once
            "days_since_last_event": [0.1, -0.4],
            "login_trend_30_60": [0.7, 0.4],
            "complaints_30d": [0.2, -0.1],
            "main_category": [0.05, 0.3],  # no template: never said
            "baseline": [0.1, 0.1],
        }
    )
    said = reasons(contributions, features, risk=np.array([True, False]))
    assert said[0] == [
        "no order for about 7 weeks (usually orders every 12 days)",
        "logins down 70 % compared with the previous two months",
        "2 complaints in the last month",
    ]
    # A low score: what holds the risk down, worded as what keeps the user; rising features are not said.
    assert said[1] == ["ordered 3 days ago", "visited yesterday"]


def test_order_and_visit_recency_that_say_the_same_are_one_reason():
    features = pd.DataFrame({"days_since_last_order": [41.0], "days_since_last_event": [40.0], "order_gap_median": [np.nan],
                             "logins_30d": [0], "spend_30d": [0.0]})  # fmt: skip
    contributions = pd.DataFrame({"days_since_last_event": [0.9], "days_since_last_order": [0.8], "logins_30d": [0.5], "spend_30d": [0.1]})
    # the joint reason speaks for orders and activity: the logins (activity) are not said again
    assert reasons(contributions, features) == [["no order or visit for about 6 weeks", "no spend in the last month"]]


def test_risk_words_only_when_the_value_reads_as_a_risk():
    # A 0.998 user whose most rising feature is a recent order: that is not said as a reason.
    features = pd.DataFrame({"days_since_last_order": [0.0], "logins_30d": [22], "complaints_30d": [1]})
    contributions = pd.DataFrame({"days_since_last_order": [2.0], "logins_30d": [1.0], "complaints_30d": [0.5]})
    assert reasons(contributions, features, risk=True) == [["1 complaint in the last month"]]
    # for a low-risk user the same values hold the risk down, said as what keeps them (complaints never do)
    assert reasons(-contributions, features, risk=False) == [["ordered today", "22 logins in the last month"]]


@pytest.mark.parametrize(
    ("feature", "value", "risk", "said"),
    [
        ("days_since_last_complaint", 1.29, True, "complained yesterday"),
        ("days_since_last_complaint", 0.2, True, "complained today"),
        ("days_signup_to_first_order", 41.0, True, "took about 6 weeks to place a first order"),
        ("sessions_30d", 55, False, "55 visits in the last month"),
        ("sessions_30d", 1, True, "only 1 visit in the last month"),
        ("logins_7d", 0, True, "no logins in the last week"),
        ("orders_all", 1, True, "only one purchase so far"),
        ("browse_seconds_90d", 0.0, True, "no browsing in the last 3 months"),
        ("browse_seconds_7d", 185.0, False, "3 minutes of browsing in the last week"),
        ("browse_seconds_7d", 70.0, False, "1 minute of browsing in the last week"),
        ("browse_seconds_7d", 20.0, True, "under a minute of browsing in the last week"),
        ("days_since_signup", 800.0, False, "customer for about 2 years"),
        ("days_since_signup", 20.0, True, "new customer, signed up about 3 weeks ago"),
        ("categories_all", 3, False, "buys in 3 categories"),
        ("coupon_redemption_rate", 0.75, False, "uses 75 % of the coupons it gets"),
        ("spend_90d", 1234.5, False, "spent 1,234 in the last 3 months"),
        ("spend_trend_30_60", 160.0, False, "spend jumped compared with the previous two months"),
        ("spend_trend_30_60", 3.2, False, "spend 3x the previous two months"),
        ("spend_trend_30_60", 0.0, True, "spend stopped (some in the previous two months, none since)"),
        ("mean_rating", 2.25, True, "rates purchases 2.2 of 5 on average"),
        ("active_days_30d", 12, False, "active on 12 days in the last month"),
        ("carts_7d", 0, True, "no items added to the cart in the last week"),
        ("carts_30d", 3, False, "3 items added to the cart in the last month"),
        ("bgnbd_p_alive", 0.2, True, "buying pattern suggests they may have stopped buying"),
        ("bgnbd_expected_purchases", 2.0, False, "likely to order again soon at their usual pace"),
        ("member_tier", "gold", False, "gold member"),
    ],
)
def test_each_reason_reads_as_a_sentence(feature, value, risk, said):
    features = pd.DataFrame({feature: [value], "days_since_last_order": [30.0]})
    contributions = pd.DataFrame({feature: [0.5 if risk else -0.5], "days_since_last_order": [-0.1 if risk else 0.1], "baseline": [0.0]})
    assert reasons(contributions, features, risk=risk) == [[said]]


def test_features_without_a_template_are_never_said():
    features = pd.DataFrame({"not_in_the_catalogue": [3.0], "top_browsed_category_30d": pd.Categorical(["digital"]), "region": ["north"]})
    contributions = pd.DataFrame({"not_in_the_catalogue": [0.9], "top_browsed_category_30d": [0.8], "region": [0.7]})
    assert reasons(contributions, features) == [[]]


def test_numbers_as_a_person_says_them():
    from serving.batch.themes import duration, minutes

    assert [duration(d) for d in (0.4, 1, 6.6, 13.4, 41, 59, 100, 364, 400, 800)] == [
        "less than a day", "1 day", "7 days", "13 days", "about 6 weeks", "about 8 weeks", "about 3 months",
        "about 12 months", "about a year", "about 2 years",
    ]  # fmt: skip
    assert [minutes(s) for s in (59, 60, 185, 7300)] == ["under a minute", "1 minute", "3 minutes", "about 2 hours"]
