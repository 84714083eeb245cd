"""Model inputs derived inside the estimator: BG/NBD's view of each customer, from the plain feature frame.

A buy-till-you-die model (:class:`training.btyd.BetaGeoModel`) is fitted on the training rows' purchase
history and gives every user two numbers the trees then see as features:

* ``bgnbd_p_alive``: the probability that the customer is still a customer at ``as_of``;
* ``bgnbd_expected_purchases``: the expected number of purchase days in the next ``horizon_days``.

The RFM summary comes from catalogue features (days as fractions, measured back from the cutoff):
frequency = ``purchase_days_all`` - 1, T = ``days_since_first_order``, recency = T -
``days_since_last_order`` (0 without repeat purchases). Users who never bought get NaN.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from training.btyd import FREQUENCY, RECENCY, T, BetaGeoModel

P_ALIVE = "bgnbd_p_alive"
EXPECTED_PURCHASES = "bgnbd_expected_purchases"
DERIVED = (P_ALIVE, EXPECTED_PURCHASES)
NEEDS = ("purchase_days_all", "days_since_first_order", "days_since_last_order")
MIN_CUSTOMERS = 50  # fewer customers with a purchase history: no BG/NBD inputs
PENALIZER = 1e-3  # a light L2 on the log-parameters keeps the fit finite on degenerate data


def rfm(frame: pd.DataFrame) -> tuple[pd.DataFrame, np.ndarray]:
    """(RFM summary of the users who bought, mask of those rows in ``frame``)."""
    days = pd.to_numeric(frame["purchase_days_all"], errors="coerce").to_numpy(dtype=float)
    tenure = pd.to_numeric(frame["days_since_first_order"], errors="coerce").to_numpy(dtype=float)
    since_last = pd.to_numeric(frame["days_since_last_order"], errors="coerce").to_numpy(dtype=float)
    known = np.isfinite(days) & (days >= 1) & np.isfinite(tenure) & np.isfinite(since_last)
    x = np.maximum(days[known] - 1.0, 0.0)
    big_t = np.maximum(tenure[known], 0.0)
    t_x = np.where(x > 0, np.clip(big_t - since_last[known], 0.0, big_t), 0.0)
    return pd.DataFrame({FREQUENCY: x, RECENCY: t_x, T: big_t}), known


def available(frame: pd.DataFrame) -> bool:
    """Whether ``frame`` has the columns and enough customers with a purchase history for BG/NBD inputs."""
    if not all(c in frame.columns for c in NEEDS):
        return False
    return int(rfm(frame)[1].sum()) >= MIN_CUSTOMERS


def fit_bgnbd(frame: pd.DataFrame, horizon_days: float) -> dict[str, float]:
    """BG/NBD parameters (r, alpha, a, b) fitted on the customers of ``frame``."""
    summary, _ = rfm(frame)
    return BetaGeoModel(horizon_days=horizon_days, penalizer=PENALIZER).fit(summary).params_


def bgnbd_model(params: dict[str, float], horizon_days: float) -> BetaGeoModel:
    """A fitted :class:`BetaGeoModel` from stored parameters."""
    model = BetaGeoModel(horizon_days=horizon_days)
    model.r_, model.alpha_, model.a_, model.b_ = (float(params[k]) for k in ("r", "alpha", "a", "b"))
    return model


def derived_inputs(frame: pd.DataFrame, params: dict[str, float], horizon_days: float) -> pd.DataFrame:
    """``bgnbd_p_alive`` and ``bgnbd_expected_purchases`` for each row of ``frame`` (same index; NaN without purchases)."""
    out = pd.DataFrame({name: np.full(len(frame), np.nan) for name in DERIVED}, index=frame.index)
    summary, known = rfm(frame)
    if known.any():
        model = bgnbd_model(params, horizon_days)
        out.loc[known, P_ALIVE] = model.p_alive(summary)
        out.loc[known, EXPECTED_PURCHASES] = model.expected_purchases(summary, horizon_days)
    return out
