"""The promotion gate says no to a challenger failing any one check, and says why."""

from __future__ import annotations

import numpy as np
import pytest

from training.gate import GateConfig, absolute_checks, decide, quality_grade

GOOD = dict(
    backtest_means={"model": 0.74, "recency": 0.66, "logistic": 0.72, "bg/nbd": 0.70},
    model="model",
    ece=0.012,
    validation_rows=5000,
    validation_positives=1800,
    validation_negatives=3200,
    auc_before_calibration=0.7410,
    auc_after_calibration=0.7405,
)


def test_a_challenger_passing_every_check_is_promoted():
    checks = absolute_checks(GateConfig(), **GOOD)
    assert all(c.passed for c in checks) and len(checks) == 7
    first = decide(checks, challenger=0.74, champion=None, champion_version=None, metric="roc_auc")
    assert first.promoted and "no champion yet" in first.reason
    better = decide(checks, challenger=0.74, champion=0.73, champion_version="3", metric="roc_auc")
    assert better.promoted and "beats champion v3" in better.reason


@pytest.mark.parametrize(
    ("change", "failing", "words"),
    [
        ({"backtest_means": {**GOOD["backtest_means"], "bg/nbd": 0.75}}, "beats bg/nbd", "0.7400 <= bg/nbd 0.7500"),
        ({"ece": 0.031}, "calibrated", "0.0310 > 0.020"),
        ({"validation_rows": 266}, "enough validation users", "266 users (at least 1,000)"),
        ({"validation_positives": 40}, "both outcomes seen", "40 positive"),
        ({"auc_after_calibration": 0.7370}, "calibration keeps the ranking", "drop 0.0040"),
    ],
)
def test_each_failing_check_alone_stops_the_promotion_and_is_named(change, failing, words):
    checks = absolute_checks(GateConfig(), **{**GOOD, **change})
    assert [c.name for c in checks if not c.passed] == [failing]
    decision = decide(checks, challenger=0.74, champion=None, champion_version=None, metric="roc_auc")
    assert not decision.promoted
    assert decision.reason.startswith(f"not promoted: {failing} failed") and words in decision.reason
    assert [c.name for c in decision.failed] == [failing]


def test_a_challenger_that_does_not_beat_the_champion_is_not_promoted():
    checks = absolute_checks(GateConfig(), **GOOD)
    decision = decide(checks, challenger=0.74, champion=0.74, champion_version="5", metric="roc_auc")
    assert not decision.promoted and "beats champion v5 failed (roc_auc 0.7400 <= 0.7400" in decision.reason


def test_quality_grade_is_the_accuracy_ratio_in_words():
    assert quality_grade(0.5) == (0.0, "poor")
    assert quality_grade(0.45) == (0.0, "poor")
    assert quality_grade(0.62) == pytest.approx((24.0, "fair"))
    assert quality_grade(0.75) == (50.0, "good")
    assert quality_grade(0.85) == pytest.approx((70.0, "excellent"))
    assert quality_grade(1.0) == (100.0, "excellent")
    assert quality_grade(float("nan"))[1] == "unknown"


def test_the_calibration_target_is_the_noise_floor_when_few_users_make_it_higher():
    from training.metrics import ece_noise_floor

    p = np.full(100, 0.3)
    floor = ece_noise_floor(p)
    # one bin of 100 users at 0.3: sqrt(2/pi) * sqrt(100 * 0.21) / 100 = 0.0366
    assert floor == pytest.approx(np.sqrt(2 / np.pi) * np.sqrt(100 * 0.21) / 100)
    assert ece_noise_floor(np.full(10_000, 0.3)) == pytest.approx(floor / 10)
    kept = absolute_checks(GateConfig(), **{**GOOD, "ece": 0.03, "ece_floor": floor})
    assert [c.name for c in kept if not c.passed] == []
    assert "noise floor" in next(c.detail for c in kept if c.name == "calibrated")
    refused = absolute_checks(GateConfig(), **{**GOOD, "ece": 0.03})
    assert [c.name for c in refused if not c.passed] == ["calibrated"]
