"""Metrics against hand-computed values."""

from __future__ import annotations

import numpy as np
import pytest

from training.metrics import binary_metrics, calibration_table, expected_calibration_error, gain_curve, segment_metrics, top_share


def test_expected_calibration_error_by_hand():
    # Bin 0.1-0.2: p = 0.1, 0.1 with y = 0, 1 -> |0.5 - 0.1| = 0.4, weight 2
    # Bin 0.9-1.0: p = 0.9, 0.9, 0.9 with y = 1, 1, 1 -> |1 - 0.9| = 0.1, weight 3
    y = np.array([0, 1, 1, 1, 1])
    p = np.array([0.1, 0.1, 0.9, 0.9, 0.9])
    assert expected_calibration_error(y, p) == pytest.approx((2 * 0.4 + 3 * 0.1) / 5)
    assert expected_calibration_error(np.array([0, 1]), np.array([0.0, 1.0])) == 0.0


def test_top_share_lift_and_capture_by_hand():
    # 10 users, 2 positives; top 20 % = the 2 highest scores: one positive.
    y = np.array([1, 0, 0, 0, 0, 0, 0, 0, 0, 1])
    score = np.array([0.9, 0.8, 0.1, 0.1, 0.1, 0.1, 0.1, 0.1, 0.1, 0.05])
    lift, capture = top_share(y, score, 0.2)
    assert lift == pytest.approx(0.5 / 0.2)  # top rate 1/2 over base rate 2/10
    assert capture == pytest.approx(0.5)


def test_binary_metrics_perfect_and_random():
    y = np.array([0, 0, 1, 1])
    perfect = binary_metrics(y, np.array([0.0, 0.0, 1.0, 1.0]))
    assert perfect["roc_auc"] == 1.0 and perfect["brier"] == 0.0 and perfect["capture_top20"] == 0.5
    flat = binary_metrics(y, np.full(4, 0.5))
    assert flat["roc_auc"] == 0.5 and flat["brier"] == pytest.approx(0.25) and flat["ece"] == 0.0
    ranking_only = binary_metrics(y, np.array([3.0, 1.0, 7.0, 9.0]), probabilities=False)
    assert ranking_only["roc_auc"] == 1.0 and "log_loss" not in ranking_only


def test_segments_skip_small_groups():
    y = np.array([0, 1] * 60)
    p = np.linspace(0, 1, 120)
    seg = segment_metrics(y, p, {"tier": np.array(["a"] * 100 + ["b"] * 20)}, min_rows=50)
    assert list(seg) == ["tier=a"] and seg["tier=a"]["n"] == 100


def test_calibration_table_and_gain_curve():
    y = np.array([0, 1, 1, 1])
    p = np.array([0.05, 0.05, 0.95, 0.95])
    table = calibration_table(y, p)
    assert table["observed"].tolist() == [0.5, 1.0] and table["n"].tolist() == [2, 2]
    gain = gain_curve(y, p)
    assert gain["captured"].iloc[-1] == 1.0 and gain["share"].iloc[-1] == 1.0
