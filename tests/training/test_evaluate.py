"""The comparison with reference probabilities, on hand-made rows."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
import pytest

from training.evaluate import customer_segments, truth_metrics

DAY = dt.date(2025, 8, 31)
VALID = pd.DataFrame({"user_id": [1, 2, 3, 4], "as_of": [DAY] * 4, "label": [0, 1, 0, 1]})
P = np.array([0.1, 0.3, 0.35, 0.8])  # ranks one positive below a negative: ROC-AUC 0.75


def test_model_against_a_perfect_reference():
    asked = []

    def reference(day):
        asked.append(day)
        return pd.DataFrame({"user_id": [4, 3, 2, 1], "p_churn": [0.9, 0.2, 0.7, 0.1]})

    got = truth_metrics(VALID, P, reference)
    assert asked == [DAY]
    assert got["truth_roc_auc"] == 1.0 and got["model_roc_auc"] == 0.75
    assert got["auc_ratio_to_truth"] == pytest.approx(0.75)


def test_no_reference_no_comparison():
    assert truth_metrics(VALID, P, None) == {}
    assert truth_metrics(VALID, P, lambda day: None) == {}
    # A reference that misses a user of the validation snapshot is not compared.
    partial = pd.DataFrame({"user_id": [1, 2, 3], "p_churn": [0.1, 0.7, 0.2]})
    assert truth_metrics(VALID, P, lambda day: partial) == {}


def test_customer_segments():
    frame = pd.DataFrame({"member_tier": ["gold", "basic", "basic"], "days_since_first_order": [10.0, 400.0, np.nan]})
    got = customer_segments(frame)
    assert list(got) == ["member_tier", "customer"]
    assert list(got["customer"]) == ["new", "long-standing", "no purchase"]
