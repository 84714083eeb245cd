"""Out-of-time evaluation of a fitted model: metrics, baselines, segments, the champion and a reference.

Everything is measured on the same validation rows: the model, two baselines
(days since the last order alone; a logistic regression on the same
features), the current champion when there is one, and, when the caller has
them, reference probabilities for the same users and date (on simulated data,
the simulator's true probabilities: the best any model could do).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from features.catalog import AS_OF, LABEL, USER_ID
from training import baselines, registry
from training.estimator import ChurnClassifier
from training.metrics import binary_metrics, segment_metrics

NEW_CUSTOMER_DAYS = 90
# A reference source: the snapshot date -> a frame of ``user_id`` and ``p_churn`` (a probability of the
# label for each user), or None when it has nothing for that date.
REFERENCE_P = "p_churn"
Reference = Callable[[dt.date], pd.DataFrame | None]
MIN_REFERENCE_COVERAGE = 0.99  # share of the validation users the reference must score to be compared


@dataclass(frozen=True)
class Evaluation:
    """The validation labels, the model's probabilities and every figure measured on them."""

    y: np.ndarray
    p: np.ndarray
    metrics: dict[str, float]
    baselines: dict[str, dict[str, float]]
    baseline_scores: dict[str, np.ndarray]
    segments: dict[str, dict[str, float]]
    truth: dict[str, float] = field(default_factory=dict)


def customer_segments(frame: pd.DataFrame) -> dict[str, pd.Series]:
    """The segments reported per metric: member tier, city tier, and new / long-standing / no purchase."""
    out = {}
    for column in ("member_tier", "city_tier"):
        if column in frame.columns:
            out[column] = frame[column]
    if "days_since_first_order" in frame.columns:
        tenure = frame["days_since_first_order"]
        out["customer"] = np.where(tenure.isna(), "no purchase", np.where(tenure < NEW_CUSTOMER_DAYS, "new", "long-standing"))
    return out


def truth_metrics(valid: pd.DataFrame, p: np.ndarray, reference: Reference | None) -> dict[str, float]:
    """Model vs the reference probabilities on the same users and date; empty without a usable reference.

    valid: the validation snapshot (one ``as_of``); p: the model's probabilities for its rows.
    The reference is compared only when it scores at least 99 % of the validation users.
    """
    if reference is None or valid.empty:
        return {}
    truth = reference(pd.Timestamp(valid[AS_OF].iloc[0]).date())
    if truth is None or truth.empty:
        return {}
    joined = valid[[USER_ID, LABEL]].assign(p=p).merge(truth[[USER_ID, REFERENCE_P]], on=USER_ID, how="inner")
    if len(joined) < len(valid) * MIN_REFERENCE_COVERAGE:
        return {}
    best = binary_metrics(joined[LABEL], joined[REFERENCE_P])
    model = binary_metrics(joined[LABEL], joined["p"])
    return {
        "truth_roc_auc": best["roc_auc"],
        "model_roc_auc": model["roc_auc"],
        "auc_ratio_to_truth": model["roc_auc"] / best["roc_auc"],
        "truth_ece": best["ece"],
    }


def evaluate(
    model: ChurnClassifier, train: pd.DataFrame, valid: pd.DataFrame, *, seed: int = 0, reference: Reference | None = None
) -> Evaluation:
    """The model and the baselines (fitted on ``train``) on the validation snapshot ``valid``."""
    y = valid[LABEL].to_numpy()
    p = model.predict_proba(valid)[:, 1]
    recency = baselines.recency_score(valid)
    logistic = baselines.logistic_score(baselines.logistic_baseline(train, train[LABEL].to_numpy(), seed), valid)
    return Evaluation(
        y=y,
        p=p,
        metrics=binary_metrics(y, p),
        baselines={"recency": binary_metrics(y, recency, probabilities=False), "logistic": binary_metrics(y, logistic)},
        baseline_scores={"recency": recency, "logistic": logistic},
        segments=segment_metrics(y, p, customer_segments(valid)),
        truth=truth_metrics(valid, p, reference),
    )


def champion_metrics(name: str, version: str, valid: pd.DataFrame) -> dict[str, float]:
    """Metrics of registered version ``version`` of ``name`` on ``valid``; ``{"error": ...}`` when it cannot score them.

    A champion trained on other features cannot be compared; the error says why.
    """
    y = valid[LABEL].to_numpy()
    try:
        p = np.asarray(registry.load_version(name, version).predict(registry.as_strings(valid)), dtype=float)
        return binary_metrics(y, p)
    except Exception as e:  # an incompatible champion (other features) cannot be compared
        return {"error": str(e).splitlines()[0][:200]}
