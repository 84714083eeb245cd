"""The simulated platform's catalogue: categories, tiers, channels, calendar.

Numbers are chosen to resemble a Chinese e-commerce platform's monthly
operations report: appliance and digital baskets are large and rare, fresh
food small and weekly; tier-1 cities spend more, lower tiers grow faster;
618 and Double 11 bring spikes and a lull after them.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Category:
    name: str
    median_price: float  # CNY
    price_sigma: float  # log-normal spread of basket value
    cycle_days: float  # typical repurchase cycle
    share: float  # share of users whose favourite category it is
    refund_rate: float


CATEGORIES: tuple[Category, ...] = (
    Category("home_appliances", 1100.0, 0.75, 200.0, 0.08, 0.05),
    Category("beauty_personal_care", 170.0, 0.70, 35.0, 0.18, 0.04),
    Category("fresh_food", 85.0, 0.55, 9.0, 0.17, 0.02),
    Category("apparel", 210.0, 0.70, 50.0, 0.20, 0.15),
    Category("mother_baby", 160.0, 0.60, 21.0, 0.10, 0.04),
    Category("digital", 1500.0, 0.95, 150.0, 0.10, 0.06),
    Category("home_goods", 110.0, 0.80, 45.0, 0.17, 0.05),
)
CATEGORY_NAMES = tuple(c.name for c in CATEGORIES)
CATEGORY_PRICE = np.array([c.median_price for c in CATEGORIES])
CATEGORY_SIGMA = np.array([c.price_sigma for c in CATEGORIES])
CATEGORY_CYCLE = np.array([c.cycle_days for c in CATEGORIES])
CATEGORY_SHARE = np.array([c.share for c in CATEGORIES])
CATEGORY_REFUND = np.array([c.refund_rate for c in CATEGORIES])

MEMBER_TIERS = ("regular", "silver", "gold", "platinum")
# Tier cut-offs on the latent value quantile at signup.
MEMBER_TIER_QUANTILES = np.array([0.62, 0.86, 0.97])
MEMBER_TIER_SPEND = np.array([0.9, 1.1, 1.4, 2.0])
MEMBER_TIER_DRIFT = np.array([1.15, 0.9, 0.7, 0.55])

CITY_TIERS = (1, 2, 3, 4)
CITY_TIER_SHARE = np.array([0.22, 0.30, 0.26, 0.22])
# Lower-tier cities grow faster: their share of new signups rises over time.
CITY_TIER_GROWTH = np.array([0.0, 0.2, 0.6, 0.9])  # extra log-weight per year
CITY_TIER_SPEND = np.array([1.35, 1.1, 0.9, 0.75])
CITY_TIER_LATE = np.array([0.02, 0.035, 0.055, 0.08])  # late-delivery probability

REGIONS = ("east", "south", "north", "central", "southwest", "northwest", "northeast")
REGION_SHARE = np.array([0.28, 0.2, 0.16, 0.13, 0.11, 0.06, 0.06])

CHANNELS = ("organic_search", "paid_ads", "social_livestream", "direct", "group_buying")
CHANNEL_SHARE = np.array([0.25, 0.22, 0.20, 0.15, 0.18])
CHANNEL_ENGAGEMENT = np.array([0.10, -0.25, -0.10, 0.30, 0.00])
CHANNEL_DRIFT = np.array([0.9, 1.4, 1.3, 0.7, 1.1])
# Livestream shoppers buy on impulse at first; group-buyers respond to coupons.
CHANNEL_FIRST_PURCHASE = np.array([0.05, 0.04, 0.07, 0.05, 0.05])  # per day, at signup
CHANNEL_PERSUADABLE = np.array([0.22, 0.22, 0.25, 0.12, 0.40])

# How a coupon changes a user's purchase intensity while it is valid.
UPLIFT_TYPES = ("persuadable", "sure_thing", "lost_cause", "sleeping_dog")
UPLIFT_MULTIPLIER = np.array([3.0, 1.05, 1.0, 0.55])
SLEEPING_DOG = UPLIFT_TYPES.index("sleeping_dog")


@dataclass(frozen=True)
class Calendar:
    """Per-day multipliers over the simulated window (index = day number)."""

    dates: np.ndarray  # datetime64[D]
    sessions: np.ndarray  # multiplier of session intensity
    orders: np.ndarray  # multiplier of purchase intensity
    basket: np.ndarray  # multiplier of basket value


def _promotion(dates: np.ndarray, month: int, day: int) -> np.ndarray:
    """Days relative to each year's promotion day (0 on the day)."""
    years = dates.astype("datetime64[Y]").astype(int) + 1970
    promo = np.array([np.datetime64(dt.date(int(y), month, day)) for y in years])
    return (dates - promo).astype(int)


def build_calendar(start: dt.date, days: int) -> Calendar:
    """Weekly rhythm plus 618, Double 11 and Double 12 for ``days`` days from ``start``."""
    dates = np.datetime64(start, "D") + np.arange(days)
    weekday = (dates.astype(int) + 3) % 7  # 0 = Monday
    sessions = np.array([1.0, 0.97, 0.97, 1.0, 1.05, 1.2, 1.25])[weekday]
    orders = np.array([1.0, 0.97, 0.97, 1.0, 1.05, 1.12, 1.15])[weekday]
    basket = np.ones(days)
    for month, day, pre_days, peak, pre, lull in ((6, 18, 17, 4.0, 1.15, 0.8), (11, 11, 18, 6.0, 1.15, 0.75), (12, 12, 0, 2.0, 1.0, 0.9)):
        rel = _promotion(dates, month, day)
        on_day = rel == 0
        before = (rel < 0) & (rel >= -pre_days)
        after = (rel > 0) & (rel <= 7)
        orders = np.where(on_day, orders * peak, orders)
        orders = np.where(before, orders * pre, orders)
        orders = np.where(after, orders * lull, orders)
        sessions = np.where(on_day, sessions * 2.0, sessions)
        sessions = np.where(before, sessions * 1.2, sessions)
        basket = np.where(on_day, basket * 1.3, basket)
    return Calendar(dates=dates, sessions=sessions, orders=orders, basket=basket)


@dataclass(frozen=True)
class Campaign:
    campaign_id: str
    day: int  # day number of issue
    value: float
    target_share: float  # share of existing users picked
    control_share: float  # share of picked users held out


def build_campaigns(start: dt.date, days: int) -> tuple[Campaign, ...]:
    """A retention campaign on the 10th of each month, plus warm-ups before 618 and Double 11."""
    out = []
    for t in range(days):
        d = start + dt.timedelta(days=t)
        if d.day == 10:
            out.append(Campaign(f"monthly-{d:%Y-%m}", t, 15.0, 0.12, 0.10))
        elif (d.month, d.day) == (6, 1):
            out.append(Campaign(f"618-warmup-{d:%Y}", t, 30.0, 0.15, 0.10))
        elif (d.month, d.day) == (10, 24):
            out.append(Campaign(f"double11-warmup-{d:%Y}", t, 50.0, 0.15, 0.10))
    return tuple(out)
