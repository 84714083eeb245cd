"""Reading a simulated dataset's ground truth: the churn probabilities of one date, and the training day."""

from __future__ import annotations

import datetime as dt
import json

import pandas as pd
import pytest

from features.errors import ConfigError
from features.simulator.ground_truth import churn_truth, training_day


def _truth(folder, rows):
    (folder / "truth").mkdir(parents=True)
    frame = pd.DataFrame(rows, columns=["user_id", "as_of", "p_churn"])
    frame["as_of"] = pd.to_datetime(frame["as_of"]).dt.date
    frame.to_parquet(folder / "truth" / "churn.parquet", index=False)


def test_churn_truth_of_one_date(tmp_path):
    _truth(tmp_path, [(1, "2025-06-30", 0.25), (2, "2025-06-30", 0.75), (1, "2025-07-31", 0.5)])
    got = churn_truth(tmp_path, dt.date(2025, 6, 30))
    pd.testing.assert_frame_equal(got, pd.DataFrame({"user_id": [1, 2], "p_churn": [0.25, 0.75]}))
    assert churn_truth(tmp_path, dt.date(2025, 7, 31))["p_churn"].tolist() == [0.5]


def test_no_truth_for_that_date_horizon_or_folder(tmp_path):
    _truth(tmp_path, [(1, "2025-06-30", 0.25)])
    assert churn_truth(tmp_path, dt.date(2025, 6, 29)) is None  # not a date the simulator scored
    assert churn_truth(tmp_path, dt.date(2025, 6, 30), horizon_days=14) is None  # truth is for 30 days only
    assert churn_truth(tmp_path / "real-data", dt.date(2025, 6, 30)) is None


def test_training_day(tmp_path):
    (tmp_path / "simulation.json").write_text(json.dumps({"truth_dates": ["2025-06-30", "2025-07-31"]}))
    assert training_day(tmp_path) == dt.date(2025, 8, 30)
    assert training_day(tmp_path, horizon_days=14) == dt.date(2025, 8, 14)
    with pytest.raises(ConfigError, match="no simulation manifest with truth_dates; give the training date explicitly"):
        training_day(tmp_path / "elsewhere")
