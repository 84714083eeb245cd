"""Every feature family on tiny hand-built logs, compared with values computed by hand.

All tests use ``as_of`` = 2024-06-30, so the cutoff (first invisible instant)
is 2024-07-01 00:00 and a window of w days starts at cutoff - w days:

    7 d  -> 2024-06-24 00:00      35 d -> 2024-05-27 00:00 (7-day trend, earlier window)
    30 d -> 2024-06-01 00:00      90 d -> 2024-04-02 00:00 (90-day and 30-day trend windows)

Each fixture holds rows exactly at the cutoff (invisible), at the last instant
of the as_of day (visible), exactly at a window start (inside) and one
microsecond before it (outside).
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Sequence

import numpy as np
import pandas as pd
from pandas.testing import assert_frame_equal

from features.build import compute_features, memtables
from features.catalog import USER_ID
from features.contract import (
    COUPONS,
    EVENT_ADD_TO_CART,
    EVENT_LOGIN,
    EVENT_PAGE_VIEW,
    EVENT_SEARCH,
    EVENTS,
    GROUP_CONTROL,
    GROUP_TREATMENT,
    ORDERS,
    REVIEWS,
    STATUS_CANCELLED,
    STATUS_PAID,
    STATUS_REFUNDED,
    TICKET_COMPLAINT,
    TICKET_INQUIRY,
    TICKET_RETURN,
    TICKETS,
    USERS,
    Coupons,
    Events,
    Orders,
    Reviews,
    Tickets,
    Users,
)

D = dt.datetime
US = dt.timedelta(microseconds=1)
AS_OF = dt.date(2024, 6, 30)
CUT = D(2024, 7, 1)  # cutoff: invisible
LAST = CUT - US  # 2024-06-30 23:59:59.999999: visible
START_7 = D(2024, 6, 24)
START_30 = D(2024, 6, 1)
START_35 = D(2024, 5, 27)
START_90 = D(2024, 4, 2)
SIGNUP = D(2024, 1, 1)  # 182 days before the cutoff
NAN = np.nan
ONE_SECOND = 1 / 86_400  # in days


# ---------------------------------------------------------------- builders (contract form)


def _ts(values: Sequence[dt.datetime | None]) -> pd.Series:
    return pd.Series(pd.to_datetime(list(values)), dtype="datetime64[us]")


def _ids(values: Sequence[int]) -> np.ndarray:
    return np.asarray(values, dtype="int64")


def _text(values: Sequence[str | None]) -> pd.Series:
    return pd.Series(list(values), dtype="str")


def users_frame(rows: Sequence[tuple]) -> pd.DataFrame:
    """rows: (user_id, signup_at)."""
    user_id, signup = zip(*rows, strict=True)
    return pd.DataFrame({Users.USER_ID: _ids(user_id), Users.SIGNUP_AT: _ts(signup)})


def orders_frame(rows: Sequence[tuple]) -> pd.DataFrame:
    """rows: (user_id, ordered_at, amount, status, category); order ids are 1, 2, ..."""
    columns = list(zip(*rows, strict=True)) if rows else [[] for _ in range(5)]
    user_id, at, amount, status, category = columns
    return pd.DataFrame(
        {
            Orders.ORDER_ID: _ids(range(1, len(rows) + 1)),
            Orders.USER_ID: _ids(user_id),
            Orders.ORDERED_AT: _ts(at),
            Orders.AMOUNT: np.asarray(amount, dtype="float64"),
            Orders.CATEGORY: _text(category),
            Orders.STATUS: _text(status),
        }
    )


NO_ORDERS = orders_frame([])


def events_frame(rows: Sequence[tuple]) -> pd.DataFrame:
    """rows: (user_id, event_at, event_type, session_id or None, duration_s or None)."""
    user_id, at, kind, session, duration = zip(*rows, strict=True)
    return pd.DataFrame(
        {
            Events.USER_ID: _ids(user_id),
            Events.EVENT_AT: _ts(at),
            Events.EVENT_TYPE: _text(kind),
            Events.SESSION_ID: pd.array(session, dtype="Int64"),
            Events.DURATION_S: np.asarray([NAN if d is None else d for d in duration], dtype="float64"),
        }
    )


def coupons_frame(rows: Sequence[tuple]) -> pd.DataFrame:
    """rows: (user_id, issued_at, group, redeemed_at or None); coupon ids are 1, 2, ..."""
    user_id, issued, group, redeemed = zip(*rows, strict=True)
    return pd.DataFrame(
        {
            Coupons.COUPON_ID: _ids(range(1, len(rows) + 1)),
            Coupons.USER_ID: _ids(user_id),
            Coupons.ISSUED_AT: _ts(issued),
            Coupons.VALUE: np.full(len(rows), 5.0),
            Coupons.CAMPAIGN_ID: _ids([1] * len(rows)),
            Coupons.GROUP: _text(group),
            Coupons.REDEEMED_AT: _ts(redeemed),
        }
    )


def tickets_frame(rows: Sequence[tuple]) -> pd.DataFrame:
    """rows: (user_id, created_at, kind, resolved_at or None)."""
    user_id, created, kind, resolved = zip(*rows, strict=True)
    return pd.DataFrame(
        {
            Tickets.USER_ID: _ids(user_id),
            Tickets.CREATED_AT: _ts(created),
            Tickets.KIND: _text(kind),
            Tickets.RESOLVED_AT: _ts(resolved),
        }
    )


def reviews_frame(rows: Sequence[tuple]) -> pd.DataFrame:
    """rows: (user_id, created_at, rating)."""
    user_id, created, rating = zip(*rows, strict=True)
    return pd.DataFrame(
        {Reviews.USER_ID: _ids(user_id), Reviews.CREATED_AT: _ts(created), Reviews.RATING: _ids(rating)}
    )


def features_at(frames: dict[str, pd.DataFrame], as_of: dt.date | dt.datetime = AS_OF) -> pd.DataFrame:
    return compute_features(memtables(frames), as_of)


def expected_frame(columns: dict[str, Sequence], counts: Sequence[str] = (), categories: dict[str, list] | None = None) -> pd.DataFrame:
    """An expected feature frame: user_id and counts int64, categories ``category``, the rest float64."""
    out = pd.DataFrame({USER_ID: _ids(columns[USER_ID])})
    for name, values in columns.items():
        if name == USER_ID:
            continue
        if name in counts:
            out[name] = np.asarray(values, dtype="int64")
        elif categories is not None and name in categories:
            out[name] = pd.Categorical(values, categories=categories[name])
        else:
            out[name] = np.asarray(values, dtype="float64")
    return out


def assert_features(got: pd.DataFrame, expected: pd.DataFrame) -> None:
    """Compare the columns of ``expected`` (values and dtypes); floats to 1e-9 relative."""
    assert_frame_equal(got[list(expected.columns)], expected, check_exact=False, rtol=1e-9, atol=1e-12)


# ---------------------------------------------------------------- profile


def test_profile_keeps_users_signed_up_before_the_cutoff_with_their_attributes() -> None:
    users = users_frame([(1, SIGNUP), (2, D(2024, 6, 30, 12)), (3, LAST), (4, CUT), (5, D(2024, 8, 1))])
    users[Users.MEMBER_TIER] = _text(["gold", None, "silver", "gold", "platinum"])
    users[Users.CITY_TIER] = _text(["1", "4", None, "2", "3"])
    users[Users.REGION] = _text(["north", "south", None, "east", "west"])
    users[Users.CHANNEL] = _text(["organic", "paid_ads", None, "referral", "tv"])

    got = features_at({USERS: users, ORDERS: NO_ORDERS})

    # Users 4 (signed up at the cutoff) and 5 (after it) are invisible, and so
    # are their attribute values: the category levels are those of users 1-3.
    expected = expected_frame(
        {
            USER_ID: [1, 2, 3],
            "member_tier": ["gold", None, "silver"],
            "city_tier": ["1", "4", None],
            "region": ["north", "south", None],
            "channel": ["organic", "paid_ads", None],
            # 2024-01-01 -> 2024-07-01 = 31+29+31+30+31+30 = 182 d; 2024-06-30 12:00 -> 0.5 d;
            # 23:59:59.999999 counts as 23:59:59 (elapsed days are in whole seconds) -> 1 s
            "days_since_signup": [182.0, 0.5, ONE_SECOND],
        },
        categories={
            "member_tier": ["gold", "silver"],
            "city_tier": ["1", "4"],
            "region": ["north", "south"],
            "channel": ["organic", "paid_ads"],
        },
    )
    assert_features(got, expected)
    assert list(got.columns[:6]) == [USER_ID, "member_tier", "city_tier", "region", "channel", "days_since_signup"]


def test_profile_columns_absent_from_users_are_absent_from_the_features() -> None:
    got = features_at({USERS: users_frame([(1, SIGNUP)]), ORDERS: NO_ORDERS})

    for name in ("member_tier", "city_tier", "region", "channel"):
        assert name not in got.columns
    assert_features(got, expected_frame({USER_ID: [1], "days_since_signup": [182.0]}))


def test_as_of_timestamp_sees_rows_at_that_instant_and_not_one_microsecond_later() -> None:
    noon = D(2024, 6, 30, 12)
    users = users_frame([(1, SIGNUP), (2, noon), (3, noon + US)])
    orders = orders_frame([(1, noon, 1.0, STATUS_PAID, None), (1, noon + US, 2.0, STATUS_PAID, None)])

    got = features_at({USERS: users, ORDERS: orders}, as_of=noon)

    # cutoff = 12:00:00.000001: user 3 and the 2.0 order are invisible
    expected = expected_frame(
        {USER_ID: [1, 2], "orders_all": [1, 0], "spend_all": [1.0, 0.0], "days_since_signup": [181.5, 0.0]},
        counts=["orders_all"],
    )
    assert_features(got, expected)


# ---------------------------------------------------------------- activity


def test_activity_windows_counts_sessions_days_browse_seconds_and_trends() -> None:
    users = users_frame([(1, SIGNUP), (2, SIGNUP)])
    view = EVENT_PAGE_VIEW
    events = events_frame(
        [
            (1, CUT, view, 99, 1000.0),  # at the cutoff: invisible
            (1, LAST, view, 1, 10.0),  # last instant of as_of: 7 d
            (1, D(2024, 6, 30, 12), view, 1, None),  # same day and session, no duration: 7 d
            (1, START_7, view, 2, 20.0),  # 7-day window start: 7 d
            (1, START_7 - US, view, 2, 30.0),  # 1 us before: 30 d, earlier 28-day window
            (1, D(2024, 6, 10, 12), view, None, 5.0),  # no session: 30 d, earlier 28-day window
            (1, START_30, view, 3, None),  # 30-day window start, no duration: 30 d, earlier 28-day window
            (1, START_30 - US, view, 4, 40.0),  # 1 us before: 90 d, earlier 28-day and 60-day windows
            (1, START_90, view, 5, 50.0),  # 90-day window start: 90 d, earlier 60-day window
            (1, START_90 - US, view, 6, 60.0),  # 1 us before: nothing but "last event"
        ]
    )

    got = features_at({USERS: users, ORDERS: NO_ORDERS, EVENTS: events})

    expected = expected_frame(
        {
            USER_ID: [1, 2],
            "events_7d": [3, 0],  # LAST, 06-30 12:00, START_7
            "events_30d": [6, 0],  # + START_7-1us, 06-10, START_30
            "events_90d": [8, 0],  # + START_30-1us, START_90
            "sessions_7d": [2, 0],  # {1, 2}
            "sessions_30d": [3, 0],  # {1, 2, 3}; the null session is not a session
            "sessions_90d": [5, 0],  # {1, 2, 3, 4, 5}
            "active_days_7d": [2, 0],  # 06-30, 06-24
            "active_days_30d": [5, 0],  # + 06-23, 06-10, 06-01
            "active_days_90d": [7, 0],  # + 05-31, 04-02
            "browse_seconds_7d": [30.0, 0.0],  # 10 + 20
            "browse_seconds_30d": [65.0, 0.0],  # 10 + 20 + 30 + 5 (+ null)
            "browse_seconds_90d": [155.0, 0.0],  # 65 + 40 + 50
            "browse_seconds_per_session_30d": [65 / 3, NAN],  # 65 s / 3 sessions
            "days_since_last_event": [ONE_SECOND, NAN],  # LAST = 23:59:59.999999, counted as 23:59:59
            # (3 / 7) / (4 / 28): earlier window [05-27, 06-24) holds 06-23, 06-10, 06-01, 05-31
            "activity_trend_7_28": [3.0, NAN],
            # (6 / 30) / (2 / 60): earlier window [04-02, 06-01) holds 05-31 and 04-02
            "activity_trend_30_60": [6.0, NAN],
            # (65 / 30) / ((40 + 50) / 60) = 2.1667 / 1.5
            "browse_trend_30_60": [65 / 30 / 1.5, NAN],
        },
        counts=[f"{k}_{w}d" for k in ("events", "sessions", "active_days") for w in (7, 30, 90)],
    )
    assert_features(got, expected)


def test_carts_count_add_to_cart_events_in_the_last_7_and_30_days() -> None:
    users = users_frame([(1, SIGNUP), (2, SIGNUP)])
    events = events_frame(
        [
            (1, CUT, EVENT_ADD_TO_CART, 9, None),  # at the cutoff: invisible
            (1, LAST, EVENT_ADD_TO_CART, 1, None),  # 7 d
            (1, START_7, EVENT_ADD_TO_CART, 1, None),  # 7-day window start: 7 d
            (1, START_7 - US, EVENT_ADD_TO_CART, 2, None),  # 30 d only
            (1, START_30 - US, EVENT_ADD_TO_CART, 3, None),  # before both windows
            (1, LAST, EVENT_PAGE_VIEW, 1, None),  # not a cart
            (2, START_30, EVENT_ADD_TO_CART, 4, None),  # 30-day window start: 30 d
        ]
    )

    got = features_at({USERS: users, ORDERS: NO_ORDERS, EVENTS: events})

    expected = expected_frame({USER_ID: [1, 2], "carts_7d": [2, 0], "carts_30d": [3, 1]}, counts=["carts_7d", "carts_30d"])
    assert_features(got, expected)


def test_activity_without_session_and_duration_columns_omits_their_features() -> None:
    users = users_frame([(1, SIGNUP)])
    events = events_frame([(1, D(2024, 6, 30, 6), EVENT_PAGE_VIEW, None, None)])
    events = events.drop(columns=[Events.SESSION_ID, Events.DURATION_S])

    got = features_at({USERS: users, ORDERS: NO_ORDERS, EVENTS: events})

    absent = [c for c in got.columns if c.startswith(("sessions_", "browse_", "top_browsed_"))]
    assert absent == []
    # 06-30 06:00 -> 07-01 00:00 = 18 h = 0.75 d
    expected = expected_frame({USER_ID: [1], "events_7d": [1], "days_since_last_event": [0.75]}, counts=["events_7d"])
    assert_features(got, expected)


def test_top_browsed_category_counts_categorised_events_in_30_days_and_breaks_ties_alphabetically() -> None:
    users = users_frame([(1, SIGNUP), (2, SIGNUP), (3, SIGNUP)])
    view, cart = EVENT_PAGE_VIEW, EVENT_ADD_TO_CART
    rows = [
        # user 1: toys 1, books 1 in the window -> tie, "books" first alphabetically
        ((1, LAST, view, None, None), "toys"),  # last instant of as_of: inside
        ((1, START_30, cart, None, None), "books"),  # 30-day window start: inside
        ((1, START_30 - US, view, None, None), "toys"),  # 1 us before: outside; would make toys win
        ((1, CUT, view, None, None), "toys"),  # at the cutoff: invisible; would make toys win
        ((1, D(2024, 6, 15), EVENT_LOGIN, None, None), None),  # no category: ignored,
        ((1, D(2024, 6, 16), EVENT_SEARCH, None, None), None),  # though nulls are the most frequent
        # user 2: the most frequent category wins over the alphabetical one
        ((2, D(2024, 6, 10), view, None, None), "zines"),
        ((2, D(2024, 6, 11), view, None, None), "zines"),
        ((2, D(2024, 6, 12), cart, None, None), "art"),
        # user 3: no events -> null
    ]
    events = events_frame([r for r, _ in rows])
    events[Events.CATEGORY] = _text([c for _, c in rows])

    got = features_at({USERS: users, ORDERS: NO_ORDERS, EVENTS: events})

    expected = expected_frame(
        {USER_ID: [1, 2, 3], "top_browsed_category_30d": ["books", "zines", None]},
        categories={"top_browsed_category_30d": ["books", "zines"]},
    )
    assert_features(got, expected)


# ---------------------------------------------------------------- logins


def test_logins_counts_recency_gaps_and_trends() -> None:
    users = users_frame([(1, SIGNUP), (2, SIGNUP), (3, SIGNUP)])
    login, view = EVENT_LOGIN, EVENT_PAGE_VIEW
    events = events_frame(
        [
            # user 1: logins on 05-26, 05-27, 06-20, 06-28 (twice), 06-30
            (1, CUT, login, None, None),  # invisible
            (1, D(2024, 6, 30, 8), login, None, None),
            (1, D(2024, 6, 28, 8), login, None, None),
            (1, D(2024, 6, 28, 20), login, None, None),  # same day: one login day
            (1, D(2024, 6, 20, 8), login, None, None),  # earlier 28-day window
            (1, START_35, login, None, None),  # 35-day start: earlier 28-day window; earlier 60-day window
            (1, START_35 - US, login, None, None),  # 1 us before: earlier 60-day window only
            (1, D(2024, 4, 15, 8), view, None, None),  # not a login
            # user 2: logins on 04-01 (1 us before the 90-day start), 04-02, 04-12, 04-22
            (2, START_90 - US, login, None, None),
            (2, START_90, login, None, None),
            (2, D(2024, 4, 12), login, None, None),
            (2, D(2024, 4, 22), login, None, None),
            # user 3: events, no logins
            (3, D(2024, 6, 29), view, None, None),
        ]
    )

    got = features_at({USERS: users, ORDERS: NO_ORDERS, EVENTS: events})

    expected = expected_frame(
        {
            USER_ID: [1, 2, 3],
            "logins_7d": [3, 0, 0],  # 06-30, 06-28 x2
            "logins_30d": [4, 0, 0],  # + 06-20
            "logins_90d": [6, 3, 0],  # user 1: + 05-27, 05-26; user 2: 04-02, 04-12, 04-22
            # user 1: 06-30 08:00 -> 07-01 = 16 h; user 2: 04-22 -> 07-01 = 8 + 31 + 30 + 1 = 70 d
            "days_since_last_login": [16 / 24, 70.0, NAN],
            # user 1: login days 05-26, 05-27, 06-20, 06-28, 06-30 -> gaps 1, 24, 8, 2
            # user 2: login days 04-02, 04-12, 04-22 (04-01 is outside) -> gaps 10, 10
            "login_gap_mean_90d": [35 / 4, 10.0, NAN],
            # user 1: deviations -7.75, 15.25, -0.75, -6.75; squares sum to 338.75; sample variance / 3
            "login_gap_std_90d": [math.sqrt(338.75 / 3), 0.0, NAN],
            # user 1: (3 / 7) / (2 / 28), earlier [05-27, 06-24) holds 06-20 and 05-27
            # user 2: 0 / 0 -> null
            "login_trend_7_28": [6.0, NAN, NAN],
            # user 1: (4 / 30) / (2 / 60), earlier [04-02, 06-01) holds 05-27 and 05-26
            # user 2: (0 / 30) / (3 / 60) = 0; user 3: no login before -> null
            "login_trend_30_60": [4.0, 0.0, NAN],
            # every event counts here: user 1 has 3 events in 7 d and 2 in [05-27, 06-24) (not 05-26)
            "activity_trend_7_28": [6.0, NAN, NAN],
            # user 1 has 4 events in 30 d and 3 in [04-02, 06-01), the page view included
            "activity_trend_30_60": [(4 / 30) / (3 / 60), 0.0, NAN],
        },
        counts=["logins_7d", "logins_30d", "logins_90d"],
    )
    assert_features(got, expected)


# ---------------------------------------------------------------- purchases


def test_purchase_counts_recency_gaps_and_tenure() -> None:
    users = users_frame([(1, SIGNUP), (2, D(2024, 6, 1, 12)), (3, SIGNUP), (4, SIGNUP)])
    paid, refunded, cancelled = STATUS_PAID, STATUS_REFUNDED, STATUS_CANCELLED
    orders = orders_frame(
        [
            (1, D(2024, 1, 11), 1.0, paid, None),  # first purchase
            (1, START_90 - US, 1.0, paid, None),  # 04-01: outside 90 d
            (1, START_90 - US, 1.0, cancelled, None),  # outside 90 d: not in cancelled_orders_90d
            (1, START_90, 1.0, paid, None),  # 04-02: 90-day start
            (1, START_30, 1.0, refunded, None),  # 06-01: 30-day start; a refunded order is a purchase
            (1, D(2024, 6, 1, 15), 1.0, paid, None),  # same purchase day as the refunded one
            (1, START_7 - US, 1.0, cancelled, None),  # 06-23: cancelled, not a purchase day
            (1, START_7, 1.0, paid, None),  # 06-24: 7-day start, the last purchase
            (1, D(2024, 6, 30, 12), 1.0, cancelled, None),  # cancelled, not the last purchase
            (1, CUT, 1.0, paid, None),  # invisible
            (2, LAST, 1.0, paid, None),  # last instant of as_of: the only purchase
            (2, CUT, 1.0, paid, None),  # invisible
            (3, D(2024, 6, 15), 1.0, cancelled, None),  # only a cancelled order
        ]
    )

    got = features_at({USERS: users, ORDERS: orders})

    expected = expected_frame(
        {
            USER_ID: [1, 2, 3, 4],
            "orders_7d": [1, 1, 0, 0],  # user 1: 06-24
            "orders_30d": [3, 1, 0, 0],  # + 06-01 refunded, 06-01 paid
            "orders_90d": [4, 1, 0, 0],  # + 04-02
            "orders_all": [6, 1, 0, 0],  # + 04-01, 01-11
            "purchase_days_all": [5, 1, 0, 0],  # user 1: 01-11, 04-01, 04-02, 06-01 (twice), 06-24
            "days_since_last_order": [7.0, ONE_SECOND, NAN, NAN],  # 06-24 -> 07-01; 23:59:59 -> 07-01
            # user 1 purchase days 01-11, 04-01, 04-02, 06-01, 06-24 -> gaps 81, 1, 60, 23
            "order_gap_mean": [165 / 4, NAN, NAN, NAN],
            "order_gap_median": [(23 + 60) / 2, NAN, NAN, NAN],
            # deviations 39.75, -40.25, 18.75, -18.25; squares sum to 3884.75; sample variance / 3
            "order_gap_std": [math.sqrt(3884.75 / 3), NAN, NAN, NAN],
            "order_overdue": [7 / 41.5, NAN, NAN, NAN],  # days since last / median gap
            # user 1: 01-01 -> 01-11; user 2: 06-01 12:00 -> 06-30 23:59:59 = 29.5 d - 1 s
            "days_signup_to_first_order": [10.0, 29.5 - ONE_SECOND, NAN, NAN],
            "days_since_first_order": [172.0, ONE_SECOND, NAN, NAN],  # 01-11 -> 07-01 = 182 - 10
            "cancelled_orders_90d": [2, 0, 1, 0],  # user 1: 06-23, 06-30 12:00
        },
        counts=["orders_7d", "orders_30d", "orders_90d", "orders_all", "purchase_days_all", "cancelled_orders_90d"],
    )
    assert_features(got, expected)


def test_order_gaps_with_an_even_spread_and_no_status_column() -> None:
    users = users_frame([(1, SIGNUP)])
    orders = orders_frame(
        [
            (1, D(2024, 6, 10, 9), 1.0, None, None),
            (1, D(2024, 6, 20, 23), 1.0, None, None),
            (1, D(2024, 6, 25, 1), 1.0, None, None),
        ]
    ).drop(columns=[Orders.STATUS, Orders.CATEGORY])

    got = features_at({USERS: users, ORDERS: orders})

    # Without a status every order is a purchase; gaps in calendar days: 10, 5
    expected = expected_frame(
        {
            USER_ID: [1],
            "orders_all": [3],
            "purchase_days_all": [3],
            "order_gap_mean": [7.5],
            "order_gap_median": [7.5],
            "order_gap_std": [math.sqrt((2.5**2 + 2.5**2) / 1)],
            # 06-25 01:00 -> 07-01 = 5 d 23 h; / median 7.5
            "order_overdue": [(5 + 23 / 24) / 7.5],
        },
        counts=["orders_all", "purchase_days_all"],
    )
    assert_features(got, expected)
    for name in ("cancelled_orders_90d", "refunds_90d", "refund_rate", "categories_all", "main_category"):
        assert name not in got.columns


# ---------------------------------------------------------------- spend


def test_spend_sums_purchases_including_refunded_ones_and_excludes_cancelled() -> None:
    users = users_frame([(1, SIGNUP), (2, SIGNUP), (3, SIGNUP), (4, SIGNUP), (5, SIGNUP)])
    paid, refunded, cancelled = STATUS_PAID, STATUS_REFUNDED, STATUS_CANCELLED
    orders = orders_frame(
        [
            (1, D(2024, 1, 15), 100.0, refunded, None),  # all only; a refund outside 90 d
            (1, START_90 - US, 10.0, paid, None),  # all only
            (1, START_90, 20.0, paid, None),  # 90 d, earlier 60-day window
            (1, START_30 - US, 30.0, refunded, None),  # 90 d, earlier 60-day window
            (1, START_30, 40.0, paid, None),  # 30 d
            (1, D(2024, 6, 15), 1000.0, cancelled, None),  # never spend
            (1, LAST, 5.0, refunded, None),  # 30 d
            (1, CUT, 9999.0, paid, None),  # invisible
            (2, D(2024, 5, 1), 8.0, paid, None),  # earlier 60-day window only
            (2, D(2024, 6, 20), 50.0, cancelled, None),
            (3, D(2024, 6, 20), 70.0, cancelled, None),  # only cancelled orders
            (4, D(2024, 6, 10), 12.0, paid, None),  # nothing in the earlier window
        ]
    )

    got = features_at({USERS: users, ORDERS: orders})

    expected = expected_frame(
        {
            USER_ID: [1, 2, 3, 4, 5],
            "spend_30d": [45.0, 0.0, 0.0, 12.0, 0.0],  # 40 + 5
            "spend_90d": [95.0, 8.0, 0.0, 12.0, 0.0],  # 20 + 30 + 40 + 5
            "spend_all": [205.0, 8.0, 0.0, 12.0, 0.0],  # 100 + 10 + 95
            "avg_order_value": [205 / 6, 8.0, NAN, 12.0, NAN],  # 6 purchases
            # user 1: (45 / 30) / ((20 + 30) / 60) = 1.5 / 0.8333; user 2: 0 / (8 / 60); user 4: 12 / 0 -> null
            "spend_trend_30_60": [1.8, 0.0, NAN, NAN, NAN],
            "refunds_90d": [2, 0, 0, 0, 0],  # 05-31, 06-30 (not 01-15)
            "refund_rate": [3 / 6, 0.0, NAN, 0.0, NAN],  # refunded / purchases, ever
            "cancelled_orders_90d": [1, 1, 1, 0, 0],
        },
        counts=["refunds_90d", "cancelled_orders_90d"],
    )
    assert_features(got, expected)


# ---------------------------------------------------------------- category mix


def test_category_mix_counts_purchases_and_breaks_ties_alphabetically() -> None:
    users = users_frame([(1, SIGNUP), (2, SIGNUP), (3, SIGNUP), (4, SIGNUP)])
    paid, refunded, cancelled = STATUS_PAID, STATUS_REFUNDED, STATUS_CANCELLED
    orders = orders_frame(
        [
            # user 1: toys 2, books 2 (one refunded), games 1 -> tie, "books" first alphabetically
            (1, D(2024, 2, 1), 1.0, paid, "toys"),
            (1, D(2024, 3, 1), 1.0, paid, "toys"),
            (1, D(2024, 4, 1), 1.0, refunded, "books"),
            (1, D(2024, 5, 1), 1.0, paid, "books"),
            (1, D(2024, 6, 1), 1.0, paid, "games"),
            (1, D(2024, 6, 2), 1.0, paid, None),  # no category: ignored by the mix
            (1, D(2024, 6, 3), 1.0, cancelled, "aprons"),  # cancelled: not bought
            (1, D(2024, 6, 4), 1.0, cancelled, "aprons"),
            (1, D(2024, 6, 5), 1.0, cancelled, "aprons"),
            (1, CUT, 1.0, paid, "toys"),  # invisible; would break the tie for toys
            # user 2: one purchase at the last instant
            (2, LAST, 1.0, paid, "toys"),
            # user 3: purchases without category only
            (3, D(2024, 6, 1), 1.0, paid, None),
            # user 4: the most bought category wins over the alphabetical one
            (4, D(2024, 6, 1), 1.0, paid, "zines"),
            (4, D(2024, 6, 2), 1.0, paid, "art"),
            (4, D(2024, 6, 3), 1.0, paid, "zines"),
        ]
    )

    got = features_at({USERS: users, ORDERS: orders})

    expected = expected_frame(
        {
            USER_ID: [1, 2, 3, 4],
            "categories_all": [3, 1, 0, 2],
            "main_category": ["books", "toys", None, "zines"],
            "main_category_share": [2 / 5, 1.0, NAN, 2 / 3],  # user 1: 2 of 5 categorised purchases
        },
        counts=["categories_all"],
        categories={"main_category": ["books", "toys", "zines"]},
    )
    assert_features(got, expected)


# ---------------------------------------------------------------- coupons


def test_coupons_count_treatment_rows_and_redemptions_known_at_the_cutoff() -> None:
    users = users_frame([(1, SIGNUP), (2, SIGNUP), (3, SIGNUP), (4, SIGNUP)])
    t, c = GROUP_TREATMENT, GROUP_CONTROL
    coupons = coupons_frame(
        [
            (1, D(2024, 6, 10), t, D(2024, 6, 12)),  # received, redeemed
            (1, D(2024, 6, 20), t, CUT),  # redeemed at the cutoff: not redeemed yet
            (1, D(2024, 6, 25), t, LAST),  # redeemed at the last instant: redeemed; the last coupon
            (1, D(2024, 6, 28), c, None),  # control: held out, not received
            (1, CUT, t, None),  # issued at the cutoff: invisible
            (1, START_90 - US, t, None),  # received outside 90 d
            (1, START_90, t, D(2024, 4, 3)),  # 90-day start: received and redeemed in 90 d
            (2, D(2024, 6, 1), t, D(2024, 7, 10)),  # issued before as_of, redeemed after: not redeemed
            (3, D(2024, 6, 1), c, None),  # control rows only
            (3, D(2024, 6, 29), c, None),
        ]
    )

    got = features_at({USERS: users, ORDERS: NO_ORDERS, COUPONS: coupons})

    expected = expected_frame(
        {
            USER_ID: [1, 2, 3, 4],
            "coupons_received_90d": [4, 1, 0, 0],  # 06-10, 06-20, 06-25, 04-02
            "coupons_redeemed_90d": [3, 0, 0, 0],  # redeemed 06-12, 06-30, 04-03
            "coupon_redemption_rate": [3 / 5, 0.0, NAN, NAN],  # user 1: 3 of 5 received, ever
            "days_since_last_coupon": [6.0, 30.0, NAN, NAN],  # 06-25 -> 07-01; 06-01 -> 07-01
        },
        counts=["coupons_received_90d", "coupons_redeemed_90d"],
    )
    assert_features(got, expected)


# ---------------------------------------------------------------- tickets


def test_tickets_count_kinds_in_windows_and_tickets_open_at_the_cutoff() -> None:
    users = users_frame([(1, SIGNUP), (2, SIGNUP), (3, SIGNUP), (4, SIGNUP)])
    ret, complaint, inquiry = TICKET_RETURN, TICKET_COMPLAINT, TICKET_INQUIRY
    tickets = tickets_frame(
        [
            (1, D(2024, 6, 10), ret, D(2024, 6, 12)),  # return in 90 d, resolved
            (1, START_90 - US, ret, D(2024, 4, 5)),  # return outside 90 d
            (1, START_30, complaint, None),  # 30-day start; never resolved: open
            (1, START_30 - US, complaint, CUT),  # 90 d only; resolved at the cutoff: open
            (1, START_90, complaint, LAST),  # 90-day start; resolved at the last instant: closed
            (1, D(2024, 6, 20), inquiry, D(2024, 7, 2)),  # resolved after the cutoff: open
            (1, CUT, complaint, None),  # created at the cutoff: invisible
            (2, LAST, complaint, None),  # last instant: visible, open
            (2, D(2024, 1, 10), ret, D(2024, 1, 12)),
            (3, D(2024, 6, 15), inquiry, D(2024, 6, 16)),
        ]
    )

    got = features_at({USERS: users, ORDERS: NO_ORDERS, TICKETS: tickets})

    expected = expected_frame(
        {
            USER_ID: [1, 2, 3, 4],
            "returns_90d": [1, 0, 0, 0],
            "complaints_30d": [1, 1, 0, 0],  # user 1: 06-01 00:00
            "complaints_90d": [3, 1, 0, 0],  # user 1: 06-01, 05-31, 04-02
            "unresolved_tickets": [3, 1, 0, 0],  # user 1: never resolved, resolved at / after the cutoff
            "days_since_last_complaint": [30.0, ONE_SECOND, NAN, NAN],  # 06-01 -> 07-01; 23:59:59 -> 07-01
        },
        counts=["returns_90d", "complaints_30d", "complaints_90d", "unresolved_tickets"],
    )
    assert_features(got, expected)


# ---------------------------------------------------------------- reviews


def test_reviews_count_mean_rating_and_recent_low_ratings() -> None:
    users = users_frame([(1, SIGNUP), (2, SIGNUP), (3, SIGNUP)])
    reviews = reviews_frame(
        [
            (1, D(2024, 2, 1), 5),
            (1, START_90 - US, 2),  # low, but outside 90 d
            (1, START_90, 1),  # low, 90-day start
            (1, LAST, 3),
            (1, CUT, 4),  # invisible
            (2, D(2024, 6, 15), 2),
            (2, CUT, 1),  # invisible
        ]
    )

    got = features_at({USERS: users, ORDERS: NO_ORDERS, REVIEWS: reviews})

    expected = expected_frame(
        {
            USER_ID: [1, 2, 3],
            "reviews_all": [4, 1, 0],
            "mean_rating": [(5 + 2 + 1 + 3) / 4, 2.0, NAN],
            "low_ratings_90d": [1, 1, 0],
        },
        counts=["reviews_all", "low_ratings_90d"],
    )
    assert_features(got, expected)


# ---------------------------------------------------------------- elapsed days


def test_days_since_counts_whole_seconds() -> None:
    # Engines disagree on fractions of a second (DuckDB's EPOCH keeps them, Spark's
    # unix_timestamp drops them), so elapsed days are computed from whole seconds.
    users = users_frame([(1, D(2024, 1, 1, 0, 0, 0, 700_000))])
    orders = orders_frame([(1, D(2024, 6, 30, 23, 59, 59, 500_000), 1.0, STATUS_PAID, None)])

    got = features_at({USERS: users, ORDERS: orders})

    expected = expected_frame(
        {
            USER_ID: [1],
            "days_since_signup": [182.0],  # 01-01 00:00:00.7 counts as 00:00:00
            "days_since_last_order": [ONE_SECOND],  # 23:59:59.5 counts as 23:59:59: 1 s before the cutoff
            "days_signup_to_first_order": [182.0 - ONE_SECOND],
        }
    )
    assert_features(got, expected)
