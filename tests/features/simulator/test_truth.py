"""The ground truth equals what the simulation actually does (checked by Monte Carlo)."""

from __future__ import annotations

import copy
import datetime as dt

import numpy as np
import pytest

from features.simulator import engine, population, truth, world
from features.simulator.config import COUPON_VALID_DAYS, HORIZON_DAYS

START = dt.date(2025, 4, 1)
DAYS = 120
NIGHT = 59  # the truth is taken after this day
REPLICAS = 300


@pytest.fixture(scope="module")
def snapshot():
    """A small world simulated up to NIGHT, with the state that night."""
    rng = np.random.default_rng(11)
    pop = population.draw_population(rng, 1500, DAYS)
    state = population.initial_state(rng, pop)
    calendar = world.build_calendar(START, DAYS)
    plan = engine.draw_coupon_plan(rng, pop, world.build_campaigns(START, DAYS), DAYS)
    seen = {}

    def keep(t, s):
        if t == NIGHT:
            seen["state"] = copy.deepcopy(s)

    engine.run_chunk(rng, pop, state, calendar, plan, keep)
    alive = np.flatnonzero(pop.signup_day <= NIGHT)
    return pop.take(alive), seen["state"].take(alive), calendar, plan.active[alive], plan.issued[alive]


def _monte_carlo(pop, state, calendar, active, issued, seed):
    """Share of REPLICAS simulated futures with no purchase in the horizon, per user."""
    rng = np.random.default_rng(seed)
    idx = np.repeat(np.arange(len(pop)), REPLICAS)
    p, s = pop.take(idx), state.take(idx)
    a, i = active[idx], issued[idx]
    bought = np.zeros(len(idx), dtype=bool)
    for t in range(NIGHT + 1, NIGHT + 1 + HORIZON_DAYS):
        outcome = engine.step_day(rng, p, s, t, calendar, i[:, t], a[:, t])
        bought |= outcome.paid > 0
    return 1.0 - bought.reshape(-1, REPLICAS).mean(axis=1)


def _assert_matches(exact, empirical):
    """Per decile of the exact probability, the simulated share agrees within 4 standard errors."""
    edges = np.quantile(exact, np.linspace(0, 1, 11))
    bins = np.clip(np.searchsorted(edges, exact, side="right") - 1, 0, 9)
    for b in range(10):
        m = bins == b
        if not m.any():
            continue
        se = np.sqrt(np.sum(exact[m] * (1 - exact[m])) / REPLICAS) / m.sum() + 1e-4
        assert abs(empirical[m].mean() - exact[m].mean()) < 4 * se, (b, empirical[m].mean(), exact[m].mean(), se)
    assert abs(empirical.mean() - exact.mean()) < 0.01


def test_truth_matches_the_simulated_future(snapshot):
    pop, state, calendar, active, issued = snapshot
    window = slice(NIGHT + 1, NIGHT + 1 + HORIZON_DAYS)
    exact = truth.no_purchase_probability(pop, state, NIGHT + 1, calendar.orders[window], active[:, window], issued[:, window])
    assert np.all((exact >= 0) & (exact <= 1))
    assert exact.std() > 0.2  # users differ a lot: the truth is informative
    _assert_matches(exact, _monte_carlo(pop, state, calendar, active, issued, seed=5))


def test_coupon_effect_matches_a_simulated_coupon(snapshot):
    pop, state, calendar, active, issued = snapshot
    window = slice(NIGHT + 1, NIGHT + 1 + HORIZON_DAYS)
    p, effect = truth.churn_and_coupon_effect(
        pop, state, NIGHT + 1, calendar.orders[window], active[:, window], issued[:, window], COUPON_VALID_DAYS
    )
    with_coupon_issued = issued.copy()
    with_coupon_issued[:, NIGHT + 1] = True
    with_coupon_active = active.copy()
    with_coupon_active[:, NIGHT + 1 : NIGHT + 1 + COUPON_VALID_DAYS] = True
    _assert_matches(p + effect, _monte_carlo(pop, state, calendar, with_coupon_active, with_coupon_issued, seed=6))

    kind = np.asarray(world.UPLIFT_TYPES)[pop.uplift]
    assert effect[kind == "persuadable"].mean() < -0.03  # the coupon helps them
    assert effect[kind == "sleeping_dog"].mean() > 0.01  # and hurts these
    assert abs(effect[kind == "lost_cause"].mean()) < 0.005  # and does nothing for these
