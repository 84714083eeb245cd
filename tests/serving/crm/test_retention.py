"""Retention by cohort and segment, on a hand-computed shop; rows after as_of change nothing.

as_of 2025-03-31 (cutoff 04-01 00:00). Month k = [signup + 30k, signup + 30(k+1)) days. The order log
starts at E's order, 2024-12-01 12:00: a month that starts earlier is not observed.

user  signup            tier      observed, complete months   purchases (month)
A     2025-01-01 00:00  gold      0, 1, 2 (90 days)            paid 01-06 (m0), paid 02-10 (m1), cancelled 03-25 (m2: not a purchase)
B     2025-01-15 00:00  regular   0, 1 (76 days)               refunded 02-20 (m1: a purchase), paid 03-30 (m2: still running)
C     2025-03-01 00:00  gold      0 (31 days)                  paid 03-05 (m0)
E     2024-12-01 12:00  platinum  0..3 (120.5 days)            paid 2024-12-01 12:00 (m0, at the signup second)
F     2024-10-01 00:00  regular   3, 4, 5 (months 0-2 start    paid 2025-01-05 (m3: 96 days after signup)
                                  before the log: 61.5 days)

by member tier:  gold m0 2 users 2 retained, m1 1 (A) 1, m2 1 (A) 0;  platinum m0 1/1, m1..m3 1/0;
                 regular m0 1 (B) 0, m1 1 (B) 1, no m2 (B running, F not observed), m3 1 (F) 1, m4 1/0, m5 1/0
by signup month: 2024-10 m3 1/1, m4 1/0, m5 1/0; 2024-12 m0 1/1, m1..m3 1/0;
                 2025-01 m0 2 users 1 (A), m1 2 users 2, m2 1 user (A) 0; 2025-03 m0 1 user 1
"""

from __future__ import annotations

import datetime as dt

import pandas as pd
import pytest

from features.build import memtables
from features.contract import ORDERS, STATUS_CANCELLED, STATUS_PAID, STATUS_REFUNDED, USERS, Orders, Users
from features.errors import ConfigError
from serving.crm.retention import retention, retention_plot, retention_table

D = dt.datetime
AS_OF = dt.date(2025, 3, 31)


def users_frame(extra: list | None = None) -> pd.DataFrame:
    rows = [
        (1, D(2025, 1, 1), "gold", 1, "east", "organic"),
        (2, D(2025, 1, 15), "regular", 2, "south", "paid_ads"),
        (3, D(2025, 3, 1), "gold", 1, "east", "organic"),
        (5, D(2024, 12, 1, 12), "platinum", 3, "west", "direct"),
        (6, D(2024, 10, 1), "regular", 4, "west", "direct"),
        *(extra or []),
    ]
    return pd.DataFrame(
        rows, columns=[Users.USER_ID, Users.SIGNUP_AT, Users.MEMBER_TIER, Users.CITY_TIER, Users.REGION, Users.CHANNEL]
    )


def orders_frame(extra: list | None = None) -> pd.DataFrame:
    rows = [
        (1, 1, D(2025, 1, 6), 10.0, STATUS_PAID),
        (2, 1, D(2025, 2, 10), 10.0, STATUS_PAID),
        (3, 1, D(2025, 3, 25), 10.0, STATUS_CANCELLED),
        (4, 2, D(2025, 2, 20), 10.0, STATUS_REFUNDED),
        (5, 2, D(2025, 3, 30), 10.0, STATUS_PAID),
        (6, 3, D(2025, 3, 5), 10.0, STATUS_PAID),
        (10, 5, D(2024, 12, 1, 12), 10.0, STATUS_PAID),
        (11, 6, D(2025, 1, 5), 10.0, STATUS_PAID),
        *(extra or []),
    ]
    frame = pd.DataFrame(rows, columns=[Orders.ORDER_ID, Orders.USER_ID, Orders.ORDERED_AT, Orders.AMOUNT, Orders.STATUS])
    frame[Orders.CATEGORY] = "fresh"
    return frame


def tables(users=None, orders=None):
    return memtables({USERS: users if users is not None else users_frame(), ORDERS: orders if orders is not None else orders_frame()})


def as_tuples(frame: pd.DataFrame) -> list[tuple]:
    return [tuple(row) for row in frame[["group", "month", "users", "retained"]].itertuples(index=False)]


def test_retention_by_member_tier_is_hand_computed():
    got = retention(tables(), AS_OF, by=Users.MEMBER_TIER, months=6)
    assert as_tuples(got) == [
        ("gold", 0, 2, 2), ("gold", 1, 1, 1), ("gold", 2, 1, 0),
        ("platinum", 0, 1, 1), ("platinum", 1, 1, 0), ("platinum", 2, 1, 0), ("platinum", 3, 1, 0),
        ("regular", 0, 1, 0), ("regular", 1, 1, 1), ("regular", 3, 1, 1), ("regular", 4, 1, 0), ("regular", 5, 1, 0),
    ]  # fmt: skip
    assert got["rate"].tolist() == [1.0, 1.0, 0.0, 1.0, 0.0, 0.0, 0.0, 0.0, 1.0, 1.0, 0.0, 0.0]
    assert set(got["by"]) == {Users.MEMBER_TIER}


def test_retention_by_signup_month_is_hand_computed():
    got = retention(tables(), AS_OF, months=6)
    assert as_tuples(got) == [
        ("2024-10", 3, 1, 1), ("2024-10", 4, 1, 0), ("2024-10", 5, 1, 0),
        ("2024-12", 0, 1, 1), ("2024-12", 1, 1, 0), ("2024-12", 2, 1, 0), ("2024-12", 3, 1, 0),
        ("2025-01", 0, 2, 1), ("2025-01", 1, 2, 2), ("2025-01", 2, 1, 0), ("2025-03", 0, 1, 1),
    ]  # fmt: skip


def test_months_caps_the_curve():
    got = retention(tables(), AS_OF, by=Users.MEMBER_TIER, months=1)
    assert as_tuples(got) == [("gold", 0, 2, 2), ("platinum", 0, 1, 1), ("regular", 0, 1, 0)]


def test_rows_after_as_of_change_nothing():
    before = retention(tables(), AS_OF, by=Users.MEMBER_TIER)
    later_users = [(4, D(2025, 4, 1), "gold", 1, "east", "organic")]
    later_orders = [(7, 1, D(2025, 4, 1), 10.0, STATUS_PAID), (8, 3, D(2025, 4, 2), 10.0, STATUS_PAID), (9, 4, D(2025, 4, 2), 9.0, STATUS_PAID)]
    after = retention(tables(users_frame(later_users), orders_frame(later_orders)), AS_OF, by=Users.MEMBER_TIER)
    pd.testing.assert_frame_equal(before, after)


def test_wide_table_has_cohort_sizes_and_a_column_per_month():
    wide = retention_table(retention(tables(), AS_OF, by=Users.MEMBER_TIER, months=3))
    assert wide.columns.tolist() == ["group", "cohort_users", "m0", "m1", "m2"]
    gold = wide.set_index("group").loc["gold"]
    assert (gold["cohort_users"], gold["m0"], gold["m1"], gold["m2"]) == (2, 1.0, 1.0, 0.0)
    regular = wide.set_index("group").loc["regular"]
    assert regular["cohort_users"] == 1 and regular["m1"] == 1.0 and pd.isna(regular["m2"])


def test_plot_is_written(tmp_path):
    path = retention_plot(retention(tables(), AS_OF, by=Users.MEMBER_TIER), tmp_path / "retention.png", "Retention")
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"by": "member_teir"}, "retention by 'member_teir': expected one of signup_month, member_tier, city_tier, region, channel (did you mean member_tier?)"),
        ({"months": 0}, "retention months 0: expected 1 to 60"),
        ({"as_of": dt.date(2024, 12, 20)}, "retention at as_of 2024-12-20: no user has a complete month (30 days) since signup within the data by then"),
    ],
)
def test_bad_requests_name_the_value(kwargs, message):
    as_of = kwargs.pop("as_of", AS_OF)
    with pytest.raises(ConfigError) as e:
        retention(tables(), as_of, **kwargs)
    assert str(e.value) == message


def test_a_missing_segment_column_is_named():
    with pytest.raises(ConfigError, match="the users table has no column channel"):
        retention(tables(users_frame().drop(columns=[Users.CHANNEL])), AS_OF, by=Users.CHANNEL)
