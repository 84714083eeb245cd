"""Churn and activation populations and labels, snapshot dates and the training-set builder.

``as_of`` = 2024-06-30 throughout the label tests: the cutoff is 2024-07-01
00:00, the churn label window (30 days) is [07-01 00:00, 07-31 00:00), i.e.
the days 07-01 .. 07-30 (= as_of + 30), and the 180-day lookback starts at
2024-01-03 00:00.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

import numpy as np
import pandas as pd
import pytest
from pandas.testing import assert_frame_equal

from features.build import compute_features, memtables
from features.catalog import AS_OF, LABEL, USER_ID
from features.contract import (
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
from features.errors import ConfigError
from features.labels import (
    ACTIVATION,
    activation_labels,
    activation_population,
    ORDERS_ONLY,
    ChurnDefinition,
    churn_labels,
    churn_population,
    definition_from,
    restrict,
    winback_population,
    snapshot_dates,
    training_set,
)

D = dt.datetime
US = dt.timedelta(microseconds=1)
DAY = dt.date(2024, 6, 30)  # as_of of the label tests
CUT = D(2024, 7, 1)
LAST = CUT - US  # 2024-06-30 23:59:59.999999
PAID, REFUNDED, CANCELLED = STATUS_PAID, STATUS_REFUNDED, STATUS_CANCELLED


def _ts(values: Sequence[dt.datetime]) -> pd.Series:
    return pd.Series(pd.to_datetime(list(values)), dtype="datetime64[us]")


def users_frame(rows: Sequence[tuple[int, dt.datetime]]) -> pd.DataFrame:
    user_id, signup = zip(*rows, strict=True)
    return pd.DataFrame({Users.USER_ID: np.asarray(user_id, dtype="int64"), Users.SIGNUP_AT: _ts(signup)})


def orders_frame(rows: Sequence[tuple[int, dt.datetime, str]]) -> pd.DataFrame:
    """rows: (user_id, ordered_at, status); amount 10.0, order ids 1, 2, ..."""
    user_id, at, status = zip(*rows, strict=True)
    return pd.DataFrame(
        {
            Orders.ORDER_ID: np.arange(1, len(rows) + 1, dtype="int64"),
            Orders.USER_ID: np.asarray(user_id, dtype="int64"),
            Orders.ORDERED_AT: _ts(at),
            Orders.AMOUNT: np.full(len(rows), 10.0),
            Orders.STATUS: pd.Series(list(status), dtype="str"),
        }
    )


def run(expr) -> pd.DataFrame:
    """Execute a population or label expression; rows sorted by user_id."""
    return expr.to_pandas().sort_values(USER_ID, ignore_index=True)


def population(user_ids: list[int]) -> pd.DataFrame:
    return pd.DataFrame({USER_ID: np.asarray(user_ids, dtype="int64")})


def labelled(user_ids: list[int], labels: list[int]) -> pd.DataFrame:
    return pd.DataFrame({USER_ID: np.asarray(user_ids, dtype="int64"), LABEL: np.asarray(labels, dtype="int8")})


# ---------------------------------------------------------------- churn


def churn_tables() -> dict:
    users = users_frame([(u, D(2023, 6, 1)) for u in range(1, 12)])
    orders = orders_frame(
        [
            (1, D(2024, 6, 1), PAID),
            (1, D(2024, 7, 30, 23, 59, 59, 999_999), PAID),  # last instant of as_of + 30: retained
            (2, D(2024, 6, 1), PAID),
            (2, D(2024, 7, 30), PAID),  # first instant of as_of + 30: retained
            (3, D(2024, 6, 1), PAID),
            (3, D(2024, 7, 31), PAID),  # as_of + 31: too late, churned
            (4, LAST, PAID),  # only purchase: at 23:59:59.999999 on as_of (lookback, not label window)
            (5, D(2024, 6, 1), PAID),
            (5, D(2024, 7, 10), CANCELLED),  # a cancelled order is not a purchase: churned
            (6, D(2024, 6, 1), PAID),
            (6, D(2024, 7, 10), REFUNDED),  # a refunded order is a purchase: retained
            (7, D(2024, 1, 3), PAID),  # exactly at the lookback start (cutoff - 180 d): in the population
            (8, D(2024, 1, 3) - US, PAID),  # 1 us before the lookback start: not in the population
            (9, D(2024, 6, 1), CANCELLED),  # only a cancelled order: not in the population
            (10, D(2024, 6, 1), REFUNDED),  # only a refunded order: in the population
            (11, CUT, PAID),  # at the cutoff: a future purchase, not in the population
        ]
    )
    return memtables({USERS: users, ORDERS: orders})


def test_churn_population_is_users_with_a_purchase_in_the_lookback() -> None:
    got = run(churn_population(churn_tables(), DAY, ORDERS_ONLY))

    # not 8 (before the lookback), 9 (cancelled only), 11 (after the cutoff)
    assert_frame_equal(got, population([1, 2, 3, 4, 5, 6, 7, 10]))


def test_churn_label_is_1_without_a_purchase_up_to_as_of_plus_horizon() -> None:
    got = run(churn_labels(churn_tables(), DAY, ORDERS_ONLY))

    expected = labelled(
        [1, 2, 3, 4, 5, 6, 7, 10],
        # 1, 2: bought on 07-30 (as_of + 30, last and first instant); 3: only on 07-31;
        # 4: the 06-30 23:59:59.999999 purchase is not in the future; 5: cancelled; 6: refunded
        [0, 0, 1, 1, 1, 0, 1, 1],
    )
    assert_frame_equal(got, expected)


def test_churn_label_window_follows_horizon_days() -> None:
    got = run(churn_labels(churn_tables(), DAY, ChurnDefinition(session_days=None, horizon_days=10)))

    # window [07-01, 07-11): only user 6's refunded 07-10 purchase falls in it
    assert_frame_equal(got, labelled([1, 2, 3, 4, 5, 6, 7, 10], [1, 1, 1, 1, 1, 0, 1, 1]))


def events_frame(rows: Sequence[tuple[int, dt.datetime]]) -> pd.DataFrame:
    """rows: (user_id, event_at); page views in session ``user_id``."""
    user_id, at = zip(*rows, strict=True)
    return pd.DataFrame(
        {
            Events.USER_ID: np.asarray(user_id, dtype="int64"),
            Events.EVENT_AT: _ts(at),
            Events.EVENT_TYPE: pd.Series(["page_view"] * len(rows), dtype="str"),
            Events.SESSION_ID: pd.Series([f"s{u}" for u in user_id], dtype="str"),
        }
    )


def early_warning_tables() -> dict:
    """Users 1-5 bought on 06-01 (in the 180 days); user 6 last bought 2023-12-01 (outside them)."""
    users = users_frame([(u, D(2023, 6, 1)) for u in range(1, 7)])
    orders = orders_frame([(u, D(2024, 6, 1), PAID) for u in range(1, 6)] + [(6, D(2023, 12, 1), PAID), (4, D(2024, 7, 5), PAID)])
    events = events_frame(
        [
            (1, D(2024, 6, 25)),  # a session in the last 30 days: still active
            (2, D(2024, 6, 1)),  # only 06-01 = cutoff - 30 d: the window's first instant, still active
            (3, D(2024, 6, 1) - US),  # 1 us before the 30-day window: lapsed (win-back)
            (4, LAST),  # last instant of as_of: active; bought again on 07-05
            # 5: no session at all: lapsed (win-back)
            (6, D(2024, 6, 25)),  # active, but no order in the 180 days: neither population
            (1, D(2024, 7, 10)),  # future sessions, for the session-churn label
            (3, D(2024, 7, 10)),
        ]
    )
    return memtables({USERS: users, ORDERS: orders, EVENTS: events})


def test_default_population_is_buyers_still_active_and_the_lapsed_go_to_win_back() -> None:
    tables = early_warning_tables()

    assert_frame_equal(run(churn_population(tables, DAY)), population([1, 2, 4]))
    assert_frame_equal(run(winback_population(tables, DAY)), population([3, 5]))
    # orders-only: every buyer of the 180 days, nobody lapsed by sessions
    assert_frame_equal(run(churn_population(tables, DAY, ORDERS_ONLY)), population([1, 2, 3, 4, 5]))
    assert run(winback_population(tables, DAY, ORDERS_ONLY)).empty


def test_churn_event_session_labels_users_without_any_event_in_the_horizon() -> None:
    tables = early_warning_tables()

    by_order = run(churn_labels(tables, DAY))
    by_session = run(churn_labels(tables, DAY, ChurnDefinition(event="session")))

    assert_frame_equal(by_order, labelled([1, 2, 4], [1, 1, 0]))  # only 4 orders again (07-05)
    assert_frame_equal(by_session, labelled([1, 2, 4], [0, 1, 1]))  # only 1 has a session after as_of


def test_a_definition_needing_sessions_on_orders_only_data_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match="churn definition needs table events .*session_days=None"):
        churn_population(churn_tables(), DAY)


@pytest.mark.parametrize(
    ("values", "message"),
    [
        ({"event": "purchase"}, "churn definition event: Input should be 'order' or 'session' (allowed: order, session)"),
        ({"order_days": 0}, "churn definition order_days: Input should be greater than or equal to 1"),
        ({"horizon_days": 400}, "churn definition horizon_days: Input should be less than or equal to 365"),
        ({"session_days": 200}, "session_days (200) must not exceed order_days (180)"),
    ],
)
def test_definition_errors_name_the_field_and_what_is_allowed(values, message) -> None:
    with pytest.raises(ConfigError) as caught:
        definition_from(**values)
    assert message in caught.value.message


def test_definition_refuses_unknown_fields_and_round_trips_through_task_json(tmp_path) -> None:
    with pytest.raises(ValueError, match="extra"):
        ChurnDefinition(lookback_days=90)
    definition = ChurnDefinition(order_days=90, session_days=14, event="session", horizon_days=21)
    definition.save(tmp_path)
    assert ChurnDefinition.load(tmp_path) == definition
    assert ChurnDefinition.load(tmp_path / "nothing") is None
    assert definition.describe() == (
        "users with a paid order in the last 90 days and a session in the last 14 days; churn = no session in the next 21 days"
    )


# ---------------------------------------------------------------- activation


def activation_tables() -> dict:
    users = users_frame(
        [
            (1, D(2024, 6, 17)),  # signup window start (cutoff - 14 d): in
            (2, D(2024, 6, 17) - US),  # 1 us before: out
            (3, LAST),  # last instant of as_of: in
            (4, CUT),  # at the cutoff: not signed up yet
            (5, D(2024, 6, 20)),  # bought before as_of: out
            (6, D(2024, 6, 20)),  # cancelled before as_of: still in
            (7, D(2024, 6, 20)),  # refunded before as_of: bought, out
            (8, D(2024, 6, 20)),
            (9, D(2024, 6, 22)),
            (10, D(2024, 1, 1)),  # old user who never bought: out
        ]
    )
    orders = orders_frame(
        [
            (1, D(2024, 7, 14, 23, 59, 59, 999_999), PAID),  # last instant of as_of + 14: activated
            (2, D(2024, 7, 2), PAID),
            (3, D(2024, 7, 15), PAID),  # as_of + 15: too late
            (4, D(2024, 7, 2), PAID),
            (5, D(2024, 6, 25), PAID),
            (6, D(2024, 6, 25), CANCELLED),
            (6, D(2024, 7, 14), PAID),  # first instant of as_of + 14: activated
            (7, D(2024, 6, 25), REFUNDED),
            (8, D(2024, 7, 5), CANCELLED),  # cancelled: not a first purchase
            (9, CUT, PAID),  # first instant after as_of: activated
        ]
    )
    return memtables({USERS: users, ORDERS: orders})


def test_activation_population_is_recent_signups_who_have_not_bought() -> None:
    got = run(activation_population(activation_tables(), DAY, signup_days=14))

    assert_frame_equal(got, population([1, 3, 6, 8, 9]))


def test_activation_label_is_1_when_the_first_purchase_is_by_as_of_plus_horizon() -> None:
    got = run(activation_labels(activation_tables(), DAY, horizon_days=14, signup_days=14))

    assert_frame_equal(got, labelled([1, 3, 6, 8, 9], [1, 0, 1, 0, 1]))


# ---------------------------------------------------------------- snapshot dates


@pytest.mark.parametrize("today", [dt.date(2024, 7, 31), D(2024, 7, 31, 15, 30), "2024-07-31"])
def test_snapshot_dates_end_horizon_days_before_today_oldest_first(today) -> None:
    got = snapshot_dates(today, snapshots=3, every_days=30, horizon_days=30)

    # 07-31 - 30 d = 07-01; then 30 days apart: 06-01, 05-02
    assert got == [dt.date(2024, 5, 2), dt.date(2024, 6, 1), dt.date(2024, 7, 1)]


def test_snapshot_dates_spacing_and_horizon_are_independent() -> None:
    got = snapshot_dates(dt.date(2024, 7, 31), snapshots=2, every_days=7, horizon_days=14)

    assert got == [dt.date(2024, 7, 10), dt.date(2024, 7, 17)]


@pytest.mark.parametrize("snapshots, every_days, horizon_days", [(0, 30, 30), (3, 0, 30), (3, 30, 0)])
def test_snapshot_dates_reject_non_positive_settings(snapshots: int, every_days: int, horizon_days: int) -> None:
    with pytest.raises(ConfigError, match=r"must be >= 1"):
        snapshot_dates(dt.date(2024, 7, 31), snapshots, every_days, horizon_days)


# ---------------------------------------------------------------- restrict and training set

TODAY = dt.date(2024, 7, 31)
AFTER_TODAY = D(2024, 8, 1)


def training_frames() -> dict[str, pd.DataFrame]:
    users = users_frame([(1, D(2024, 1, 1)), (2, D(2024, 1, 1)), (3, D(2024, 1, 1)), (4, D(2024, 8, 2))])
    orders = orders_frame(
        [
            (1, D(2024, 5, 15, 10), PAID),
            (1, D(2024, 7, 31, 23, 59, 59, 999_999), PAID),  # last instant of today: inside the last label window
            (2, D(2024, 5, 15, 10), PAID),
            (2, AFTER_TODAY, PAID),  # first instant after today: must never be read
            (3, D(2024, 6, 15), PAID),
            (4, D(2024, 8, 3), PAID),  # user and order after today
        ]
    )
    return {USERS: users, ORDERS: orders}


def up_to_today(frames: dict[str, pd.DataFrame]) -> dict[str, pd.DataFrame]:
    return {
        USERS: frames[USERS][frames[USERS][Users.SIGNUP_AT] < AFTER_TODAY].reset_index(drop=True),
        ORDERS: frames[ORDERS][frames[ORDERS][Orders.ORDERED_AT] < AFTER_TODAY].reset_index(drop=True),
    }


def test_restrict_drops_rows_after_today_from_every_table() -> None:
    frames = training_frames()

    got = {name: table.to_pandas() for name, table in restrict(memtables(frames), TODAY).items()}

    expected = up_to_today(frames)
    for name in (USERS, ORDERS):
        assert_frame_equal(got[name].sort_values(list(got[name].columns[:2]), ignore_index=True), expected[name])


def test_the_order_after_today_would_change_a_label_if_a_window_passed_today() -> None:
    # Guard for the next test: its dataset is sensitive to reading after today.
    got = run(churn_labels(memtables(training_frames()), dt.date(2024, 7, 2), ORDERS_ONLY))

    # window [07-03, 08-02) holds user 2's 08-01 purchase
    assert_frame_equal(got, labelled([1, 2, 3], [0, 0, 1]))


def test_training_set_stacks_snapshots_whose_label_windows_end_by_today() -> None:
    frames = training_frames()

    got = training_set(memtables(frames), TODAY, snapshots=2, every_days=30, definition=ORDERS_ONLY)

    # as_of 06-01 (cutoff 06-02): population 1, 2; window [06-02, 07-02) is empty for both.
    # as_of 07-01 (cutoff 07-02): population 1, 2, 3; window [07-02, 08-01): user 1 bought at
    # 07-31 23:59:59.999999; user 2's purchase at 08-01 00:00 is after today and not read.
    jun, jul = dt.date(2024, 6, 1), dt.date(2024, 7, 1)
    expected = pd.DataFrame(
        {
            USER_ID: np.asarray([1, 2, 1, 2, 3], dtype="int64"),
            AS_OF: [jun, jun, jul, jul, jul],
            "orders_all": np.asarray([1, 1, 1, 1, 1], dtype="int64"),
            # 05-15 10:00 -> 06-02 = 17 d 14 h; -> 07-02 = 47 d 14 h; 06-15 -> 07-02 = 17 d
            "days_since_last_order": [17 + 14 / 24, 17 + 14 / 24, 47 + 14 / 24, 47 + 14 / 24, 17.0],
            LABEL: np.asarray([1, 1, 0, 1, 1], dtype="int8"),
        }
    )
    assert_frame_equal(got[list(expected.columns)], expected, check_exact=False, rtol=1e-9)

    features = compute_features(memtables(frames), jul).columns[1:]
    assert list(got.columns) == [USER_ID, AS_OF, *features, LABEL]

    # Nothing after today is read: the same set from a dataset cut at today.
    assert_frame_equal(got, training_set(memtables(up_to_today(frames)), TODAY, snapshots=2, every_days=30, definition=ORDERS_ONLY))


def test_activation_training_set_label_window_ends_by_today() -> None:
    users = users_frame([(5, D(2024, 7, 10)), (6, D(2024, 7, 10))])
    orders = orders_frame([(5, D(2024, 7, 31, 23), PAID), (6, AFTER_TODAY, PAID)])

    got = training_set(memtables({USERS: users, ORDERS: orders}), TODAY, task=ACTIVATION, snapshots=1)

    # as_of = today - 14 d = 07-17; window [07-18, 08-01): user 5 activated, user 6's 08-01 purchase is not read
    expected = pd.DataFrame(
        {
            USER_ID: np.asarray([5, 6], dtype="int64"),
            AS_OF: [dt.date(2024, 7, 17)] * 2,
            LABEL: np.asarray([1, 0], dtype="int8"),
        }
    )
    assert_frame_equal(got[[USER_ID, AS_OF, LABEL]], expected)
