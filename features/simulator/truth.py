"""Exact ground truth: P(no purchase in the next H days | hidden state tonight).

Until a user's next purchase, the model's only randomness is *when* an engaged
user starts drifting (drifting users come back only through a purchase).
Everything else on a purchase-free path is deterministic: engagement, the need
to buy again, a newcomer's boost, frustration fading, the calendar and the
coupon plan. So the probability is an exact finite sum over the day the switch
happens (or never):

    P = sum_k P(switch at the end of day k) * exp(-sum_days intensity on that path)

computed with the same formulas as the simulation (:mod:`dynamics`). A coupon
plan counts as known at the date: campaigns are planned and randomised ahead.
"""

from __future__ import annotations

import numpy as np

from features.simulator import dynamics as dyn
from features.simulator import world
from features.simulator.population import Population, State


def no_purchase_probability(
    pop: Population,
    state: State,
    first_day: int,
    calendar_orders: np.ndarray,
    coupon_active: np.ndarray,
    coupon_issued: np.ndarray,
) -> np.ndarray:
    """Probability that each user makes no purchase on days ``first_day .. first_day + H - 1``.

    pop, state: the users, with ``state`` as of the morning of ``first_day``.
    calendar_orders: (H,) calendar multipliers of purchase intensity for those days.
    coupon_active, coupon_issued: (n, H) treatment coupons valid / issued on those days.
    Returns an array of n probabilities.
    """
    n, horizon = len(pop), len(calendar_orders)
    e = state.engagement.copy()
    frustration = state.frustration.copy()
    since = state.since.copy()
    bought = state.bought
    sleeping_dog = pop.uplift == world.SLEEPING_DOG
    regime_free = np.empty((n, horizon))
    newcomer = np.empty((n, horizon))
    engaged_e = np.empty((n, horizon))
    switch_p = np.empty((n, horizon))
    for j in range(horizon):
        frustration = frustration + dyn.SLEEPING_DOG_FRUSTRATION * (sleeping_dog & coupon_issued[:, j])
        coupon = np.where(coupon_active[:, j], pop.coupon_multiplier, 1.0)
        age = first_day + j - pop.signup_day
        regime_free[:, j] = dyn.regime_free_intensity(pop.purchase_rate, since, bought, pop.tau, calendar_orders[j], coupon)
        newcomer[:, j] = dyn.newcomer_intensity(age, bought, pop.first_purchase, calendar_orders[j], coupon)
        engaged_e[:, j] = e
        switch_p[:, j] = dyn.switch_probability(frustration, pop.drift_hazard, age)
        e = dyn.next_engagement(e, np.zeros(n, dtype=bool), bought, pop.base_engagement, pop.drift_speed)
        frustration = frustration * dyn.FRUSTRATION_DECAY
        since = since + 1.0
    rate = dyn.drift_rate(pop.drift_speed, bought)

    # Users drifting tonight: one deterministic path.
    steps = np.arange(horizon)
    drift_e = np.maximum(dyn.E_MIN, state.engagement[:, None] - rate[:, None] * steps[None, :])
    p_drifting = np.exp(-(regime_free * dyn.engagement_factor(drift_e) + newcomer).sum(axis=1))

    # Engaged users: sum over the day they start drifting (or never, within the horizon).
    engaged = ~state.drifting
    if not engaged.any():
        return p_drifting
    F, A, E, S, r = regime_free[engaged], newcomer[engaged], engaged_e[engaged], switch_p[engaged], rate[engaged]
    cum_intensity = np.cumsum(F * dyn.engagement_factor(E) + A, axis=1)
    stay = np.cumprod(1.0 - S, axis=1)  # stay[:, j]: still engaged after the end of day j
    p_engaged = stay[:, horizon - 2] * np.exp(-cum_intensity[:, horizon - 1])
    for j in range(horizon - 1):  # starts drifting at the end of day j
        p_switch = S[:, j] if j == 0 else stay[:, j - 1] * S[:, j]
        path = np.maximum(dyn.E_MIN, (E[:, j] - r)[:, None] - r[:, None] * steps[None, : horizon - 1 - j])
        later = (F[:, j + 1 :] * dyn.engagement_factor(path) + A[:, j + 1 :]).sum(axis=1)
        p_engaged = p_engaged + p_switch * np.exp(-(cum_intensity[:, j] + later))
    out = p_drifting
    out[engaged] = p_engaged
    return out


def churn_and_coupon_effect(
    pop: Population,
    state: State,
    first_day: int,
    calendar_orders: np.ndarray,
    coupon_active: np.ndarray,
    coupon_issued: np.ndarray,
    coupon_days: int,
) -> tuple[np.ndarray, np.ndarray]:
    """P(no purchase) as planned, and its change if a coupon were issued on ``first_day``.

    The effect is negative when the coupon helps (it lowers the churn probability).
    """
    p = no_purchase_probability(pop, state, first_day, calendar_orders, coupon_active, coupon_issued)
    extra_active = coupon_active.copy()
    extra_active[:, :coupon_days] = True
    extra_issued = coupon_issued.copy()
    extra_issued[:, 0] = True
    p_coupon = no_purchase_probability(pop, state, first_day, calendar_orders, extra_active, extra_issued)
    return p, p_coupon - p
