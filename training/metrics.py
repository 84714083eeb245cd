"""Evaluation metrics for probability scores of a binary label (1 = churned / activated).

All functions are pure: they take the labels ``y`` (0/1) and the scores ``p``
(probabilities in [0, 1], or any ranking score where noted) and return numbers.
"""

from __future__ import annotations

import math
from collections.abc import Mapping

import numpy as np
import pandas as pd
from sklearn.metrics import average_precision_score, brier_score_loss, log_loss, roc_auc_score

TOP_SHARES = (0.05, 0.10, 0.20)
CALIBRATION_BINS = 10


def expected_calibration_error(y: np.ndarray, p: np.ndarray, bins: int = CALIBRATION_BINS) -> float:
    """Mean |observed rate - mean prediction| over equal-width probability bins, weighted by bin size."""
    y, p = np.asarray(y, dtype=float), np.asarray(p, dtype=float)
    index = np.minimum((p * bins).astype(int), bins - 1)
    total = 0.0
    for b in range(bins):
        m = index == b
        if m.any():
            total += m.sum() * abs(y[m].mean() - p[m].mean())
    return float(total / len(y))


def ece_noise_floor(p: np.ndarray, bins: int = CALIBRATION_BINS) -> float:
    """The expected calibration error of a perfectly calibrated model with predictions ``p``, from sampling alone.

    Per bin, the observed rate of n_b users with probabilities p_i has standard deviation
    sqrt(sum p_i (1 - p_i)) / n_b; the expected absolute deviation is sqrt(2 / pi) times that
    (normal approximation). Weighted by n_b / n: sqrt(2 / pi) / n * sum_b sqrt(sum_{i in b} p_i (1 - p_i)).
    """
    p = np.asarray(p, dtype=float)
    if len(p) == 0:
        return float("nan")
    index = np.minimum((p * bins).astype(int), bins - 1)
    variance = np.bincount(index, weights=p * (1.0 - p), minlength=bins)
    return float(math.sqrt(2.0 / math.pi) * np.sqrt(variance).sum() / len(p))


def wilson_interval(k: np.ndarray, n: np.ndarray, z: float = 1.96) -> tuple[np.ndarray, np.ndarray]:
    """Wilson score interval (95 % by default) of k successes in n trials, elementwise."""
    k, n = np.asarray(k, dtype=float), np.asarray(n, dtype=float)
    rate = np.divide(k, n, out=np.zeros_like(k), where=n > 0)
    centre = (rate + z * z / (2 * n)) / (1 + z * z / n)
    half = z * np.sqrt(rate * (1 - rate) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    return centre - half, centre + half


def top_share(y: np.ndarray, score: np.ndarray, share: float) -> tuple[float, float]:
    """(lift, capture) among the ``share`` highest scores.

    lift: positive rate in the top share / overall positive rate;
    capture: share of all positives found in the top share. Ties are broken by order.
    """
    y, score = np.asarray(y, dtype=float), np.asarray(score, dtype=float)
    k = max(1, int(math.ceil(share * len(y))))
    top = np.argsort(-score, kind="stable")[:k]
    base = y.mean()
    positives = y.sum()
    lift = (y[top].mean() / base) if base > 0 else float("nan")
    capture = (y[top].sum() / positives) if positives > 0 else float("nan")
    return float(lift), float(capture)


def binary_metrics(y: np.ndarray, p: np.ndarray, *, probabilities: bool = True) -> dict[str, float]:
    """ROC-AUC, PR-AUC, and when ``p`` are probabilities log loss, Brier and ECE; lift and capture at the top shares."""
    y, p = np.asarray(y, dtype=int), np.asarray(p, dtype=float)
    out: dict[str, float] = {"n": float(len(y)), "positive_rate": float(y.mean()) if len(y) else float("nan")}
    if len(np.unique(y)) == 2:
        out["roc_auc"] = float(roc_auc_score(y, p))
        out["pr_auc"] = float(average_precision_score(y, p))
    if probabilities and len(y):
        clipped = np.clip(p, 1e-15, 1 - 1e-15)
        out["log_loss"] = float(log_loss(y, clipped, labels=[0, 1]))
        out["brier"] = float(brier_score_loss(y, p))
        out["ece"] = expected_calibration_error(y, p)
    for share in TOP_SHARES:
        lift, capture = top_share(y, p, share)
        pct = int(round(share * 100))
        out[f"lift_top{pct}"] = lift
        out[f"capture_top{pct}"] = capture
    return out


def segment_metrics(
    y: np.ndarray, p: np.ndarray, segments: Mapping[str, pd.Series], min_rows: int = 50
) -> dict[str, dict[str, float]]:
    """:func:`binary_metrics` per value of each segment column (``"member_tier=gold"``), for groups of at least ``min_rows``."""
    y, p = np.asarray(y), np.asarray(p)
    out: dict[str, dict[str, float]] = {}
    for name, values in segments.items():
        values = pd.Series(values).astype("object").fillna("missing").to_numpy()
        for value in sorted(set(values), key=str):
            m = values == value
            if m.sum() >= min_rows:
                out[f"{name}={value}"] = binary_metrics(y[m], p[m])
    return out


def calibration_table(y: np.ndarray, p: np.ndarray, bins: int = CALIBRATION_BINS) -> pd.DataFrame:
    """Per probability bin: mean prediction, observed rate and count (for the calibration plot)."""
    y, p = np.asarray(y, dtype=float), np.asarray(p, dtype=float)
    index = np.minimum((p * bins).astype(int), bins - 1)
    frame = pd.DataFrame({"bin": index, "y": y, "p": p})
    table = frame.groupby("bin").agg(predicted=("p", "mean"), observed=("y", "mean"), n=("y", "size"), k=("y", "sum")).reset_index()
    table["low"], table["high"] = wilson_interval(table["k"].to_numpy(), table["n"].to_numpy())
    return table


def gain_curve(y: np.ndarray, score: np.ndarray, points: int = 100) -> pd.DataFrame:
    """Cumulative share of positives captured vs share of users targeted, highest scores first."""
    y, score = np.asarray(y, dtype=float), np.asarray(score, dtype=float)
    order = np.argsort(-score, kind="stable")
    captured = np.cumsum(y[order]) / max(y.sum(), 1.0)
    share = np.arange(1, len(y) + 1) / len(y)
    idx = np.unique(np.linspace(0, len(y) - 1, min(points, len(y))).astype(int))
    lift = captured[idx] / share[idx]
    return pd.DataFrame({"share": share[idx], "captured": captured[idx], "lift": lift})
