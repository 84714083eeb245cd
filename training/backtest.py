"""Rolling-origin backtests: every candidate trained and judged again at several past dates.

A frame of stacked (user, as_of) snapshots with a ``label`` is cut into folds. Fold k validates on the
snapshot of date v_k and trains only on snapshots whose label window had closed by then
(as_of + horizon <= v_k), as the nightly retraining at v_k would have. Each candidate (the model and
every baseline) is fitted and scored on the same rows of every fold, so their metrics compare like
with like; the mean and spread over the folds say how much a single date's figure can be trusted.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from features.catalog import AS_OF, LABEL
from features.errors import ConfigError
from training.metrics import binary_metrics

Scorer = Callable[[pd.DataFrame], np.ndarray]
SUMMARY_METRICS = ("roc_auc", "pr_auc", "log_loss", "ece")


@dataclass(frozen=True)
class Candidate:
    """Something to compare: ``fit(train)`` returns a scorer of frames (higher = more likely label 1).

    probabilities: whether the scores are probabilities (then log loss and calibration are measured).
    """

    name: str
    fit: Callable[[pd.DataFrame], Scorer]
    probabilities: bool = True


@dataclass(frozen=True)
class Fold:
    validation_date: dt.date
    train_dates: tuple[dt.date, ...]


def make_folds(dates: Sequence[dt.date], horizon_days: int, folds: int, min_train_snapshots: int = 2) -> list[Fold]:
    """The last ``folds`` snapshot dates as validation dates, each with every earlier date whose label
    window closed by it (date + horizon_days <= validation date) to train on, oldest fold first.

    Raises ConfigError when there are too few dates for ``folds`` folds of ``min_train_snapshots`` each.
    """
    ordered = sorted(set(dates))
    out = []
    for v in ordered[-folds:] if folds > 0 else []:
        train = tuple(d for d in ordered if d + dt.timedelta(days=horizon_days) <= v)
        if len(train) >= min_train_snapshots:
            out.append(Fold(v, train))
    if len(out) < folds:
        raise ConfigError(
            f"a backtest of {folds} dates needs {folds + min_train_snapshots} snapshots at least {horizon_days} days apart; "
            f"got {len(ordered)} ({', '.join(str(d) for d in ordered)}): use more --snapshots or fewer --backtest-dates"
        )
    return out


def run_backtest(
    frame: pd.DataFrame,
    folds: Sequence[Fold],
    candidates: Sequence[Candidate],
    progress: Callable[[str], None] = lambda message: None,
) -> pd.DataFrame:
    """Fit and score every candidate on every fold.

    frame: stacked snapshots with ``as_of`` (date) and ``label`` (0/1) columns.
    Returns one row per (validation date, candidate) with the validation rows' metrics
    (:func:`training.metrics.binary_metrics`) and ``train_rows``.
    """
    rows = []
    for fold in folds:
        train = frame[frame[AS_OF].isin(fold.train_dates)].reset_index(drop=True)
        valid = frame[frame[AS_OF] == fold.validation_date].reset_index(drop=True)
        y = valid[LABEL].to_numpy()
        for candidate in candidates:
            progress(f"backtest {fold.validation_date}: {candidate.name}")
            score = candidate.fit(train)(valid)
            metrics = binary_metrics(y, score, probabilities=candidate.probabilities)
            rows.append({"validation_date": fold.validation_date, "candidate": candidate.name, "train_rows": len(train), **metrics})
    return pd.DataFrame(rows)


def summarize(results: pd.DataFrame, metrics: Sequence[str] = SUMMARY_METRICS) -> pd.DataFrame:
    """Per candidate and metric: mean, standard deviation, min and max over the backtest dates."""
    present = [m for m in metrics if m in results.columns]
    long = results.melt(id_vars=["validation_date", "candidate"], value_vars=present, var_name="metric")
    out = long.groupby(["candidate", "metric"], sort=False)["value"].agg(["mean", "std", "min", "max", "count"])
    return out.reset_index()


def wins(results: pd.DataFrame, model: str, metric: str = "roc_auc") -> pd.DataFrame:
    """Per other candidate: on how many backtest dates ``model`` scored higher on ``metric``, and the mean margin."""
    wide = results.pivot(index="validation_date", columns="candidate", values=metric)
    rows = []
    for other in wide.columns:
        if other == model:
            continue
        margin = wide[model] - wide[other]
        rows.append({"candidate": other, "dates": int(margin.notna().sum()), "won": int((margin > 0).sum()), "mean_margin": float(margin.mean())})
    return pd.DataFrame(rows, columns=["candidate", "dates", "won", "mean_margin"])
