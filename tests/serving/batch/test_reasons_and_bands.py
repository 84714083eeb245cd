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


def test_reasons_in_words_strongest_first_one_per_group():
    features = pd.DataFrame(
        {
            "days_since_last_order": [46.2, 3.0],
            "order_gap_median": [12.0, np.nan],
            "order_overdue": [3.85, np.nan],
            "login_trend_30_60": [0.3, 1.5],
            "complaints_30d": [2, 0],
            "main_category": pd.Categorical(["apparel", "digital"]),
        }
    )
    contributions = pd.DataFrame(
        {
            "days_since_last_order": [0.9, -0.5],
            "order_gap_median": [0.0, 0.0],
            "order_overdue": [1.1, -0.2],  # same group as days since last order: said once
            "login_trend_30_60": [0.7, 0.4],
            "complaints_30d": [0.2, -0.1],
            "main_category": [0.05, 0.3],
            "baseline": [0.1, 0.1],
        }
    )
    said = reasons(contributions, features)
    assert said[0] == [
        "46 days since last order; usual gap 12 days",
        "logins down 70 % vs the previous two months",
        "2 complaints in the last 30 days",
    ]
    # Only features that raise the risk are reasons; unknown templates use the catalogue description.
    assert said[1] == ["logins up 50 % vs the previous two months", "most bought category (ties: alphabetical): digital"]


@pytest.mark.parametrize(
    ("feature", "value", "said"),
    [
        ("days_since_last_complaint", 1.29, "last complaint 1 day ago"),
        ("days_since_last_complaint", 0.2, "last complaint today"),
        ("days_signup_to_first_order", 0.0963, "first order on the day of signing up"),
        ("days_signup_to_first_order", 12.4, "first order 12 days after signing up"),
        ("sessions_30d", 55, "55 sessions in the last 30 days"),
        ("logins_7d", 0, "no logins in the last 7 days"),
        ("orders_all", 1, "1 purchase ever"),
        ("browse_seconds_90d", 0.0, "no browsing in the last 90 days"),
        ("browse_seconds_7d", 185.0, "3 minutes browsing in the last 7 days"),
        ("days_since_signup", 88.7, "signed up 89 days ago"),
        ("login_gap_std_90d", 1.04, "irregular logins (gaps vary by 1 day)"),
        ("categories_all", 3, "buys in 3 categories"),
        ("coupon_redemption_rate", 0.25, "25 % of coupons redeemed"),
        ("spend_90d", 1234.5, "spent in the last 90 days: 1,234"),
        ("mean_rating", 2.25, "mean rating 2.2 of 5"),
        ("active_days_30d", 1, "active on 1 day in the last 30 days"),
    ],
)
def test_each_reason_reads_as_a_sentence(feature, value, said):
    features = pd.DataFrame({feature: [value], "days_since_last_order": [1.0]})
    contributions = pd.DataFrame({feature: [0.5], "days_since_last_order": [-0.1], "baseline": [0.0]})
    assert reasons(contributions, features) == [[said]]


def test_days_since_last_order_with_a_usual_gap_of_one_day():
    features = pd.DataFrame({"days_since_last_order": [1.2], "order_gap_median": [1.0]})
    contributions = pd.DataFrame({"days_since_last_order": [0.4], "order_gap_median": [0.0]})
    assert reasons(contributions, features) == [["1 day since last order; usual gap 1 day"]]
