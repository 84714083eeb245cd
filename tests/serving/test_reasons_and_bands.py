"""Bands, percentiles and reasons in words, on hand-made rows."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from pydantic import ValidationError

from serving.bands import BandCutoffs, percentile, risk_band
from serving.reasons import reasons


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
