"""The feature catalogue: every feature's name, family, type and meaning, defined once.

Units: counts are integers; ``days_*`` are elapsed days (seconds / 86,400,
fractional) measured back from the cutoff (the end of the ``as_of`` day);
amounts are in the platform's currency; trends are ratios of per-day rates
(recent / earlier; 1 = unchanged, 0.3 = down 70 %), null when the earlier rate
is zero. Windows ``_7d``, ``_30d``, ``_90d`` cover ``(as_of - w, as_of]``;
``prev`` windows are the days just before them. A feature whose table or
column is absent from the dataset is absent from the feature table.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum

from features import contract as C

USER_ID = C.Users.USER_ID
AS_OF = "as_of"
LABEL = "label"
WINDOWS = (7, 30, 90)
CART_WINDOWS = (7, 30)  # carts: intent to buy, recent by nature (a first purchase follows within days)


class FeatureKind(str, Enum):
    COUNT = "count"  # int64, 0 when nothing happened
    NUMBER = "number"  # float64, may be null
    CATEGORY = "category"  # pandas category


@dataclass(frozen=True)
class Feature:
    name: str
    family: str
    kind: FeatureKind
    table: str  # the table it needs
    description: str
    columns: tuple[str, ...] = ()  # optional columns it needs beyond the required ones


def _f(name: str, family: str, kind: FeatureKind, table: str, description: str, columns: tuple[str, ...] = ()) -> Feature:
    return Feature(name, family, kind, table, description, columns)


COUNT, NUMBER, CATEGORY = FeatureKind.COUNT, FeatureKind.NUMBER, FeatureKind.CATEGORY
E, O, U = C.EVENTS, C.ORDERS, C.USERS
SESSION = (C.Events.SESSION_ID,)
EVENT_CATEGORY = (C.Events.CATEGORY,)
DURATION = (C.Events.DURATION_S,)
STATUS = (C.Orders.STATUS,)

FEATURES: tuple[Feature, ...] = (
    # profile
    _f("member_tier", "profile", CATEGORY, U, "membership tier", (C.Users.MEMBER_TIER,)),
    _f("city_tier", "profile", CATEGORY, U, "city tier", (C.Users.CITY_TIER,)),
    _f("region", "profile", CATEGORY, U, "region", (C.Users.REGION,)),
    _f("channel", "profile", CATEGORY, U, "acquisition channel", (C.Users.CHANNEL,)),
    _f("days_since_signup", "profile", NUMBER, U, "days since signup"),
    # activity
    *(_f(f"events_{w}d", "activity", COUNT, E, f"events in the last {w} days") for w in WINDOWS),
    *(_f(f"sessions_{w}d", "activity", COUNT, E, f"distinct sessions in the last {w} days", SESSION) for w in WINDOWS),
    *(_f(f"active_days_{w}d", "activity", COUNT, E, f"days with any event in the last {w} days") for w in WINDOWS),
    *(_f(f"browse_seconds_{w}d", "activity", NUMBER, E, f"browse seconds in the last {w} days", DURATION) for w in WINDOWS),
    *(_f(f"carts_{w}d", "activity", COUNT, E, f"add-to-cart events in the last {w} days") for w in CART_WINDOWS),
    _f("browse_seconds_per_session_30d", "activity", NUMBER, E, "browse seconds per session, last 30 days", SESSION + DURATION),
    _f("days_since_last_event", "activity", NUMBER, E, "days since the last event"),
    _f("activity_trend_7_28", "activity", NUMBER, E, "events per day: last 7 days / the 28 days before"),
    _f("activity_trend_30_60", "activity", NUMBER, E, "events per day: last 30 days / the 60 days before"),
    _f("browse_trend_30_60", "activity", NUMBER, E, "browse seconds per day: last 30 days / the 60 days before", DURATION),
    _f("top_browsed_category_30d", "activity", CATEGORY, E, "most frequent category of events (page views, carts) in the last 30 days (ties: alphabetical)", EVENT_CATEGORY),
    # logins
    *(_f(f"logins_{w}d", "logins", COUNT, E, f"logins in the last {w} days") for w in WINDOWS),
    _f("days_since_last_login", "logins", NUMBER, E, "days since the last login"),
    _f("login_gap_mean_90d", "logins", NUMBER, E, "mean gap in days between login days, last 90 days"),
    _f("login_gap_std_90d", "logins", NUMBER, E, "standard deviation of the gaps between login days, last 90 days"),
    _f("login_trend_7_28", "logins", NUMBER, E, "logins per day: last 7 days / the 28 days before"),
    _f("login_trend_30_60", "logins", NUMBER, E, "logins per day: last 30 days / the 60 days before"),
    # purchases (an order with status paid or refunded; every order when there is no status)
    *(_f(f"orders_{w}d", "purchases", COUNT, O, f"purchases in the last {w} days") for w in WINDOWS),
    _f("orders_all", "purchases", COUNT, O, "purchases ever"),
    _f("purchase_days_all", "purchases", COUNT, O, "days with a purchase, ever (several purchases on one day count once)"),
    _f("days_since_last_order", "purchases", NUMBER, O, "days since the last purchase"),
    _f("order_gap_mean", "purchases", NUMBER, O, "mean gap in calendar days between purchase days"),
    _f("order_gap_median", "purchases", NUMBER, O, "median gap in calendar days between purchase days"),
    _f("order_gap_std", "purchases", NUMBER, O, "standard deviation of the gaps between purchase days"),
    _f("order_overdue", "purchases", NUMBER, O, "days since the last purchase / median gap between purchase days"),
    _f("days_signup_to_first_order", "purchases", NUMBER, O, "days from signup to the first purchase"),
    _f("days_since_first_order", "purchases", NUMBER, O, "customer tenure: days since the first purchase"),
    _f("cancelled_orders_90d", "purchases", COUNT, O, "cancelled orders in the last 90 days", STATUS),
    # spend
    _f("spend_30d", "spend", NUMBER, O, "amount spent in the last 30 days"),
    _f("spend_90d", "spend", NUMBER, O, "amount spent in the last 90 days"),
    _f("spend_all", "spend", NUMBER, O, "amount spent ever"),
    _f("avg_order_value", "spend", NUMBER, O, "mean amount per purchase"),
    _f("spend_trend_30_60", "spend", NUMBER, O, "spend per day: last 30 days / the 60 days before"),
    _f("refunds_90d", "spend", COUNT, O, "refunded purchases in the last 90 days", STATUS),
    _f("refund_rate", "spend", NUMBER, O, "refunded purchases / purchases, ever", STATUS),
    # category mix
    _f("categories_all", "categories", COUNT, O, "distinct categories bought", (C.Orders.CATEGORY,)),
    _f("main_category", "categories", CATEGORY, O, "most bought category (ties: alphabetical)", (C.Orders.CATEGORY,)),
    _f("main_category_share", "categories", NUMBER, O, "share of purchases in the main category", (C.Orders.CATEGORY,)),
    # coupons (treatment rows only: coupons actually received)
    _f("coupons_received_90d", "coupons", COUNT, C.COUPONS, "coupons received in the last 90 days"),
    _f("coupons_redeemed_90d", "coupons", COUNT, C.COUPONS, "coupons redeemed in the last 90 days"),
    _f("coupon_redemption_rate", "coupons", NUMBER, C.COUPONS, "coupons redeemed / received, ever"),
    _f("days_since_last_coupon", "coupons", NUMBER, C.COUPONS, "days since the last coupon was received"),
    # after-sales
    _f("returns_90d", "aftersales", COUNT, C.TICKETS, "return tickets in the last 90 days"),
    _f("complaints_30d", "aftersales", COUNT, C.TICKETS, "complaint tickets in the last 30 days"),
    _f("complaints_90d", "aftersales", COUNT, C.TICKETS, "complaint tickets in the last 90 days"),
    _f("unresolved_tickets", "aftersales", COUNT, C.TICKETS, "tickets open at the cutoff"),
    _f("days_since_last_complaint", "aftersales", NUMBER, C.TICKETS, "days since the last complaint"),
    # reviews
    _f("reviews_all", "reviews", COUNT, C.REVIEWS, "reviews written"),
    _f("mean_rating", "reviews", NUMBER, C.REVIEWS, "mean rating (1-5)"),
    _f("low_ratings_90d", "reviews", COUNT, C.REVIEWS, "ratings of 1 or 2 in the last 90 days"),
)

FEATURE_NAMES: tuple[str, ...] = tuple(f.name for f in FEATURES)
BY_NAME: dict[str, Feature] = {f.name: f for f in FEATURES}
CATEGORICAL: tuple[str, ...] = tuple(f.name for f in FEATURES if f.kind is CATEGORY)
# Sums that are 0 (not missing) for a user with no rows in the window.
ZERO_WHEN_NOTHING: tuple[str, ...] = (
    *(f"browse_seconds_{w}d" for w in WINDOWS),
    "spend_30d",
    "spend_90d",
    "spend_all",
)
