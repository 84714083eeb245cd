"""Beta calibration (Kull, Silva Filho & Flach, AISTATS 2017): a probability map that keeps the ranking.

The calibrated probability is ``sigmoid(a * log p - b * log(1 - p) + c)`` with ``a, b >= 0``: a monotone
map of the raw score, so the ROC-AUC is unchanged (isotonic regression, the earlier choice, makes
plateaus that tie thousands of users and reaches exactly 0 and 1). Outputs are clipped to
``[EPS, 1 - EPS]``: no user is ever certain to churn or to stay.
"""

from __future__ import annotations

import numpy as np
from sklearn.linear_model import LogisticRegression

EPS = 1e-4  # the smallest and largest probability a model gives (no 0 or 1)
_RAW_EPS = 1e-12


def _inputs(raw: np.ndarray) -> np.ndarray:
    p = np.clip(np.asarray(raw, dtype=float), _RAW_EPS, 1.0 - _RAW_EPS)
    return np.column_stack([np.log(p), -np.log1p(-p)])


def fit_beta(raw: np.ndarray, y: np.ndarray) -> tuple[float, float, float]:
    """(a, b, c) of the beta map fitted by maximum likelihood on raw scores ``raw`` and 0/1 labels ``y``.

    A coefficient that comes out negative (which would reverse part of the ranking) is fixed at 0 and
    the other refitted, as the paper prescribes; with both at 0 the map is the constant base rate.
    """
    z, y = _inputs(raw), np.asarray(y, dtype=int)
    keep = [0, 1]
    while keep:
        fit = LogisticRegression(C=1e6, max_iter=1000).fit(z[:, keep], y)
        coef = fit.coef_[0]
        if (coef >= 0).all():
            values = dict(zip(keep, coef.tolist(), strict=True))
            return float(values.get(0, 0.0)), float(values.get(1, 0.0)), float(fit.intercept_[0])
        keep = [k for k, v in zip(keep, coef, strict=True) if v >= 0] if (coef >= 0).any() else []
    rate = float(np.clip(y.mean(), EPS, 1 - EPS))
    return 0.0, 0.0, float(np.log(rate / (1 - rate)))


def apply_beta(raw: np.ndarray, params: tuple[float, float, float]) -> np.ndarray:
    """Calibrated probabilities of raw scores ``raw``, in ``[EPS, 1 - EPS]``."""
    a, b, c = params
    z = _inputs(raw)
    logit = a * z[:, 0] + b * z[:, 1] + c
    return np.clip(1.0 / (1.0 + np.exp(-logit)), EPS, 1.0 - EPS)
