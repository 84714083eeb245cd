"""BG/NBD and Gamma-Gamma: formulas checked by numerical integration, fits recover known parameters
from data drawn from the models' own processes, predictions match simulated futures."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from scipy import integrate, stats
from sklearn.exceptions import NotFittedError

from training.btyd import (
    FREQUENCY,
    MONETARY,
    RECENCY,
    T,
    BetaGeoModel,
    BtydInputError,
    GammaGammaModel,
    _bgnbd_log_likelihood,
)

TRUE = {"r": 0.6, "alpha": 18.0, "a": 0.8, "b": 2.5}


def draw_bgnbd(rng: np.random.Generator, n: int, params: dict, future_days: float = 0.0):
    """Customers drawn from the BG/NBD process: (frequency, recency, T) at as_of and purchases in the next days.

    Each customer's first purchase is at time 0; while alive they buy at rate lambda and leave right after
    a repeat purchase with probability p.
    """
    lam = rng.gamma(params["r"], 1.0 / params["alpha"], n)
    p = rng.beta(params["a"], params["b"], n)
    big_t = rng.uniform(30.0, 400.0, n)
    end = big_t + future_days
    t = np.zeros(n)
    x = np.zeros(n)
    last = np.zeros(n)
    future = np.zeros(n)
    active = np.ones(n, dtype=bool)
    while active.any():
        t = t + rng.exponential(1.0 / lam)
        buy = active & (t <= end)
        before = buy & (t <= big_t)
        x[before] += 1
        last[before] = t[before]
        future[buy & ~before] += 1
        active = buy & (rng.random(n) >= p)
    frame = pd.DataFrame({FREQUENCY: x, RECENCY: last, T: big_t})
    return frame, future, lam, p


@pytest.fixture(scope="module")
def customers():
    rng = np.random.default_rng(11)
    return draw_bgnbd(rng, 30_000, TRUE, future_days=60.0)


@pytest.fixture(scope="module")
def fitted(customers):
    frame, *_ = customers
    return BetaGeoModel(horizon_days=60.0).fit(frame)


PARAMS = {"r": 1.3, "alpha": 25.0, "a": 1.4, "b": 3.0}


def _densities(params: dict):
    """Scalar prior densities of lambda (Gamma(r, rate alpha)) and p (Beta(a, b)), fast enough for dblquad."""
    r, alpha, a, b = params["r"], params["alpha"], params["a"], params["b"]
    log_gamma_norm = r * math.log(alpha) - math.lgamma(r)
    log_beta_norm = math.lgamma(a + b) - math.lgamma(a) - math.lgamma(b)

    def lam_pdf(lam: float) -> float:
        return math.exp(log_gamma_norm + (r - 1) * math.log(lam) - alpha * lam) if lam > 0 else 0.0

    def p_pdf(p: float) -> float:
        return math.exp(log_beta_norm + (a - 1) * math.log(p) + (b - 1) * math.log1p(-p)) if 0 < p < 1 else 0.0

    return lam_pdf, p_pdf


def _branches(x: float, t_x: float, big_t: float, params: dict) -> tuple[float, float]:
    """The BG/NBD likelihood's two branches (alive at T; left after the last purchase), integrated numerically."""
    lam_pdf, p_pdf = _densities(params)

    def alive(lam: float, p: float) -> float:
        return (1 - p) ** x * lam**x * math.exp(-lam * big_t) * lam_pdf(lam) * p_pdf(p)

    def dead(lam: float, p: float) -> float:
        return p * (1 - p) ** (x - 1) * lam**x * math.exp(-lam * t_x) * lam_pdf(lam) * p_pdf(p) if x > 0 else 0.0

    kw = {"epsabs": 1e-14, "epsrel": 1e-8}
    return integrate.dblquad(alive, 0.0, 1.0, 0.0, 2.0, **kw)[0], integrate.dblquad(dead, 0.0, 1.0, 0.0, 2.0, **kw)[0]


def _model(params: dict) -> BetaGeoModel:
    model = BetaGeoModel()
    model.r_, model.alpha_, model.a_, model.b_ = params["r"], params["alpha"], params["a"], params["b"]
    return model


CASES = [(0, 0.0, 50.0), (1, 10.0, 80.0), (4, 120.0, 200.0), (3, 40.0, 150.0)]


@pytest.mark.parametrize(("x", "t_x", "big_t"), CASES)
def test_log_likelihood_and_p_alive_equal_the_integrals_over_rates_and_dropout(x, t_x, big_t):
    alive, dead = _branches(x, t_x, big_t, PARAMS)
    closed = _bgnbd_log_likelihood(np.array(list(PARAMS.values())), np.array([x]), np.array([t_x]), np.array([big_t]))[0]
    assert closed == pytest.approx(math.log(alive + dead), abs=1e-6)
    one = pd.DataFrame({FREQUENCY: [x], RECENCY: [t_x], T: [big_t]})
    assert _model(PARAMS).p_alive(one)[0] == pytest.approx(alive / (alive + dead), rel=1e-6)


@pytest.mark.parametrize(("x", "t_x", "big_t"), CASES)
def test_expected_purchases_equal_the_posterior_integral(x, t_x, big_t):
    # Alive at T: lambda ~ Gamma(r + x, alpha + T) and p ~ Beta(a, b + x), independent; while alive,
    # E[purchases in t | lambda, p] = (1 - exp(-lambda p t)) / p. Integrate over p numerically.
    r, alpha, a, b = PARAMS.values()
    model = _model(PARAMS)
    one = pd.DataFrame({FREQUENCY: [x], RECENCY: [t_x], T: [big_t]})
    days = 45.0
    _, p_pdf = _densities({"r": r, "alpha": alpha, "a": a, "b": b + x})

    def per_p(p: float) -> float:
        return p_pdf(p) * (1 - ((alpha + big_t) / (alpha + big_t + p * days)) ** (r + x)) / p

    expected = model.p_alive(one)[0] * integrate.quad(per_p, 0, 1, limit=200, epsabs=1e-12)[0]
    assert model.expected_purchases(one, days)[0] == pytest.approx(expected, rel=1e-6)


def test_fit_recovers_the_parameters_it_was_drawn_from(customers, fitted):
    frame, *_ = customers
    assert fitted.converged_
    for name, value in TRUE.items():
        assert fitted.params_[name] == pytest.approx(value, rel=0.2), name
    # Maximum likelihood: the fitted parameters explain the data at least as well as the true ones.
    truth_ll = _bgnbd_log_likelihood(np.array(list(TRUE.values())), *(frame[c].to_numpy() for c in (FREQUENCY, RECENCY, T))).mean()
    assert fitted.log_likelihood_ >= truth_ll - 1e-9


def test_predictions_match_the_simulated_future(customers, fitted):
    frame, future, *_ = customers
    predicted = fitted.predict(frame)
    quiet = fitted.p_no_purchase(frame, 60.0)
    # Overall and within quintiles of the prediction, the expected count and the share buying nothing match.
    assert predicted.mean() == pytest.approx(future.mean(), rel=0.05)
    assert quiet.mean() == pytest.approx((future == 0).mean(), abs=0.01)
    groups = pd.qcut(pd.Series(predicted).rank(method="first"), 5, labels=False)
    by = pd.DataFrame({"g": groups, "pred": predicted, "future": future, "quiet": quiet, "none": future == 0}).groupby("g").mean()
    assert (np.abs(by["pred"] - by["future"]) <= 0.1 * by["future"] + 0.02).all(), by
    assert (np.abs(by["quiet"] - by["none"]) <= 0.03).all(), by
    # A ranking signal: customers expected to buy more do buy more.
    assert stats.spearmanr(predicted, future).statistic > 0.4


def test_more_recent_buyers_are_likelier_alive_all_else_equal(fitted):
    frame = pd.DataFrame({FREQUENCY: [5, 5, 5], RECENCY: [50.0, 150.0, 190.0], T: [200.0] * 3})
    alive = fitted.p_alive(frame)
    assert alive[0] < alive[1] < alive[2]
    # Without repeat purchases nobody has had the chance to leave.
    assert fitted.p_alive(pd.DataFrame({FREQUENCY: [0], RECENCY: [0.0], T: [300.0]}))[0] == 1.0


def test_arrays_and_frames_give_the_same_fit(customers):
    frame, *_ = customers
    small = frame.head(3000)
    a = BetaGeoModel().fit(small)
    b = BetaGeoModel().fit(small.to_numpy())
    assert a.params_ == pytest.approx(b.params_)


def test_bad_input_is_refused_with_the_column_named():
    with pytest.raises(NotFittedError):
        BetaGeoModel().p_alive(pd.DataFrame({FREQUENCY: [1], RECENCY: [1.0], T: [2.0]}))
    with pytest.raises(BtydInputError, match="lacks column T"):
        BetaGeoModel().fit(pd.DataFrame({FREQUENCY: [1], RECENCY: [1.0]}))
    with pytest.raises(BtydInputError, match="recency exceeds T"):
        BetaGeoModel().fit(pd.DataFrame({FREQUENCY: [1], RECENCY: [5.0], T: [2.0]}))
    with pytest.raises(BtydInputError, match="frequency holds missing"):
        BetaGeoModel().fit(pd.DataFrame({FREQUENCY: [np.nan], RECENCY: [0.0], T: [2.0]}))
    with pytest.raises(BtydInputError, match="no rows"):
        BetaGeoModel().fit(np.zeros((0, 3)))
    with pytest.raises(BtydInputError, match="shape"):
        BetaGeoModel().fit(np.zeros((4, 2)))


def draw_gamma_gamma(rng: np.random.Generator, n: int, p: float, q: float, gamma: float):
    nu = rng.gamma(q, 1.0 / gamma, n)  # per-customer rate of the amounts
    x = 1 + rng.poisson(3.0, n)
    amounts = [rng.gamma(p, 1.0 / v, k) for v, k in zip(nu, x, strict=True)]
    frame = pd.DataFrame({FREQUENCY: x.astype(float), MONETARY: [a.mean() for a in amounts]})
    return frame, p / nu  # the true expected amount per purchase


def test_gamma_gamma_recovers_its_parameters_and_shrinks_towards_the_mean():
    rng = np.random.default_rng(5)
    frame, true_mean = draw_gamma_gamma(rng, 20_000, p=4.0, q=5.0, gamma=300.0)
    model = GammaGammaModel().fit(frame)
    assert model.p_ == pytest.approx(4.0, rel=0.1)
    assert model.q_ == pytest.approx(5.0, rel=0.15)
    assert model.gamma_ == pytest.approx(300.0, rel=0.2)
    predicted = model.predict(frame)
    # Shrinking each customer's own mean towards the population's is closer to the truth than the raw mean.
    rmse = lambda v: float(np.sqrt(np.mean((v - true_mean) ** 2)))  # noqa: E731
    assert rmse(predicted) < rmse(frame[MONETARY].to_numpy())
    assert predicted.mean() == pytest.approx(true_mean.mean(), rel=0.05)
    # A customer without repeat purchases gets the population's mean amount.
    none = model.predict(pd.DataFrame({FREQUENCY: [0.0], MONETARY: [0.0]}))[0]
    assert none == pytest.approx(model.mean_amount_) and model.mean_amount_ == pytest.approx(4.0 * 300.0 / 4.0, rel=0.2)


def test_gamma_gamma_needs_repeat_buyers():
    with pytest.raises(BtydInputError, match="repeat purchases"):
        GammaGammaModel().fit(pd.DataFrame({FREQUENCY: [0.0, 0.0], MONETARY: [0.0, 0.0]}))
