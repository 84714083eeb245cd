"""Turning a chunk's day-level history into the contract's rows (vectorised)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pyarrow as pa

from features import contract as C
from features.simulator import world
from features.simulator.config import COUPON_VALID_DAYS
from features.simulator.engine import CouponPlan, History
from features.simulator.population import Population, choose_each

US = 1_000_000
DAY_US = 86_400 * US
TIMESTAMP = pa.timestamp("us", tz="UTC")

# When people browse: share of sessions starting in each hour of the day.
HOUR_WEIGHTS = np.array(
    [2, 1, 0.5, 0.3, 0.3, 0.5, 1.5, 3, 4, 4, 4.5, 5, 6.5, 5.5, 4.5, 4.5, 4.5, 5, 5.5, 7, 8.5, 9, 8, 5], dtype=float
)
REDEEM_PROBABILITY = 0.85
REVIEW_PROBABILITY = 0.18
INQUIRY_PROBABILITY = 0.06
COMPLAINT_WHEN_LATE = 0.55
COMPLAINT_OTHERWISE = 0.01
UNRESOLVED_SHARE = 0.05
# A session is about one category (the one ordered, in a session with an order); this share
# of its page views concerns it, the rest is browsing around the user's other preferences.
VIEW_FOCUS = 0.75

SCHEMAS: dict[str, pa.Schema] = {
    C.USERS: pa.schema(
        [
            (C.Users.USER_ID, pa.int64()),
            (C.Users.SIGNUP_AT, TIMESTAMP),
            (C.Users.MEMBER_TIER, pa.string()),
            (C.Users.CITY_TIER, pa.int64()),
            (C.Users.REGION, pa.string()),
            (C.Users.CHANNEL, pa.string()),
        ]
    ),
    C.ORDERS: pa.schema(
        [
            (C.Orders.ORDER_ID, pa.int64()),
            (C.Orders.USER_ID, pa.int64()),
            (C.Orders.ORDERED_AT, TIMESTAMP),
            (C.Orders.AMOUNT, pa.float64()),
            (C.Orders.CATEGORY, pa.string()),
            (C.Orders.STATUS, pa.string()),
            (C.Orders.COUPON_ID, pa.int64()),
        ]
    ),
    C.EVENTS: pa.schema(
        [
            (C.Events.USER_ID, pa.int64()),
            (C.Events.EVENT_AT, TIMESTAMP),
            (C.Events.EVENT_TYPE, pa.string()),
            (C.Events.SESSION_ID, pa.int64()),
            (C.Events.DURATION_S, pa.float64()),
            (C.Events.CATEGORY, pa.string()),
        ]
    ),
    C.COUPONS: pa.schema(
        [
            (C.Coupons.COUPON_ID, pa.int64()),
            (C.Coupons.USER_ID, pa.int64()),
            (C.Coupons.ISSUED_AT, TIMESTAMP),
            (C.Coupons.VALUE, pa.float64()),
            (C.Coupons.CAMPAIGN_ID, pa.string()),
            (C.Coupons.GROUP, pa.string()),
            (C.Coupons.REDEEMED_AT, TIMESTAMP),
        ]
    ),
    C.TICKETS: pa.schema(
        [
            (C.Tickets.USER_ID, pa.int64()),
            (C.Tickets.CREATED_AT, TIMESTAMP),
            (C.Tickets.KIND, pa.string()),
            (C.Tickets.RESOLVED_AT, TIMESTAMP),
        ]
    ),
    C.REVIEWS: pa.schema(
        [
            (C.Reviews.USER_ID, pa.int64()),
            (C.Reviews.CREATED_AT, TIMESTAMP),
            (C.Reviews.RATING, pa.int64()),
        ]
    ),
}


@dataclass
class IdCounters:
    """Next free ids; carried from chunk to chunk so ids are unique in the dataset."""

    order: int = 1
    session: int = 1
    coupon: int = 1


def _labels(names: tuple, index: np.ndarray, valid: np.ndarray | None = None) -> pa.Array:
    mask = None if valid is None else ~valid
    indices = pa.array(index.astype(np.int32), mask=mask)
    return pa.DictionaryArray.from_arrays(indices, pa.array(list(names))).cast(pa.string())


def _ts(us: np.ndarray, valid: np.ndarray | None = None) -> pa.Array:
    mask = None if valid is None else ~valid
    return pa.array(us.astype(np.int64), type=pa.int64(), mask=mask).cast(TIMESTAMP)


def _hours(rng: np.random.Generator, k: int) -> np.ndarray:
    cum = np.cumsum(HOUR_WEIGHTS) / HOUR_WEIGHTS.sum()
    return np.searchsorted(cum, rng.random(k), side="right")


@dataclass(frozen=True)
class Sessions:
    """One entry per session, in (user, day) order."""

    user: np.ndarray  # index into the chunk's users
    day: np.ndarray
    start: np.ndarray  # microseconds since the epoch
    duration: np.ndarray  # seconds
    ids: np.ndarray
    cell_key: np.ndarray  # user * days + day of each (user, day) cell with sessions, sorted
    first_of_cell: np.ndarray  # index of each cell's first session


@dataclass(frozen=True)
class OrderRows:
    """One entry per order, in (user, day, rank within the day) order."""

    user: np.ndarray
    day: np.ndarray
    session: np.ndarray  # the session it was placed in (the day's first)
    rank: np.ndarray  # 0 for the day's first order
    is_purchase: np.ndarray
    refunded: np.ndarray
    late: np.ndarray
    time: np.ndarray
    category: np.ndarray
    amount: np.ndarray
    status: np.ndarray
    ids: np.ndarray


def emit_chunk(
    rng: np.random.Generator,
    first_user_id: int,
    day0_us: int,
    pop: Population,
    hist: History,
    plan: CouponPlan,
    calendar: world.Calendar,
    campaigns: tuple[world.Campaign, ...],
    ids: IdCounters,
) -> dict[str, pa.Table]:
    """Rows of every contract table for one chunk; ``ids`` is advanced in place.

    The steps draw from ``rng`` in a fixed order (sessions, orders, coupons, events, tickets,
    reviews): the same seed gives the same bytes.
    """
    days = hist.sessions.shape[1]
    end_us = day0_us + days * DAY_US  # first instant after the window
    user_ids = first_user_id + np.arange(hist.sessions.shape[0], dtype=np.int64)
    day_start = day0_us + np.arange(days, dtype=np.int64) * DAY_US
    users = _users_table(user_ids, day0_us + pop.signup_day * DAY_US + pop.signup_second * US, pop)
    sessions = _sessions(rng, pop, hist, day_start, ids)
    orders = _orders(rng, pop, hist, calendar, sessions, day_start, ids)
    coupons, order_coupon = _coupons(rng, plan, campaigns, orders, user_ids, day0_us, day_start, ids)
    order_rows = np.lexsort((orders.time, orders.user))
    return {
        C.USERS: users,
        C.ORDERS: _orders_table(orders, user_ids, order_coupon).take(pa.array(order_rows)),
        C.EVENTS: _events_table(rng, pop, sessions, orders, user_ids, end_us),
        C.COUPONS: coupons,
        C.TICKETS: _tickets_table(rng, orders, user_ids, end_us),
        C.REVIEWS: _reviews_table(rng, orders, user_ids, end_us),
    }


def _users_table(user_ids: np.ndarray, signup_us: np.ndarray, pop: Population) -> pa.Table:
    return pa.table(
        [
            pa.array(user_ids),
            _ts(signup_us),
            _labels(world.MEMBER_TIERS, pop.member_tier),
            pa.array(np.asarray(world.CITY_TIERS)[pop.city_tier].astype(np.int64)),
            _labels(world.REGIONS, pop.region),
            _labels(world.CHANNELS, pop.channel),
        ],
        schema=SCHEMAS[C.USERS],
    )


def _sessions(rng: np.random.Generator, pop: Population, hist: History, day_start: np.ndarray, ids: IdCounters) -> Sessions:
    """Sessions at random hours of their day (after signup on the signup day), longer for engaged users."""
    days = hist.sessions.shape[1]
    cell_u, cell_t = np.nonzero(hist.sessions)
    per_cell = hist.sessions[cell_u, cell_t].astype(np.int64)
    s_user = np.repeat(cell_u, per_cell)
    s_day = np.repeat(cell_t, per_cell)
    n_sessions = len(s_user)
    second = _hours(rng, n_sessions) * 3600 + rng.integers(0, 3600, n_sessions)
    on_signup_day = s_day == pop.signup_day[s_user]
    after_signup = pop.signup_second[s_user] + rng.random(n_sessions) * (86_399 - pop.signup_second[s_user])
    second = np.where(on_signup_day, after_signup, second)
    s_start = day_start[s_day] + (second * US).astype(np.int64)
    median = 170.0 * np.exp(0.35 * hist.engagement[s_user, s_day].astype(float))
    s_duration = np.clip(np.round(median * np.exp(rng.normal(0.0, 0.8, n_sessions))), 5, 7200)
    session_ids = ids.session + np.arange(n_sessions, dtype=np.int64)
    ids.session += n_sessions
    first_of_cell = np.concatenate([[0], np.cumsum(per_cell)[:-1]])
    return Sessions(s_user, s_day, s_start, s_duration, session_ids, cell_u.astype(np.int64) * days + cell_t, first_of_cell)


def _orders(
    rng: np.random.Generator,
    pop: Population,
    hist: History,
    calendar: world.Calendar,
    sessions: Sessions,
    day_start: np.ndarray,
    ids: IdCounters,
) -> OrderRows:
    """Purchases then cancellations per (user, day), placed in the day's first session; categories and amounts."""
    days = hist.sessions.shape[1]
    ordered = hist.paid.astype(np.int64) + hist.cancelled
    o_cell_u, o_cell_t = np.nonzero(ordered)
    per_order_cell = ordered[o_cell_u, o_cell_t]
    o_cell_session = sessions.first_of_cell[np.searchsorted(sessions.cell_key, o_cell_u.astype(np.int64) * days + o_cell_t)]
    o_user = np.repeat(o_cell_u, per_order_cell)
    o_day = np.repeat(o_cell_t, per_order_cell)
    o_session = np.repeat(o_cell_session, per_order_cell)
    o_rank = np.arange(len(o_user)) - np.repeat(np.cumsum(per_order_cell) - per_order_cell, per_order_cell)
    n_orders = len(o_user)
    is_purchase = o_rank < hist.paid[o_user, o_day]
    refunded = is_purchase & (o_rank == 0) & hist.refund[o_user, o_day]
    late = is_purchase & (o_rank == 0) & hist.late[o_user, o_day]
    o_time = sessions.start[o_session] + (0.9 * sessions.duration[o_session] * US).astype(np.int64) + o_rank * 60 * US
    # An order belongs to its simulated day (labels and ground truth count days): never past midnight.
    o_time = np.minimum(o_time, day_start[o_day] + DAY_US - 1 - (per_order_cell.max(initial=1) - o_rank) * US)
    category = choose_each(rng, pop.preference[o_user])
    log_amount = (
        np.log(world.CATEGORY_PRICE[category] * pop.spend[o_user] * calendar.basket[o_day])
        + world.CATEGORY_SIGMA[category] * rng.normal(0.0, 1.0, n_orders)
    )
    amount = np.round(np.exp(log_amount), 2)
    status = np.where(is_purchase, np.where(refunded, 1, 0), 2)
    order_ids = ids.order + np.arange(n_orders, dtype=np.int64)
    ids.order += n_orders
    return OrderRows(o_user, o_day, o_session, o_rank, is_purchase, refunded, late, o_time, category, amount, status, order_ids)


def _coupons(
    rng: np.random.Generator,
    plan: CouponPlan,
    campaigns: tuple[world.Campaign, ...],
    orders: OrderRows,
    user_ids: np.ndarray,
    day0_us: int,
    day_start: np.ndarray,
    ids: IdCounters,
) -> tuple[pa.Table, np.ma.MaskedArray]:
    """One coupon row per picked user; a treatment coupon is redeemed by the first purchase while it is valid.

    Returns the coupons table and each order's redeemed coupon id (masked where none).
    """
    c_user, c_campaign, c_control = plan.user, plan.campaign, plan.control
    n_coupons = len(c_user)
    c_day = np.array([campaigns[i].day for i in c_campaign], dtype=np.int64) if n_coupons else np.zeros(0, np.int64)
    c_value = np.array([campaigns[i].value for i in c_campaign], dtype=float) if n_coupons else np.zeros(0)
    c_issued = day_start[c_day] + (9 * 3600 + rng.integers(0, 3600, n_coupons)) * US
    coupon_ids = ids.coupon + np.arange(n_coupons, dtype=np.int64)
    ids.coupon += n_coupons
    o_user, o_time = orders.user, orders.time
    purchase_idx = np.flatnonzero(orders.is_purchase)
    p_key = o_user[purchase_idx].astype(np.int64) * 10**9 + (o_time[purchase_idx] - day0_us) // US
    order_by_key = np.argsort(p_key, kind="stable")
    p_key, purchase_idx = p_key[order_by_key], purchase_idx[order_by_key]
    c_key = c_user.astype(np.int64) * 10**9 + (c_issued - day0_us) // US
    pos = np.searchsorted(p_key, c_key)
    found = (pos < len(p_key)) & ~c_control
    pos_safe = np.minimum(pos, max(len(p_key) - 1, 0))
    if len(p_key):
        cand = purchase_idx[pos_safe]
        found &= (o_user[cand] == c_user) & (orders.day[cand] < c_day + COUPON_VALID_DAYS)
    else:
        cand = np.zeros(n_coupons, dtype=np.int64)
    found &= rng.random(n_coupons) < REDEEM_PROBABILITY
    # One order redeems at most one coupon: the earliest-issued wins.
    redeeming = np.flatnonzero(found)
    _, first = np.unique(cand[redeeming], return_index=True)
    redeeming = redeeming[np.sort(first)]
    n_orders = len(o_user)
    order_coupon = np.zeros(n_orders, dtype=np.int64)
    has_coupon = np.zeros(n_orders, dtype=bool)
    order_coupon[cand[redeeming]] = coupon_ids[redeeming]
    has_coupon[cand[redeeming]] = True
    redeemed_at = np.zeros(n_coupons, dtype=np.int64)
    redeemed = np.zeros(n_coupons, dtype=bool)
    redeemed_at[redeeming] = o_time[cand[redeeming]]
    redeemed[redeeming] = True
    coupons = pa.table(
        [
            pa.array(coupon_ids),
            pa.array(user_ids[c_user]),
            _ts(c_issued),
            pa.array(c_value),
            pa.array([campaigns[i].campaign_id for i in c_campaign], type=pa.string()),
            _labels(C.COUPON_GROUPS, c_control.astype(np.int64)),
            _ts(redeemed_at, redeemed),
        ],
        schema=SCHEMAS[C.COUPONS],
    )
    return coupons, np.ma.MaskedArray(order_coupon, mask=~has_coupon)


def _orders_table(orders: OrderRows, user_ids: np.ndarray, order_coupon: np.ma.MaskedArray) -> pa.Table:
    return pa.table(
        [
            pa.array(orders.ids),
            pa.array(user_ids[orders.user]),
            _ts(orders.time),
            pa.array(orders.amount),
            _labels(world.CATEGORY_NAMES, orders.category),
            _labels(C.ORDER_STATUSES, orders.status),
            pa.array(order_coupon.data, mask=order_coupon.mask),
        ],
        schema=SCHEMAS[C.ORDERS],
    )


def _events_table(rng: np.random.Generator, pop: Population, sessions: Sessions, orders: OrderRows, user_ids: np.ndarray, end_us: int) -> pa.Table:
    """Per session: an optional login, page views sharing the browse time, a search, a cart (always before an order)."""
    n_sessions = len(sessions.user)
    s_user, s_duration = sessions.user, sessions.duration
    order_session = np.zeros(n_sessions, dtype=bool)
    order_session[orders.session] = True
    login = rng.random(n_sessions) < pop.login_probability[s_user]
    views = 1 + rng.poisson(np.minimum(4.0, s_duration / 120.0))
    search = rng.random(n_sessions) < 0.45
    cart = order_session | (rng.random(n_sessions) < 0.1)
    v_session = np.repeat(np.arange(n_sessions), views)
    v_rank = np.arange(len(v_session)) - np.repeat(np.cumsum(views) - views, views)
    v_share = s_duration[v_session] / views[v_session]
    first = orders.rank == 0
    s_focus, v_category = _browsed_categories(rng.spawn(1)[0], pop, s_user, orders.session[first], orders.category[first], v_session)
    parts = [
        (np.flatnonzero(login), np.zeros(login.sum()), 0, np.full(login.sum(), np.nan)),
        (v_session, (v_rank + 0.5) * v_share, 1, v_share),
        (np.flatnonzero(search), 0.25 * s_duration[search], 2, np.full(search.sum(), np.nan)),
        (np.flatnonzero(cart), 0.8 * s_duration[cart], 3, np.full(cart.sum(), np.nan)),
    ]
    e_session = np.concatenate([p[0] for p in parts])
    e_offset = np.concatenate([p[1] for p in parts])
    e_type = np.concatenate([np.full(len(p[0]), p[2]) for p in parts])
    e_duration = np.concatenate([p[3] for p in parts])
    e_category = np.concatenate([np.full(login.sum(), -1), v_category, np.full(search.sum(), -1), s_focus[cart]])
    e_time = sessions.start[e_session] + (e_offset * US).astype(np.int64)
    keep = e_time < end_us
    order_rows = np.lexsort((e_time[keep], s_user[e_session[keep]]))
    sel = np.flatnonzero(keep)[order_rows]
    event_types = (C.EVENT_LOGIN, C.EVENT_PAGE_VIEW, C.EVENT_SEARCH, C.EVENT_ADD_TO_CART)
    return pa.table(
        [
            pa.array(user_ids[s_user[e_session[sel]]]),
            _ts(e_time[sel]),
            _labels(event_types, e_type[sel]),
            pa.array(sessions.ids[e_session[sel]]),
            pa.array(e_duration[sel], mask=np.isnan(e_duration[sel])),
            _labels(world.CATEGORY_NAMES, e_category[sel], e_category[sel] >= 0),
        ],
        schema=SCHEMAS[C.EVENTS],
    )


def _tickets_table(rng: np.random.Generator, orders: OrderRows, user_ids: np.ndarray, end_us: int) -> pa.Table:
    """Complaints after late deliveries (and a few otherwise), returns for refunds, inquiries."""
    n_orders = len(orders.user)
    late, refunded = orders.late, orders.refunded
    complaint = (late & (rng.random(n_orders) < COMPLAINT_WHEN_LATE)) | (orders.is_purchase & (rng.random(n_orders) < COMPLAINT_OTHERWISE))
    inquiry = rng.random(n_orders) < INQUIRY_PROBABILITY
    t_order = np.concatenate([np.flatnonzero(refunded), np.flatnonzero(complaint), np.flatnonzero(inquiry)])
    t_kind = np.concatenate([np.zeros(refunded.sum()), np.ones(complaint.sum()), np.full(inquiry.sum(), 2)]).astype(np.int64)
    delay_days = np.select([t_kind == 0, t_kind == 1], [rng.uniform(2, 10, len(t_kind)), rng.uniform(1, 5, len(t_kind))], rng.uniform(0, 2, len(t_kind)))
    t_created = orders.time[t_order] + (delay_days * DAY_US).astype(np.int64)
    t_hours = np.exp(np.log(np.where(t_kind == 1, 40.0, 16.0)) + rng.normal(0.0, 1.0, len(t_kind)))
    t_resolved = t_created + (t_hours * 3600 * US).astype(np.int64)
    t_resolved_valid = (rng.random(len(t_kind)) >= UNRESOLVED_SHARE) & (t_resolved < end_us)
    keep = t_created < end_us
    order_rows = np.lexsort((t_created[keep], orders.user[t_order[keep]]))
    sel = np.flatnonzero(keep)[order_rows]
    return pa.table(
        [
            pa.array(user_ids[orders.user[t_order[sel]]]),
            _ts(t_created[sel]),
            _labels(C.TICKET_KINDS, t_kind[sel]),
            _ts(t_resolved[sel], t_resolved_valid[sel]),
        ],
        schema=SCHEMAS[C.TICKETS],
    )


def _reviews_table(rng: np.random.Generator, orders: OrderRows, user_ids: np.ndarray, end_us: int) -> pa.Table:
    """Some kept purchases get a review; late deliveries get low ratings."""
    n_orders = len(orders.user)
    reviewed = np.flatnonzero(orders.is_purchase & ~orders.refunded & (rng.random(n_orders) < REVIEW_PROBABILITY))
    r_created = orders.time[reviewed] + (rng.uniform(3, 12, len(reviewed)) * DAY_US).astype(np.int64)
    happy = choose_each(rng, np.tile([0.02, 0.03, 0.10, 0.30, 0.55], (len(reviewed), 1)))
    unhappy = choose_each(rng, np.tile([0.35, 0.30, 0.20, 0.15, 0.0], (len(reviewed), 1)))
    rating = np.where(orders.late[reviewed], unhappy, happy) + 1
    keep = r_created < end_us
    return pa.table(
        [
            pa.array(user_ids[orders.user[reviewed[keep]]]),
            _ts(r_created[keep]),
            pa.array(rating[keep].astype(np.int64)),
        ],
        schema=SCHEMAS[C.REVIEWS],
    )


def _browsed_categories(
    rng: np.random.Generator,
    pop: Population,
    s_user: np.ndarray,
    ordering_session: np.ndarray,
    ordered_category: np.ndarray,
    v_session: np.ndarray,
) -> tuple[np.ndarray, np.ndarray]:
    """The category of each session (``s_focus``) and of each page view (``v_category``).

    Categories are drawn from the user's own preferences, as order categories
    are: a session holding orders is about the category of its first order (so
    the views and cart before a purchase concern what is bought, a new user's
    first purchase included); any other session about a category drawn from the
    preferences. A page view concerns its session's category with probability
    VIEW_FOCUS, otherwise another draw from the preferences. ``rng`` is a
    generator of its own, so adding categories left every other column as it was.
    """
    s_focus = np.full(len(s_user), -1, dtype=np.int64)
    s_focus[ordering_session] = ordered_category
    free = np.flatnonzero(s_focus < 0)
    s_focus[free] = choose_each(rng, pop.preference[s_user[free]])
    v_category = s_focus[v_session]
    stray = np.flatnonzero(rng.random(len(v_session)) >= VIEW_FOCUS)
    v_category[stray] = choose_each(rng, pop.preference[s_user[v_session[stray]]])
    return s_focus, v_category
