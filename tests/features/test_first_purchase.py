"""Browsing profiles and first-purchase categories of new users, hand-computed; rows after as_of change nothing.

as_of 2025-03-10 (cutoff 03-11 00:00), horizon 10 days: the label window is [03-11, 03-21).
u1 signed up 2025-03-01 (Q1, organic, east, city tier 1): page views fresh, fresh, digital; a cart of fresh;
   a login and a page view without category (not counted); a page view of digital on 03-11 (after as_of).
   -> views_fresh 2, views_digital 1, carts_fresh 1, events_total 4.
u2 signed up 2025-03-05 (Q1, paid_ads, south, tier 3): no events.
u3 signed up 2025-04-02: after as_of, not in the profile.
Orders: u1 paid digital 03-12 10:00 and paid fresh at the same instant with a lower order id -> first fresh;
u2 cancelled apparel 03-12 (not a purchase), refunded beauty 03-15 -> first beauty (a purchase);
u4 paid apparel 03-01 (before as_of: first purchase not in the window) and again 03-12; u5 paid fresh 03-25 (after).
"""

from __future__ import annotations

import datetime as dt

import pandas as pd
import pytest

from features.build import memtables
from features.contract import (
    EVENT_ADD_TO_CART,
    EVENT_LOGIN,
    EVENT_PAGE_VIEW,
    EVENTS,
    ORDERS,
    STATUS_CANCELLED,
    STATUS_PAID,
    STATUS_REFUNDED,
    USERS,
    Events,
    Orders,
    Users,
)
from features.first_purchase import browsing_profile, first_categories

D = dt.datetime
AS_OF = dt.date(2025, 3, 10)
USER_COLUMNS = [Users.USER_ID, Users.SIGNUP_AT, Users.MEMBER_TIER, Users.CITY_TIER, Users.REGION, Users.CHANNEL]
EVENT_COLUMNS = [Events.USER_ID, Events.EVENT_AT, Events.EVENT_TYPE, Events.SESSION_ID, Events.DURATION_S, Events.CATEGORY]
ORDER_COLUMNS = [Orders.ORDER_ID, Orders.USER_ID, Orders.ORDERED_AT, Orders.AMOUNT, Orders.CATEGORY, Orders.STATUS]


def shop(extra_events: list | None = None, extra_orders: list | None = None) -> dict:
    users = pd.DataFrame(
        [
            (1, D(2025, 3, 1), "regular", 1, "east", "organic_search"),
            (2, D(2025, 3, 5), "regular", 3, "south", "paid_ads"),
            (3, D(2025, 4, 2), "regular", 2, "north", "direct"),
            (4, D(2025, 2, 1), "gold", 1, "east", "direct"),
            (5, D(2025, 3, 8), "regular", 2, "west", "direct"),
        ],
        columns=USER_COLUMNS,
    )
    events = pd.DataFrame(
        [
            (1, D(2025, 3, 2, 10), EVENT_LOGIN, "s1", None, None),
            (1, D(2025, 3, 2, 10, 1), EVENT_PAGE_VIEW, "s1", 30.0, "fresh"),
            (1, D(2025, 3, 2, 10, 2), EVENT_PAGE_VIEW, "s1", 30.0, "fresh"),
            (1, D(2025, 3, 2, 10, 3), EVENT_ADD_TO_CART, "s1", None, "fresh"),
            (1, D(2025, 3, 9, 20), EVENT_PAGE_VIEW, "s2", 12.0, "digital"),
            (1, D(2025, 3, 9, 20, 1), EVENT_PAGE_VIEW, "s2", 12.0, None),
            (1, D(2025, 3, 11, 0), EVENT_PAGE_VIEW, "s3", 12.0, "digital"),
            *(extra_events or []),
        ],
        columns=EVENT_COLUMNS,
    )
    orders = pd.DataFrame(
        [
            (11, 1, D(2025, 3, 12, 10), 99.0, "digital", STATUS_PAID),
            (10, 1, D(2025, 3, 12, 10), 20.0, "fresh", STATUS_PAID),
            (12, 2, D(2025, 3, 12), 50.0, "apparel", STATUS_CANCELLED),
            (13, 2, D(2025, 3, 15), 30.0, "beauty", STATUS_REFUNDED),
            (14, 4, D(2025, 3, 1), 40.0, "apparel", STATUS_PAID),
            (15, 4, D(2025, 3, 12), 40.0, "apparel", STATUS_PAID),
            (16, 5, D(2025, 3, 25), 10.0, "fresh", STATUS_PAID),
            *(extra_orders or []),
        ],
        columns=ORDER_COLUMNS,
    )
    return memtables({USERS: users, EVENTS: events, ORDERS: orders})


def new_users(tables):
    return tables[USERS].filter(tables[USERS][Users.USER_ID].isin([1, 2, 3]))


def test_browsing_profile_is_hand_computed():
    tables = shop()
    got = browsing_profile(tables, AS_OF, new_users(tables)).set_index(Users.USER_ID)
    assert got.index.tolist() == [1, 2]  # u3 signed up after as_of
    assert got.loc[1, ["channel", "region", "city_tier", "signup_quarter"]].tolist() == ["organic_search", "east", "1", "Q1"]
    assert got.loc[1, ["views_fresh", "views_digital", "carts_fresh", "carts_digital", "events_total"]].tolist() == [2, 1, 1, 0, 4]
    assert got.loc[2, "events_total"] == 0 and got.loc[2, "views_fresh"] == 0
    # categories seen in orders before the cutoff get columns too (apparel: u4's order of 03-01)
    assert "views_apparel" in got.columns and got["views_apparel"].sum() == 0


def test_first_categories_take_the_first_purchase_in_the_window():
    got = first_categories(shop(), AS_OF, horizon_days=10)
    assert got.to_dict("records") == [{"user_id": 1, "first_category": "fresh"}, {"user_id": 2, "first_category": "beauty"}]


def test_rows_after_as_of_change_no_profile():
    before = browsing_profile(shop(), AS_OF, new_users(shop()))
    later = shop(
        extra_events=[(2, D(2025, 3, 11, 1), EVENT_PAGE_VIEW, "s9", 5.0, "apparel"), (1, D(2025, 3, 20), EVENT_ADD_TO_CART, "s9", None, "digital")],
        extra_orders=[(17, 2, D(2025, 3, 11, 2), 5.0, "toys", STATUS_PAID)],
    )
    after = browsing_profile(later, AS_OF, new_users(later))
    pd.testing.assert_frame_equal(before, after)


@pytest.mark.parametrize(("horizon", "users"), [(1, []), (2, [1]), (4, [1]), (5, [1, 2])])
def test_the_window_is_as_of_to_as_of_plus_horizon_days(horizon, users):
    """u1 buys 03-12 10:00 (inside from 2 days), u2 03-15 00:00 (inside from 5 days: the window ends at the end of 03-15)."""
    assert first_categories(shop(), AS_OF, horizon_days=horizon)["user_id"].tolist() == users
