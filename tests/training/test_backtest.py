"""Rolling-origin folds by hand; every candidate trained only on what was known at each date."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
import pytest

from features.catalog import AS_OF, LABEL
from features.errors import ConfigError
from training.backtest import Candidate, make_folds, run_backtest, summarize, wins

D = dt.date
DATES = [D(2025, 1, 1), D(2025, 1, 31), D(2025, 3, 2), D(2025, 4, 1), D(2025, 5, 1), D(2025, 5, 31)]


def test_folds_validate_on_the_last_dates_and_train_on_closed_label_windows():
    folds = make_folds(DATES, horizon_days=30, folds=4)
    assert [f.validation_date for f in folds] == DATES[2:]
    assert [f.train_dates for f in folds] == [tuple(DATES[:2]), tuple(DATES[:3]), tuple(DATES[:4]), tuple(DATES[:5])]
    # A 45-day horizon: the snapshot 30 days before a validation date has not seen its label yet.
    longer = make_folds(DATES, horizon_days=45, folds=3)
    assert [f.train_dates for f in longer] == [tuple(DATES[:2]), tuple(DATES[:3]), tuple(DATES[:4])]
    assert all(max(f.train_dates) + dt.timedelta(days=45) <= f.validation_date for f in longer)


def test_too_few_snapshots_for_the_folds_is_a_clear_error():
    with pytest.raises(ConfigError, match="a backtest of 5 dates needs 7 snapshots at least 30 days apart; got 6"):
        make_folds(DATES, horizon_days=30, folds=5)


@pytest.fixture(scope="module")
def frame() -> pd.DataFrame:
    rng = np.random.default_rng(0)
    parts = []
    for date in DATES:
        x = rng.normal(0.0, 1.0, 2000)
        p = 1.0 / (1.0 + np.exp(-2.0 * x))
        parts.append(pd.DataFrame({AS_OF: date, "x": x, "p": p, LABEL: (rng.random(2000) < p).astype("int8")}))
    return pd.concat(parts, ignore_index=True)


def test_each_candidate_is_fitted_on_its_folds_training_dates_and_scored_on_the_same_rows(frame):
    seen: dict[str, list] = {"oracle": [], "noise": []}
    scored: dict[str, list] = {"oracle": [], "noise": []}

    def fitter(name, score):
        def fit(train):
            seen[name].append(tuple(sorted(train[AS_OF].unique())))

            def scorer(valid):
                scored[name].append((valid[AS_OF].unique().tolist(), len(valid)))
                return score(valid)

            return scorer

        return fit

    rng = np.random.default_rng(1)
    candidates = [
        Candidate("oracle", fitter("oracle", lambda v: v["p"].to_numpy())),
        Candidate("noise", fitter("noise", lambda v: rng.random(len(v))), probabilities=False),
    ]
    folds = make_folds(DATES, 30, 3)
    results = run_backtest(frame, folds, candidates)
    assert len(results) == 6 and set(results["candidate"]) == {"oracle", "noise"}
    for name in seen:
        assert seen[name] == [f.train_dates for f in folds]
        assert scored[name] == [([f.validation_date], 2000) for f in folds]
    assert (results["train_rows"] == np.repeat([3 * 2000, 4 * 2000, 5 * 2000], 2)).all()
    # Scores that are not probabilities get no log loss or calibration error.
    assert results.loc[results["candidate"] == "noise", "log_loss"].isna().all()
    assert results.loc[results["candidate"] == "oracle", "ece"].notna().all()

    summary = summarize(results)
    oracle_auc = summary[(summary["candidate"] == "oracle") & (summary["metric"] == "roc_auc")].iloc[0]
    by_hand = results.loc[results["candidate"] == "oracle", "roc_auc"]
    assert oracle_auc["mean"] == pytest.approx(by_hand.mean()) and oracle_auc["std"] == pytest.approx(by_hand.std())
    assert oracle_auc["min"] == by_hand.min() and oracle_auc["count"] == 3
    assert oracle_auc["mean"] > 0.8

    table = wins(results, "oracle")
    assert table.to_dict("records")[0]["candidate"] == "noise" and table["won"].iloc[0] == 3 and table["dates"].iloc[0] == 3


def test_wins_counts_dates_and_mean_margin_by_hand():
    results = pd.DataFrame(
        {
            "validation_date": [1, 1, 2, 2, 3, 3],
            "candidate": ["model", "base", "model", "base", "model", "base"],
            "roc_auc": [0.70, 0.68, 0.71, 0.72, 0.75, 0.70],
        }
    )
    table = wins(results, "model")
    assert table["won"].tolist() == [2] and table["dates"].tolist() == [3]
    assert table["mean_margin"].iloc[0] == pytest.approx((0.02 - 0.01 + 0.05) / 3)
