"""The hidden behaviour model, shared by the simulation and its ground truth.

Each user has an engagement level ``e`` (log-scale), a regime (engaged, or
drifting away), a frustration level raised by bad experiences, the days since
their last purchase, and whether they ever bought. Per day:

* sessions ~ Poisson(session_rate * exp(e) * calendar);
* purchases ~ Poisson(lambda), with
  lambda = (purchase_rate * sigmoid(GAMMA * (e - E_BUY)) * need(since) + newcomer(age))
  * calendar * coupon multiplier; ``newcomer`` is a new user's curiosity, a
  first-purchase intensity that fades over a few weeks and ends with the first
  purchase.
  Sessions fall as soon as ``e`` falls, purchases only once ``e`` nears
  ``E_BUY``: drifting users log in less and browse shorter *before* they stop
  buying;
* at the end of the day an engaged user starts drifting with probability
  1 - exp(-(drift_hazard * youth(age) + FRUSTRATION_HAZARD * frustration))
  (young accounts drift more easily); a drifting
  user's engagement falls by ``drift_speed`` a day; an engaged user's reverts
  to its base; a user who never bought loses NEWCOMER_DECAY a day on top;
* a purchase can pull a drifting user back; a late delivery or a refund adds
  frustration.

Every function here is elementwise over numpy arrays (any broadcastable
shape), so the simulation (users) and the ground truth (users x paths x days)
evaluate exactly the same formulas.
"""

from __future__ import annotations

import numpy as np

GAMMA = 2.5  # steepness of purchase response to engagement
E_BUY = -1.0  # engagement at which purchase intensity is halved
E_MIN = -6.0  # floor of engagement
REVERSION = 0.1  # daily reversion of an engaged user's engagement to its base
NEWCOMER_DECAY = 0.15  # daily loss of engagement of a user who never bought
NEWCOMER_DAYS = 10.0  # time scale of a new user's curiosity boost
FRUSTRATION_DECAY = 0.92
FRUSTRATION_HAZARD = 0.025  # extra daily drift hazard per unit of frustration
RECOVERY_PROBABILITY = 0.35  # a purchase pulls a drifting user back
RECOVERY_BUMP = 0.6
PURCHASE_BUMP = 0.05
LATE_FRUSTRATION = 1.0
LATE_ENGAGEMENT_HIT = 0.5
REFUND_FRUSTRATION = 0.5
SLEEPING_DOG_FRUSTRATION = 1.0  # a coupon annoys a "sleeping dog" user
TRIAL_ENGAGEMENT_DROP = 0.6  # a trial buyer's interest falls right after the first purchase
YOUTH_DRIFT = 6.0  # young accounts are not yet in the habit: drifting is this much likelier...
YOUTH_DAYS = 60.0  # ...fading over this many days after signup


def engagement_factor(e: np.ndarray) -> np.ndarray:
    """Purchase propensity in (0, 1) as a function of engagement."""
    return 1.0 / (1.0 + np.exp(-GAMMA * (e - E_BUY)))


def need_factor(since: np.ndarray, bought: np.ndarray, tau: np.ndarray) -> np.ndarray:
    """How ready a user is to buy again, ``since`` days after the last purchase."""
    return np.where(bought, -np.expm1(-since / tau), 1.0)


def newcomer_intensity(
    age: np.ndarray, bought: np.ndarray, first_purchase: np.ndarray, calendar_orders: np.ndarray | float, coupon_multiplier: np.ndarray | float
) -> np.ndarray:
    """A new user's curiosity: a first-purchase intensity strong in the first days, gone after a few weeks."""
    curiosity = first_purchase * np.exp(-np.maximum(age, 0) / NEWCOMER_DAYS)
    return np.where(bought, 0.0, curiosity) * calendar_orders * coupon_multiplier


def regime_free_intensity(
    rate: np.ndarray,
    since: np.ndarray,
    bought: np.ndarray,
    tau: np.ndarray,
    calendar_orders: np.ndarray | float,
    coupon_multiplier: np.ndarray | float,
) -> np.ndarray:
    """The habitual purchase intensity without its engagement factor (which depends on the regime)."""
    return rate * need_factor(since, bought, tau) * calendar_orders * coupon_multiplier


def switch_probability(frustration: np.ndarray, drift_hazard: np.ndarray, age: np.ndarray) -> np.ndarray:
    """Probability that an engaged user starts drifting at the end of a day, ``age`` days after signup."""
    youth = 1.0 + YOUTH_DRIFT * np.exp(-np.maximum(age, 0) / YOUTH_DAYS)
    return -np.expm1(-(drift_hazard * youth + FRUSTRATION_HAZARD * frustration))


def drift_rate(drift_speed: np.ndarray, bought: np.ndarray) -> np.ndarray:
    """Daily fall of a drifting user's engagement."""
    return drift_speed + np.where(bought, 0.0, NEWCOMER_DECAY)


def next_engagement(e: np.ndarray, drifting: np.ndarray, bought: np.ndarray, base: np.ndarray, drift_speed: np.ndarray) -> np.ndarray:
    """Engagement at the start of the next day (after the end-of-day regime switch)."""
    engaged = e + REVERSION * (base - e) - np.where(bought, 0.0, NEWCOMER_DECAY)
    return np.maximum(E_MIN, np.where(drifting, e - drift_rate(drift_speed, bought), engaged))
