"""Buy-till-you-die models: BG/NBD (how often a customer buys, and whether they are still a customer)
and Gamma-Gamma (how much they spend per purchase), fitted by maximum likelihood.

Both are the classic baselines of customer-base analysis (Fader, Hardie & Lee, "Counting your customers
the easy way", Marketing Science 2005; "RFM and CLV", Journal of Marketing Research 2005). Inputs are the
RFM summary of each customer's purchases up to ``as_of``, in days:

* ``frequency`` x: repeat purchase days (days with a purchase, minus the first one);
* ``recency`` t_x: days from the first to the last purchase day (0 when x = 0);
* ``T``: days from the first purchase to ``as_of``;
* ``monetary`` m: mean amount of the repeat purchases (Gamma-Gamma only; customers with x > 0).

The estimators follow scikit-learn's contract: parameters in ``__init__``, ``fit`` returns ``self``,
learned parameters end in ``_``, and methods raise ``NotFittedError`` before ``fit``. ``X`` is a frame
with the columns above or an array with them in that order.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy import optimize, special
from sklearn.base import BaseEstimator, RegressorMixin
from sklearn.utils.validation import check_is_fitted

from features.errors import ChurnError

FREQUENCY = "frequency"
RECENCY = "recency"
T = "T"
MONETARY = "monetary"
RFM_COLUMNS = (FREQUENCY, RECENCY, T)


class BtydInputError(ChurnError):
    """RFM input that a buy-till-you-die model cannot take."""

    exit_code = 2
    http_status = 400


def _columns(X, names: tuple[str, ...]) -> tuple[np.ndarray, ...]:
    """The named columns of ``X`` (a frame with those columns, or an array in that order) as float arrays."""
    if isinstance(X, pd.DataFrame):
        missing = [c for c in names if c not in X.columns]
        if missing:
            raise BtydInputError(f"RFM input lacks column {', '.join(missing)} (expected {', '.join(names)})")
        arrays = [X[c].to_numpy(dtype=float) for c in names]
    else:
        values = np.asarray(X, dtype=float)
        if values.ndim != 2 or values.shape[1] != len(names):
            raise BtydInputError(f"RFM input has shape {values.shape}; expected (n, {len(names)}) columns {', '.join(names)}")
        arrays = [values[:, k] for k in range(len(names))]
    if len(arrays[0]) == 0:
        raise BtydInputError("RFM input has no rows")
    for name, a in zip(names, arrays, strict=True):
        if not np.isfinite(a).all():
            raise BtydInputError(f"RFM column {name} holds missing or infinite values ({int((~np.isfinite(a)).sum())} rows)")
        if (a < 0).any():
            raise BtydInputError(f"RFM column {name} holds negative values (min {a.min():g})")
    return tuple(arrays)


def _rfm(X) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    x, t_x, big_t = _columns(X, RFM_COLUMNS)
    if (t_x > big_t + 1e-9).any():
        raise BtydInputError("RFM recency exceeds T (the last purchase cannot follow as_of)")
    if ((x == 0) & (t_x > 0)).any():
        raise BtydInputError("RFM recency must be 0 for customers without repeat purchases")
    return x, t_x, big_t


def _fit(negative_ll, start: np.ndarray, max_iter: int) -> tuple[np.ndarray, float, bool]:
    """Minimise over log-parameters (so every parameter stays positive)."""
    result = optimize.minimize(negative_ll, np.log(start), method="L-BFGS-B", options={"maxiter": max_iter})
    return np.exp(result.x), float(result.fun), bool(result.success)


class BetaGeoModel(RegressorMixin, BaseEstimator):
    """BG/NBD: while alive a customer buys at Poisson rate lambda ~ Gamma(r, alpha); after each purchase
    they leave for good with probability p ~ Beta(a, b).

    horizon_days: the window of :meth:`predict` (expected purchases in the next ``horizon_days``).
    penalizer: L2 penalty on the log-parameters, for small or degenerate data (0 = plain likelihood).
    Learned: ``r_``, ``alpha_``, ``a_``, ``b_``, ``log_likelihood_`` (mean per customer), ``converged_``.
    """

    def __init__(self, *, horizon_days: float = 30.0, penalizer: float = 0.0, max_iter: int = 500) -> None:
        self.horizon_days = horizon_days
        self.penalizer = penalizer
        self.max_iter = max_iter

    def fit(self, X, y=None) -> BetaGeoModel:
        """Fit on the RFM summary ``X`` (frequency, recency, T); ``y`` is ignored."""
        x, t_x, big_t = _rfm(X)
        # Identical customers share one term of the likelihood: fit on the distinct rows, weighted.
        rows, weight = np.unique(np.column_stack([x, t_x, big_t]), axis=0, return_counts=True)
        ux, ut, uT = rows[:, 0], rows[:, 1], rows[:, 2]
        total = weight.sum()

        def negative_ll(log_params: np.ndarray) -> float:
            ll = _bgnbd_log_likelihood(np.exp(log_params), ux, ut, uT)
            return -float((weight * ll).sum() / total) + self.penalizer * float((log_params**2).sum())

        mean_gap = max(float(np.mean(big_t)) / max(float(np.mean(x)) + 1.0, 1.0), 1.0)
        params, value, ok = _fit(negative_ll, np.array([1.0, mean_gap, 1.0, 3.0]), self.max_iter)
        self.r_, self.alpha_, self.a_, self.b_ = (float(v) for v in params)
        self.log_likelihood_ = -value
        self.converged_ = ok
        return self

    @property
    def params_(self) -> dict[str, float]:
        check_is_fitted(self, "r_")
        return {"r": self.r_, "alpha": self.alpha_, "a": self.a_, "b": self.b_}

    def p_alive(self, X) -> np.ndarray:
        """Probability that each customer is still a customer at ``as_of``."""
        check_is_fitted(self, "r_")
        x, t_x, big_t = _rfm(X)
        return 1.0 / (1.0 + self._odds_dead(x, t_x, big_t))

    def _odds_dead(self, x, t_x, big_t) -> np.ndarray:
        r, alpha, a, b = self.r_, self.alpha_, self.a_, self.b_
        log_odds = np.log(a) - np.log(np.maximum(b + x - 1.0, 1e-300)) + (r + x) * (np.log(alpha + big_t) - np.log(alpha + t_x))
        return np.where(x > 0, np.exp(np.minimum(log_odds, 700.0)), 0.0)

    def p_no_purchase(self, X, days: float) -> np.ndarray:
        """Probability of no purchase in the ``days`` after ``as_of``: dead, or alive and not buying.

        Alive customers' rate has the posterior Gamma(r + x, alpha + T), and a customer only leaves
        right after a purchase, so P(no purchase | alive) = ((alpha + T) / (alpha + T + days))^(r + x).
        """
        check_is_fitted(self, "r_")
        x, t_x, big_t = _rfm(X)
        alive = 1.0 / (1.0 + self._odds_dead(x, t_x, big_t))
        quiet = np.exp((self.r_ + x) * (np.log(self.alpha_ + big_t) - np.log(self.alpha_ + big_t + days)))
        return 1.0 - alive * (1.0 - quiet)

    def expected_purchases(self, X, days: float) -> np.ndarray:
        """Expected purchases in the ``days`` after ``as_of`` (Fader, Hardie & Lee 2005, eq. 10)."""
        check_is_fitted(self, "r_")
        x, t_x, big_t = _rfm(X)
        r, alpha, a, b = self.r_, self.alpha_, self.a_, self.b_
        z = days / (alpha + big_t + days)
        hyp = special.hyp2f1(r + x, b + x, a + b + x - 1.0, z)
        ratio = np.exp((r + x) * (np.log(alpha + big_t) - np.log(alpha + big_t + days)))
        value = (a + b + x - 1.0) / (a - 1.0) * (1.0 - ratio * hyp)
        return value / (1.0 + self._odds_dead(x, t_x, big_t))

    def predict(self, X) -> np.ndarray:
        """Expected purchases in the next ``horizon_days``."""
        return self.expected_purchases(X, self.horizon_days)


def _bgnbd_log_likelihood(params: np.ndarray, x: np.ndarray, t_x: np.ndarray, big_t: np.ndarray) -> np.ndarray:
    """Per-customer log-likelihood of BG/NBD (Fader, Hardie & Lee 2005, eq. 6, in log-sum-exp form)."""
    r, alpha, a, b = params
    a1 = special.gammaln(r + x) - special.gammaln(r) + r * np.log(alpha)
    a2 = special.gammaln(a + b) + special.gammaln(b + x) - special.gammaln(b) - special.gammaln(a + b + x)
    a3 = -(r + x) * np.log(alpha + big_t)
    a4 = np.log(a) - np.log(np.maximum(b + x - 1.0, 1e-300)) - (r + x) * np.log(alpha + t_x)
    return a1 + a2 + np.where(x > 0, np.logaddexp(a3, a4), a3)


class GammaGammaModel(RegressorMixin, BaseEstimator):
    """Gamma-Gamma spend per purchase: each amount ~ Gamma(p, nu), nu ~ Gamma(q, gamma) across customers.

    Fitted on customers with repeat purchases (frequency > 0) from ``X`` = (frequency, monetary).
    ``predict`` gives each customer's expected amount per purchase, shrunk from their own mean towards the
    population's; a customer without repeat purchases gets the population mean.
    Learned: ``p_``, ``q_``, ``gamma_``.
    """

    def __init__(self, *, penalizer: float = 0.0, max_iter: int = 500) -> None:
        self.penalizer = penalizer
        self.max_iter = max_iter

    def fit(self, X, y=None) -> GammaGammaModel:
        x, m = _columns(X, (FREQUENCY, MONETARY))
        keep = (x > 0) & (m > 0)
        if keep.sum() < 2:
            raise BtydInputError(f"Gamma-Gamma needs customers with repeat purchases and positive spend; got {int(keep.sum())}")
        x, m = x[keep], m[keep]
        scale = float(np.mean(m))  # fit in units of the mean amount: the optimiser sees numbers near 1

        def negative_ll(log_params: np.ndarray) -> float:
            p, q, gamma = np.exp(log_params)
            ll = (
                special.gammaln(p * x + q) - special.gammaln(p * x) - special.gammaln(q) + q * np.log(gamma)
                + (p * x - 1.0) * np.log(m / scale) + p * x * np.log(x) - (p * x + q) * np.log(x * m / scale + gamma)
            )  # fmt: skip
            return -float(ll.mean()) + self.penalizer * float((log_params**2).sum())

        (p, q, gamma), value, ok = _fit(negative_ll, np.array([2.0, 3.0, 1.0]), self.max_iter)
        self.p_, self.q_, self.gamma_ = float(p), float(q), float(gamma * scale)
        self.log_likelihood_ = -value
        self.converged_ = ok
        return self

    @property
    def mean_amount_(self) -> float:
        """The population's expected amount per purchase, p gamma / (q - 1) (infinite when q <= 1)."""
        check_is_fitted(self, "p_")
        return self.p_ * self.gamma_ / (self.q_ - 1.0) if self.q_ > 1.0 else float("inf")

    def predict(self, X) -> np.ndarray:
        """Expected amount per purchase given (frequency, monetary)."""
        check_is_fitted(self, "p_")
        x, m = _columns(X, (FREQUENCY, MONETARY))
        p, q, gamma = self.p_, self.q_, self.gamma_
        value = p * (gamma + m * x) / (p * x + q - 1.0)
        return np.where(x > 0, value, self.mean_amount_)
