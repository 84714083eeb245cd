"""The day-by-day simulation of one chunk of users (vectorised over users)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from features.simulator import dynamics as dyn
from features.simulator import world
from features.simulator.config import COUPON_VALID_DAYS
from features.simulator.population import Population, State, fresh_state_for


@dataclass(frozen=True)
class CouponPlan:
    """Which users each campaign picks; drawn up front, independent of behaviour.

    ``user``, ``campaign`` and ``control`` are parallel arrays, one entry per
    picked user. ``issued`` (n, days) marks treatment coupons issued on a day and
    ``active`` (n, days) the days a treatment coupon is valid.
    """

    user: np.ndarray
    campaign: np.ndarray
    control: np.ndarray
    issued: np.ndarray
    active: np.ndarray


def draw_coupon_plan(rng: np.random.Generator, pop: Population, campaigns: tuple[world.Campaign, ...], days: int) -> CouponPlan:
    """Randomised campaigns: each picks a share of the users signed up before its day,
    and holds a share of those out as a control group."""
    n = len(pop)
    users, camps, controls = [], [], []
    issued = np.zeros((n, days), dtype=bool)
    for c_index, campaign in enumerate(campaigns):
        picked = (pop.signup_day < campaign.day) & (rng.random(n) < campaign.target_share)
        control = rng.random(n) < campaign.control_share
        idx = np.flatnonzero(picked)
        users.append(idx)
        camps.append(np.full(len(idx), c_index))
        controls.append(control[idx])
        issued[idx[~control[idx]], campaign.day] = True
    csum = np.cumsum(issued, axis=1, dtype=np.int32)
    lagged = np.zeros_like(csum)
    lagged[:, COUPON_VALID_DAYS:] = csum[:, :-COUPON_VALID_DAYS]
    return CouponPlan(
        user=np.concatenate(users) if users else np.zeros(0, dtype=np.int64),
        campaign=np.concatenate(camps) if camps else np.zeros(0, dtype=np.int64),
        control=np.concatenate(controls) if controls else np.zeros(0, dtype=bool),
        issued=issued,
        active=(csum - lagged) > 0,
    )


@dataclass
class DayOutcome:
    sessions: np.ndarray
    paid: np.ndarray
    cancelled: np.ndarray
    late: np.ndarray
    refund: np.ndarray
    engagement: np.ndarray  # at the start of the day (drives browse duration)


def step_day(
    rng: np.random.Generator,
    pop: Population,
    state: State,
    t: int,
    calendar: world.Calendar,
    issued_today: np.ndarray,
    active_today: np.ndarray,
) -> DayOutcome:
    """Simulate day ``t`` for every user and advance ``state`` to the next morning (in place)."""
    n = len(pop)
    fresh_state_for(state, pop, pop.signup_day == t)
    alive = pop.signup_day <= t
    sleeping_dog = pop.uplift == world.SLEEPING_DOG
    state.frustration = state.frustration + dyn.SLEEPING_DOG_FRUSTRATION * (sleeping_dog & issued_today)
    coupon = np.where(active_today, pop.coupon_multiplier, 1.0)
    age = t - pop.signup_day
    habitual = dyn.regime_free_intensity(pop.purchase_rate, state.since, state.bought, pop.tau, calendar.orders[t], coupon)
    newcomer = dyn.newcomer_intensity(age, state.bought, pop.first_purchase, calendar.orders[t], coupon)
    intensity = habitual * dyn.engagement_factor(state.engagement) + newcomer
    intensity = np.where(alive, intensity, 0.0)
    engagement_today = state.engagement.copy()

    paid = rng.poisson(intensity)
    cancel_p = pop.cancel_probability
    cancelled = rng.poisson(intensity * cancel_p / (1.0 - cancel_p))
    session_intensity = np.where(alive, pop.session_rate * np.exp(state.engagement) * calendar.sessions[t], 0.0)
    sessions = np.maximum(rng.poisson(session_intensity), (paid + cancelled) > 0)
    u_late, u_refund, u_recover, u_switch, u_trial = rng.random((5, n))
    buyers = paid > 0
    late = buyers & (u_late < -np.expm1(paid * np.log1p(-pop.late_probability)))
    refund = buyers & (u_refund < -np.expm1(paid * np.log1p(-pop.refund_probability)))

    # A purchase: the need resets; it may pull a drifting user back; bad experiences frustrate.
    recover = buyers & state.drifting & (u_recover < dyn.RECOVERY_PROBABILITY)
    trial = buyers & ~state.bought & (u_trial < pop.trial_drift)
    state.drifting = (state.drifting & ~recover) | trial
    state.engagement = (
        state.engagement
        + recover * dyn.RECOVERY_BUMP
        + buyers * dyn.PURCHASE_BUMP
        - late * dyn.LATE_ENGAGEMENT_HIT
        - trial * dyn.TRIAL_ENGAGEMENT_DROP
    )
    state.frustration = state.frustration + late * dyn.LATE_FRUSTRATION + refund * dyn.REFUND_FRUSTRATION
    state.since = np.where(buyers, 0.0, state.since)
    state.bought = state.bought | buyers

    # End of the day: an engaged user may start drifting; engagement moves; frustration fades.
    switch = alive & ~state.drifting & (u_switch < dyn.switch_probability(state.frustration, pop.drift_hazard, age))
    state.drifting = state.drifting | switch
    state.engagement = dyn.next_engagement(state.engagement, state.drifting, state.bought, pop.base_engagement, pop.drift_speed)
    state.frustration = state.frustration * dyn.FRUSTRATION_DECAY
    state.since = state.since + 1.0
    return DayOutcome(
        sessions=sessions,
        paid=paid,
        cancelled=cancelled,
        late=late,
        refund=refund,
        engagement=engagement_today,
    )


@dataclass
class History:
    """Per user and day: what happened (arrays of shape (n, days))."""

    sessions: np.ndarray
    paid: np.ndarray
    cancelled: np.ndarray
    late: np.ndarray
    refund: np.ndarray
    engagement: np.ndarray


def run_chunk(
    rng: np.random.Generator,
    pop: Population,
    state: State,
    calendar: world.Calendar,
    plan: CouponPlan,
    on_day_end: Callable[[int, State], None] | None = None,
) -> History:
    """Simulate every day of the window; ``on_day_end(t, state)`` sees the state after day t."""
    n, days = len(pop), len(calendar.dates)
    hist = History(
        sessions=np.zeros((n, days), dtype=np.uint8),
        paid=np.zeros((n, days), dtype=np.uint8),
        cancelled=np.zeros((n, days), dtype=np.uint8),
        late=np.zeros((n, days), dtype=bool),
        refund=np.zeros((n, days), dtype=bool),
        engagement=np.zeros((n, days), dtype=np.float32),
    )
    for t in range(days):
        out = step_day(rng, pop, state, t, calendar, plan.issued[:, t], plan.active[:, t])
        hist.sessions[:, t] = np.minimum(out.sessions, 255)
        hist.paid[:, t] = np.minimum(out.paid, 255)
        hist.cancelled[:, t] = np.minimum(out.cancelled, 255)
        hist.late[:, t] = out.late
        hist.refund[:, t] = out.refund
        hist.engagement[:, t] = out.engagement
        if on_day_end is not None:
            on_day_end(t, state)
    return hist
