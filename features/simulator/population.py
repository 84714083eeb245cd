"""Drawing users: their visible profile, hidden parameters and starting state."""

from __future__ import annotations

from dataclasses import dataclass, fields

import numpy as np

from features.simulator import dynamics, world

PRE_EXISTING_YEARS = 2.0  # pre-existing users signed up within this many years before the start
SIGNUP_GROWTH = 0.3  # log growth of the signup rate per year
IN_WINDOW_SHARE_PER_MONTH = 0.07  # share of users signing up per month of the window
IN_WINDOW_SHARE_MAX = 0.8
# A share of users are "tourists": they come for a deal, may buy once, and rarely return.
TOURIST_SHARE = 0.5
TOURIST_ENGAGEMENT = -2.4
# After a first purchase many users lose interest (a trial purchase): they start drifting.
TRIAL_DRIFT = (0.7, 0.95)  # probability for regular users, for tourists
FREQUENCY_SIGMA = 0.8  # spread of how often users buy relative to their categories' cycle
RATE_SCALE = 15.0
TAU_SHARE = 0.3  # the need to buy again builds up over this share of the cycle


@dataclass
class Population:
    """Static per-user attributes (arrays of length n). Hidden ones drive behaviour."""

    signup_day: np.ndarray  # int, day number; negative for users who signed up before the window
    signup_second: np.ndarray  # second of the signup day
    member_tier: np.ndarray  # index into world.MEMBER_TIERS
    city_tier: np.ndarray  # index into world.CITY_TIERS
    region: np.ndarray
    channel: np.ndarray
    uplift: np.ndarray  # index into world.UPLIFT_TYPES (hidden)
    base_engagement: np.ndarray
    session_rate: np.ndarray
    purchase_rate: np.ndarray
    tau: np.ndarray  # days for the need to buy again to build up
    drift_hazard: np.ndarray
    drift_speed: np.ndarray
    cancel_probability: np.ndarray
    late_probability: np.ndarray
    refund_probability: np.ndarray
    login_probability: np.ndarray
    spend: np.ndarray  # basket value multiplier
    first_purchase: np.ndarray  # a new user's daily first-purchase intensity at signup
    trial_drift: np.ndarray  # probability of drifting right after the first purchase
    coupon_multiplier: np.ndarray
    preference: np.ndarray  # (n, categories) probabilities

    def __len__(self) -> int:
        return len(self.signup_day)

    def take(self, index: np.ndarray) -> Population:
        """The population restricted to (or repeated along) ``index``."""
        return Population(**{f.name: getattr(self, f.name)[index] for f in fields(self)})


@dataclass
class State:
    """Hidden, evolving per-user state at the start of a day."""

    engagement: np.ndarray
    drifting: np.ndarray
    frustration: np.ndarray
    since: np.ndarray  # days since the last purchase (meaningless when never bought)
    bought: np.ndarray

    def take(self, index: np.ndarray) -> State:
        return State(**{f.name: getattr(self, f.name)[index].copy() for f in fields(self)})


def in_window_share(days: int) -> float:
    """Share of users who sign up inside the simulated window."""
    return min(IN_WINDOW_SHARE_MAX, IN_WINDOW_SHARE_PER_MONTH * days / 30.44)


def draw_signup_days(rng: np.random.Generator, n: int, days: int) -> np.ndarray:
    """Signup day numbers: pre-existing users before day 0, the rest growing over the window."""
    inside = rng.random(n) < in_window_share(days)
    # Inside the window: density proportional to exp(growth * t / 365).
    g = SIGNUP_GROWTH * days / 365.0
    u = rng.random(n)
    t_inside = np.log1p(u * np.expm1(g)) / g * days if g > 0 else u * days
    # Before the window: more recent signups are more common.
    back = PRE_EXISTING_YEARS * 365.0
    t_before = -back * rng.random(n) ** 1.5 - 1.0
    return np.floor(np.where(inside, t_inside, t_before)).astype(np.int64)


def choose_each(rng: np.random.Generator, probs: np.ndarray) -> np.ndarray:
    """One category per row of ``probs`` (n, k), vectorised."""
    cum = np.cumsum(probs, axis=1)
    u = rng.random(len(probs))[:, None] * cum[:, -1:]
    return np.minimum((u > cum).sum(axis=1), probs.shape[1] - 1)


def draw_population(rng: np.random.Generator, n: int, days: int) -> Population:
    """Draw ``n`` users for a window of ``days`` days."""
    signup_day = draw_signup_days(rng, n, days)
    years_in = np.clip(signup_day, 0, None) / 365.0
    city_logw = np.log(world.CITY_TIER_SHARE)[None, :] + world.CITY_TIER_GROWTH[None, :] * years_in[:, None]
    city_tier = choose_each(rng, np.exp(city_logw))
    region = rng.choice(len(world.REGIONS), size=n, p=world.REGION_SHARE)
    channel = rng.choice(len(world.CHANNELS), size=n, p=world.CHANNEL_SHARE)

    value = rng.normal(0.0, 1.0, n)  # latent customer value
    noisy = value + rng.normal(0.0, 0.6, n)
    q = np.searchsorted(np.sort(rng.normal(0.0, np.sqrt(1.36), 4001)), noisy) / 4001.0
    member_tier = np.searchsorted(world.MEMBER_TIER_QUANTILES, q)

    persuadable = world.CHANNEL_PERSUADABLE[channel]
    rest = 1.0 - persuadable
    uplift_p = np.stack([persuadable, 0.3 * rest, 0.58 * rest, 0.12 * rest], axis=1)
    uplift = choose_each(rng, uplift_p)

    favourite = rng.choice(len(world.CATEGORIES), size=n, p=world.CATEGORY_SHARE)
    preference = rng.dirichlet(np.full(len(world.CATEGORIES), 0.35), size=n)
    preference = 0.4 * preference + 0.6 * np.eye(len(world.CATEGORIES))[favourite]
    cycle = 1.0 / (preference / world.CATEGORY_CYCLE[None, :]).sum(axis=1)

    tourist = rng.random(n) < TOURIST_SHARE
    base_engagement = (
        0.3 * value + world.CHANNEL_ENGAGEMENT[channel] + rng.normal(0.0, 0.45, n) + np.where(tourist, TOURIST_ENGAGEMENT, 0.0)
    )
    frequency = np.exp(rng.normal(0.0, FREQUENCY_SIGMA, n) + 0.25 * value)
    purchase_rate = RATE_SCALE * frequency / cycle
    drift_hazard = (
        (1.0 / 2500.0)
        * world.CHANNEL_DRIFT[channel]
        * world.MEMBER_TIER_DRIFT[member_tier]
        * np.exp(rng.normal(0.0, 0.6, n) - 0.2 * value)
    )
    return Population(
        signup_day=signup_day,
        signup_second=rng.integers(6 * 3600, 23 * 3600, n),
        member_tier=member_tier.astype(np.int8),
        city_tier=city_tier.astype(np.int8),
        region=region.astype(np.int8),
        channel=channel.astype(np.int8),
        uplift=uplift.astype(np.int8),
        base_engagement=base_engagement,
        session_rate=np.exp(rng.normal(np.log(0.32), 0.5, n)),
        purchase_rate=purchase_rate,
        tau=TAU_SHARE * cycle,
        drift_hazard=drift_hazard,
        drift_speed=rng.uniform(0.05, 0.14, n),
        cancel_probability=rng.uniform(0.02, 0.08, n),
        late_probability=world.CITY_TIER_LATE[city_tier],
        refund_probability=preference @ world.CATEGORY_REFUND,
        login_probability=rng.uniform(0.3, 1.0, n),
        spend=np.exp(0.35 * value + rng.normal(0.0, 0.25, n))
        * world.CITY_TIER_SPEND[city_tier]
        * world.MEMBER_TIER_SPEND[member_tier],
        first_purchase=world.CHANNEL_FIRST_PURCHASE[channel] * np.exp(rng.normal(0.0, 0.4, n)),
        coupon_multiplier=world.UPLIFT_MULTIPLIER[uplift],
        trial_drift=np.where(tourist, TRIAL_DRIFT[1], TRIAL_DRIFT[0]),
        preference=preference,
    )


def initial_state(rng: np.random.Generator, pop: Population) -> State:
    """State at the start of day 0. Users signing up later start fresh on their signup day."""
    n = len(pop)
    age = np.maximum(-pop.signup_day, 0).astype(float)
    existing = pop.signup_day < 0
    bought = existing & (rng.random(n) < 0.9)
    drifting = bought & (rng.random(n) < 0.05)
    fallen = rng.uniform(0.0, 4.0, n)
    engagement = pop.base_engagement + rng.normal(0.0, 0.2, n)
    engagement = np.where(drifting, engagement - fallen, engagement)
    # Existing users who never bought have been losing interest since signup.
    engagement = np.where(existing & ~bought, engagement - np.minimum(age, 120.0) * dynamics.NEWCOMER_DECAY, engagement)
    since = np.minimum(rng.exponential(45.0, n) + 1.0, np.maximum(age, 1.0))
    return State(
        engagement=np.maximum(engagement, dynamics.E_MIN),
        drifting=drifting,
        frustration=np.zeros(n),
        since=np.where(bought, np.floor(since), 0.0),
        bought=bought,
    )


def fresh_state_for(state: State, pop: Population, newly: np.ndarray) -> None:
    """Reset the state of users who sign up today (``newly`` mask), in place."""
    state.engagement[newly] = pop.base_engagement[newly]
    state.drifting[newly] = False
    state.frustration[newly] = 0.0
    state.since[newly] = 0.0
    state.bought[newly] = False
