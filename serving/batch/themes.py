"""How each model input is said to a person: its theme, and its words for risk and for what keeps a user.

A reason is about one *theme* (orders, activity, spend, service, returns,
ratings, coupons, categories, tenure, membership); a user gets at most one
reason per theme, so the recency of orders and the rhythm of purchases are one
reason, and so are logins, visits and browsing.

Each :class:`Template` says a fact in one of two directions: ``risk`` (what
raises the churn risk: "no order for about 6 weeks") or ``keep`` (what keeps
the user: "ordered 3 days ago"). A template that would say something that does
not read in that direction (a risk reason of "ordered today") says nothing
(None), and the next contribution is tried. Numbers are said as a person would:
durations in days, weeks, months ("about 6 weeks"), browsing in minutes, money
in whole units with thousands separators, changes as percentages, multiples
("3x") or "jumped". Features without a template are never said (no raw feature
wording reaches a list).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from features.catalog import WINDOWS

RISK, KEEP = True, False  # the direction a reason is said in

ORDERS, ACTIVITY, SPEND, SERVICE, RETURNS, RATINGS, COUPONS, CATEGORIES, TENURE, MEMBERSHIP = (
    "orders", "activity", "spend", "service", "returns", "ratings", "coupons", "categories", "tenure", "membership",
)  # fmt: skip
THEMES = (ORDERS, ACTIVITY, SPEND, SERVICE, RETURNS, RATINGS, COUPONS, CATEGORIES, TENURE, MEMBERSHIP)

Say = Callable[..., "str | None"]  # say(risk, *values) -> the words, or None


@dataclass(frozen=True)
class Template:
    """How to say one feature.

    theme: one of :data:`THEMES`; a user gets at most one reason per theme.
    reads: the feature columns ``say`` is given after the direction, in order.
    say: ``say(risk, *values)`` -> the text, or None when the values do not read in that direction.
        With ``numbers`` (the default) the values are floats, None when missing or
        when the column is absent; otherwise the frame's own values (a category's label).
    """

    theme: str
    reads: tuple[str, ...]
    say: Say
    numbers: bool = True


# ---- numbers as a person says them ----------------------------------------------------------


def duration(days: float) -> str:
    """``3.2`` -> "3 days", ``41`` -> "about 6 weeks", ``100`` -> "about 3 months", ``800`` -> "about 2 years"."""
    if days < 1:
        return "less than a day"
    n = round(days)
    if n < 14:
        return "1 day" if n == 1 else f"{n} days"
    if n < 60:
        return f"about {round(days / 7)} weeks"
    if n < 365:
        return f"about {round(days / 30.44)} months"
    years = days / 365.25
    return "about a year" if round(years) <= 1 else f"about {round(years)} years"


def ago(days: float) -> str:
    """``0.3`` -> "today", ``1`` -> "yesterday", ``20`` -> "about 3 weeks ago"."""
    if days < 1:
        return "today"
    if round(days) == 1:
        return "yesterday"
    return f"{duration(days)} ago"


def minutes(seconds: float) -> str:
    """``30`` -> "under a minute", ``70`` -> "1 minute", ``185`` -> "3 minutes", ``7300`` -> "about 2 hours"."""
    if seconds < 60:
        return "under a minute"
    m = round(seconds / 60)
    if m < 90:
        return "1 minute" if m == 1 else f"{m} minutes"
    return f"about {round(seconds / 3600)} hours"


def money(amount: float) -> str:
    """``1234.5`` -> "1,234" (whole units: a reason is read aloud, the list's columns keep the cents)."""
    return f"{amount:,.0f}"


def plural(n: float, noun: str) -> str:
    """``1, "order"`` -> "1 order"; ``3, "category"`` -> "3 categories"."""
    k = round(n)
    many = noun[:-1] + "ies" if noun.endswith("y") and noun[-2:-1] not in "aeiou" else noun + "s"
    return f"{k:,} {noun if k == 1 else many}"


def change(what: str, ratio: float, period: str) -> str:
    """A per-day rate against an earlier one: "down 70 %", "up 40 %", "3x", "stopped", "jumped"."""
    if ratio <= 0:
        return f"{what} stopped (some in {period}, none since)"
    if ratio < 1:
        return f"{what} down {round((1 - ratio) * 100)} % compared with {period}"
    if ratio < 2:
        return f"{what} up {round((ratio - 1) * 100)} % compared with {period}"
    if ratio < 10:
        return f"{what} {ratio:.0f}x {period}"
    return f"{what} jumped compared with {period}"


def _period(days: int) -> str:
    return {7: "week", 30: "month", 90: "3 months"}.get(days, f"{days} days")


# ---- orders: recency and rhythm are one theme --------------------------------------------------


def _gap_words(gap: float) -> str:
    return f"usually orders every {duration(gap).removeprefix('about ')}"


BOTH = "no order or visit for "  # the start of a reason that says the recency of orders and of visits at once


def close(a: float, b: float) -> bool:
    """Two day counts a person would call the same: within a day and a half, or 15 % of the longer one."""
    return abs(a - b) <= max(1.5, 0.15 * max(a, b))


def covers(text: str, theme: str) -> tuple[str, ...]:
    """The themes a reason's words speak for: both orders and activity for a joint recency."""
    return (ORDERS, ACTIVITY) if text.startswith(BOTH) else (theme,)


def _since_order(risk: bool, days: float | None, gap: float | None, visit: float | None) -> str | None:
    """Recency of the last order, with the usual gap; said with the last visit when both say the same."""
    if days is None:
        return "no purchase yet" if risk else None
    if risk:
        if days < 7 or (gap is not None and days < gap):
            return None  # a recent order, or not yet overdue: not a reason for risk
        both = visit is not None and visit >= 7 and close(visit, days)
        said = f"{BOTH}{duration(min(days, visit))}" if both else f"no order for {duration(days)}"
        return f"{said} ({_gap_words(gap)})" if gap is not None and gap >= 1 else said
    if days >= 21 or (gap is not None and days > 1.5 * gap):
        return None  # a long time since the last order does not keep anyone
    return f"ordered {ago(days)}"


def _rhythm(risk: bool, gap: float | None, recent: float | None, ever: float | None) -> str | None:
    """How often the user buys (median gap between purchase days, orders in 90 days, orders ever)."""
    if risk:
        if not ever:
            return "no purchase yet"
        if round(ever) == 1:
            return "only one purchase so far"
        if recent is not None and round(recent) == 0:
            return "no orders in the last 3 months"
        if gap is not None and gap >= 30:
            return f"orders rarely ({_gap_words(gap)})"
        return None
    if recent is not None and recent >= 3:
        return f"{plural(recent, 'order')} in the last 3 months"
    if gap is not None and gap <= 14:
        return f"orders often ({_gap_words(gap)})"
    if ever is not None and ever >= 5:
        return f"{plural(ever, 'order')} so far"
    return None


def _p_alive(risk: bool, p: float | None) -> str | None:
    if p is None:
        return None
    if risk:
        return "buying pattern suggests they may have stopped buying" if p < 0.5 else None
    return "buying pattern says they are still an active customer" if p >= 0.7 else None


def _expected(risk: bool, e: float | None) -> str | None:
    if e is None:
        return None
    if risk:
        return "unlikely to order again soon at their usual pace" if e < 0.5 else None
    return "likely to order again soon at their usual pace" if e >= 1 else None


_RECENCY = Template(ORDERS, ("days_since_last_order", "order_gap_median", "days_since_last_event"), _since_order)
_RHYTHM = Template(ORDERS, ("order_gap_median", "orders_90d", "orders_all"), _rhythm)


# ---- activity: visits, logins, browsing, carts --------------------------------------------------


def _since(verb: str, noun: str) -> Callable[..., str | None]:
    """Recency of a visit or login; a visit is said with the last order when both say the same."""

    def say(risk: bool, days: float | None, order: float | None = None, gap: float | None = None) -> str | None:
        if days is None:
            return f"no {noun} yet" if risk else None
        if risk:
            if days < 7:
                return None
            joint = _since_order(risk, order, gap, days) if order is not None and close(order, days) else None
            return joint if joint is not None and joint.startswith(BOTH) else f"no {noun} for {duration(days)}"
        return f"{verb} {ago(days)}" if days < 7 else None

    return say


def _count(one: str, period: int, few: int = 2, many: str | None = None) -> Callable[[bool, float | None], str | None]:
    """A count of visits, logins, carts...: a risk when none or few, a keep when more. ``many``: the plural of ``one``."""
    many = many or plural(2, one).split(" ", 1)[1]

    def say(risk: bool, n: float | None) -> str | None:
        if n is None:
            return None
        k = round(n)
        said = f"{k:,} {one if k == 1 else many} in the last {_period(period)}"
        if risk:
            return f"no {many} in the last {_period(period)}" if k == 0 else f"only {said}" if k <= few else None
        return said if k > few else None

    return say


def _active_days(period: int) -> Callable[[bool, float | None], str | None]:
    def say(risk: bool, n: float | None) -> str | None:
        if n is None:
            return None
        k = round(n)
        if risk:
            return f"no visits in the last {_period(period)}" if k == 0 else None
        return f"active on {plural(k, 'day')} in the last {_period(period)}" if k >= 2 else None

    return say


def _browsing(period: int) -> Callable[[bool, float | None], str | None]:
    def say(risk: bool, seconds: float | None) -> str | None:
        s = seconds or 0.0
        if risk:
            if s == 0:
                return f"no browsing in the last {_period(period)}"
            return f"under a minute of browsing in the last {_period(period)}" if s < 60 else None
        return f"{minutes(s)} of browsing in the last {_period(period)}" if s >= 60 else None

    return say


def _per_visit(risk: bool, seconds: float | None) -> str | None:
    if seconds is None:
        return None
    if risk:
        return "visits last under a minute" if seconds < 60 else None
    return f"visits last about {minutes(seconds).removeprefix('about ')}" if seconds >= 120 else None


def _login_gap(risk: bool, gap: float | None) -> str | None:
    if gap is None:
        return None
    if risk:
        return f"logs in only every {duration(gap).removeprefix('about ')}" if gap >= 7 else None
    if gap < 1.5:
        return "logs in almost every day"
    return f"logs in every {duration(gap)}" if gap <= 4 else None


def _irregular(risk: bool, spread: float | None) -> str | None:
    return "logs in irregularly" if risk and spread is not None and spread >= 7 else None


def _trend(what: str, period: str) -> Callable[[bool, float | None], str | None]:
    """A per-day rate of the last period against the one before: down for a risk, up for a keep."""

    def say(risk: bool, ratio: float | None) -> str | None:
        if ratio is None or (risk and ratio >= 1) or (not risk and ratio <= 1):
            return None
        return change(what, ratio, period)

    return say


# ---- spend, service, returns, ratings, coupons, categories, tenure --------------------------------


def _spend(period: str) -> Callable[[bool, float | None], str | None]:
    def say(risk: bool, amount: float | None) -> str | None:
        if amount is None:
            return None
        if risk:
            return f"no spend in the last {period}" if amount == 0 else None
        return f"spent {money(amount)} in the last {period}" if amount > 0 else None

    return say


def _spend_all(risk: bool, amount: float | None) -> str | None:
    if amount is None:
        return None
    if risk:
        return "has not spent anything yet" if amount == 0 else None
    return f"spent {money(amount)} in all" if amount > 0 else None


def _order_value(risk: bool, amount: float | None) -> str | None:
    return f"orders worth {money(amount)} on average" if not risk and amount else None


def _trouble(noun: str, period: int | None) -> Callable[[bool, float | None], str | None]:
    """Complaints, returns, refunds, cancellations, low ratings: a risk when there are any."""

    def say(risk: bool, n: float | None) -> str | None:
        if n is None or not risk or round(n) == 0:
            return None
        when = f" in the last {_period(period)}" if period else ""
        return f"{plural(n, noun)}{when}"

    return say


def _open_tickets(risk: bool, n: float | None) -> str | None:
    if n is None or not risk or round(n) == 0:
        return None
    return "1 support ticket still open" if round(n) == 1 else f"{round(n)} support tickets still open"


def _complained(risk: bool, days: float | None) -> str | None:
    return f"complained {ago(days)}" if risk and days is not None and days < 60 else None


def _no_complaints(risk: bool, n: float | None) -> str | None:
    return "no complaints in the last 3 months" if not risk and n is not None and round(n) == 0 else None


def _refund_rate(risk: bool, share: float | None) -> str | None:
    return f"{round(share * 100)} % of purchases refunded" if risk and share is not None and share >= 0.1 else None


def _rating(risk: bool, r: float | None) -> str | None:
    if r is None:
        return None
    if risk:
        return f"rates purchases {r:.1f} of 5 on average" if r < 3.5 else None
    return f"rates purchases {r:.1f} of 5 on average" if r >= 4 else None


def _reviews(risk: bool, n: float | None) -> str | None:
    return f"wrote {plural(n, 'review')}" if not risk and n is not None and round(n) >= 1 else None


def _coupons_used(risk: bool, n: float | None) -> str | None:
    return f"redeemed {plural(n, 'coupon')} in the last 3 months" if not risk and n is not None and round(n) >= 1 else None


def _coupon_rate(risk: bool, share: float | None) -> str | None:
    if share is None:
        return None
    if risk:
        return "rarely uses the coupons it gets" if share < 0.2 else None
    return f"uses {round(share * 100)} % of the coupons it gets" if share >= 0.5 else None


def _last_coupon(risk: bool, days: float | None) -> str | None:
    if days is None:
        return None
    if risk:
        return f"no coupon for {duration(days)}" if days >= 60 else None
    return f"got a coupon {ago(days)}" if days < 30 else None


def _categories(risk: bool, n: float | None) -> str | None:
    if n is None:
        return None
    if risk:
        return "buys in one category only" if round(n) == 1 else None
    return f"buys in {plural(n, 'category')}" if round(n) >= 3 else None


def _main_share(risk: bool, share: float | None) -> str | None:
    return "buys mostly in one category" if risk and share is not None and share >= 0.8 else None


def _signed_up(risk: bool, days: float | None) -> str | None:
    if days is None:
        return None
    if risk:
        return f"new customer, signed up {ago(days)}" if days < 60 else None
    return f"customer for {duration(days)}" if days >= 365 else None


def _first_order(risk: bool, days: float | None) -> str | None:
    if days is None:
        return None
    if risk:
        return f"first order only {ago(days)}" if days < 60 else None
    return f"buying for {duration(days)}" if days >= 180 else None


def _took_to_order(risk: bool, days: float | None) -> str | None:
    return f"took {duration(days)} to place a first order" if risk and days is not None and days >= 30 else None


def _tier(risk: bool, tier: object) -> str | None:
    if tier is None or tier != tier:  # missing (None or NaN)
        return None
    return f"{tier} member" if not risk else None


# ---- the table ---------------------------------------------------------------------------------


def _one(theme: str, name: str, say: Say) -> Template:
    return Template(theme, (name,), say)


def _windows(theme: str, stem: str, say: Callable[[int], Say]) -> dict[str, Template]:
    return {f"{stem}_{w}d": _one(theme, f"{stem}_{w}d", say(w)) for w in WINDOWS}


_VISIT = Template(ACTIVITY, ("days_since_last_event", "days_since_last_order", "order_gap_median"), _since("visited", "visit"))
_TWO_MONTHS, _FOUR_WEEKS = "the previous two months", "the previous 4 weeks"

# Feature -> how to say it. Features not listed are never said.
TEMPLATES: dict[str, Template] = {
    # orders: recency and rhythm, one theme
    "days_since_last_order": _RECENCY,
    "order_overdue": _RECENCY,
    "orders_7d": _RECENCY,
    "orders_30d": _RECENCY,
    "orders_90d": _RHYTHM,
    "orders_all": _RHYTHM,
    "purchase_days_all": _RHYTHM,
    "order_gap_median": _RHYTHM,
    "order_gap_mean": _RHYTHM,
    "order_gap_std": _RHYTHM,
    "bgnbd_p_alive": _one(ORDERS, "bgnbd_p_alive", _p_alive),
    "bgnbd_expected_purchases": _one(ORDERS, "bgnbd_expected_purchases", _expected),
    # activity
    "days_since_last_event": _VISIT,
    "days_since_last_login": _one(ACTIVITY, "days_since_last_login", _since("logged in", "login")),
    **_windows(ACTIVITY, "events", lambda w: _count("action on the site", w)),
    **_windows(ACTIVITY, "sessions", lambda w: _count("visit", w)),
    **_windows(ACTIVITY, "logins", lambda w: _count("login", w)),
    **_windows(ACTIVITY, "carts", lambda w: _count("item added to the cart", w, few=0, many="items added to the cart")),
    **_windows(ACTIVITY, "active_days", _active_days),
    **_windows(ACTIVITY, "browse_seconds", _browsing),
    "browse_seconds_per_session_30d": _one(ACTIVITY, "browse_seconds_per_session_30d", _per_visit),
    "login_gap_mean_90d": _one(ACTIVITY, "login_gap_mean_90d", _login_gap),
    "login_gap_std_90d": _one(ACTIVITY, "login_gap_std_90d", _irregular),
    "activity_trend_30_60": _one(ACTIVITY, "activity_trend_30_60", _trend("activity", _TWO_MONTHS)),
    "activity_trend_7_28": _one(ACTIVITY, "activity_trend_7_28", _trend("activity", _FOUR_WEEKS)),
    "login_trend_30_60": _one(ACTIVITY, "login_trend_30_60", _trend("logins", _TWO_MONTHS)),
    "login_trend_7_28": _one(ACTIVITY, "login_trend_7_28", _trend("logins", _FOUR_WEEKS)),
    "browse_trend_30_60": _one(ACTIVITY, "browse_trend_30_60", _trend("browsing time", _TWO_MONTHS)),
    # spend
    "spend_trend_30_60": _one(SPEND, "spend_trend_30_60", _trend("spend", _TWO_MONTHS)),
    "spend_30d": _one(SPEND, "spend_30d", _spend("month")),
    "spend_90d": _one(SPEND, "spend_90d", _spend("3 months")),
    "spend_all": _one(SPEND, "spend_all", _spend_all),
    "avg_order_value": _one(SPEND, "avg_order_value", _order_value),
    # service
    "complaints_30d": _one(SERVICE, "complaints_30d", _trouble("complaint", 30)),
    "complaints_90d": Template(SERVICE, ("complaints_90d",), lambda risk, n: _trouble("complaint", 90)(risk, n) or _no_complaints(risk, n)),
    "unresolved_tickets": _one(SERVICE, "unresolved_tickets", _open_tickets),
    "days_since_last_complaint": _one(SERVICE, "days_since_last_complaint", _complained),
    # returns
    "returns_90d": _one(RETURNS, "returns_90d", _trouble("return", 90)),
    "refunds_90d": _one(RETURNS, "refunds_90d", _trouble("refund", 90)),
    "cancelled_orders_90d": _one(RETURNS, "cancelled_orders_90d", _trouble("cancelled order", 90)),
    "refund_rate": _one(RETURNS, "refund_rate", _refund_rate),
    # ratings
    "low_ratings_90d": _one(RATINGS, "low_ratings_90d", _trouble("low rating", 90)),
    "mean_rating": _one(RATINGS, "mean_rating", _rating),
    "reviews_all": _one(RATINGS, "reviews_all", _reviews),
    # coupons
    "coupons_redeemed_90d": _one(COUPONS, "coupons_redeemed_90d", _coupons_used),
    "coupon_redemption_rate": _one(COUPONS, "coupon_redemption_rate", _coupon_rate),
    "days_since_last_coupon": _one(COUPONS, "days_since_last_coupon", _last_coupon),
    # categories
    "categories_all": _one(CATEGORIES, "categories_all", _categories),
    "main_category_share": _one(CATEGORIES, "main_category_share", _main_share),
    # tenure
    "days_since_signup": _one(TENURE, "days_since_signup", _signed_up),
    "days_since_first_order": _one(TENURE, "days_since_first_order", _first_order),
    "days_signup_to_first_order": _one(TENURE, "days_signup_to_first_order", _took_to_order),
    # membership
    "member_tier": Template(MEMBERSHIP, ("member_tier",), _tier, numbers=False),
}


def template(name: str) -> Template | None:
    """The template of feature ``name``, or None: a feature without one is never said."""
    return TEMPLATES.get(name)
