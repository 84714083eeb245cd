"""Online features (one user's raw rows) equal the nightly batch features for that user."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import ibis
import pandas as pd
import pytest

from features import contract as C
from features.build import compute_features
from features.catalog import USER_ID
from features.errors import ConfigError
from features.online import OnlineFeatures
from features.simulator.config import SimulationConfig
from features.simulator.run import simulate
from features.validation import load_dataset

AS_OF = "2025-05-31"
DOC = (Path(__file__).parents[2] / "docs" / "data-contract.md").read_text()


@pytest.fixture(scope="module")
def dataset(tmp_path_factory):
    out = simulate(SimulationConfig(users=500, days=180, seed=9), tmp_path_factory.mktemp("online") / "data").out
    ds = load_dataset(out)
    return {name: ds.table(name) for name in ds.tables}


def _rows(tables, user_ids):
    return {name: t.filter(t[USER_ID].isin(user_ids)).to_pandas() for name, t in tables.items()}


def _compare(got: pd.DataFrame, expected: pd.DataFrame) -> None:
    # Category levels differ (one user's values vs everyone's); the values must not.
    pd.testing.assert_frame_equal(got, expected, check_categorical=False, check_exact=False, rtol=0, atol=1e-9)


def test_one_user_equals_batch(dataset):
    batch = compute_features(dataset, AS_OF)
    online = OnlineFeatures({name: t.schema() for name, t in dataset.items()})
    busiest = batch.sort_values("events_90d", ascending=False)[USER_ID].head(3).tolist()
    quiet = batch.loc[batch["orders_all"] == 0, USER_ID].head(2).tolist()
    for user in busiest + quiet:
        got = online.compute(_rows(dataset, [user]), AS_OF)
        _compare(got, batch[batch[USER_ID] == user].reset_index(drop=True))


def test_a_few_users_at_once_and_later_rows_ignored(dataset):
    batch = compute_features(dataset, AS_OF)
    users = batch[USER_ID].iloc[[0, 5, 50, 120]].tolist()
    rows = _rows(dataset, users)
    # A later order and event would change features if they were read.
    late = pd.Timestamp(dt.datetime(2025, 6, 1, 0, 0, 0))
    rows[C.ORDERS] = pd.concat(
        [rows[C.ORDERS], rows[C.ORDERS].head(1).assign(**{C.Orders.ORDERED_AT: late, C.Orders.ORDER_ID: 10**9})]
    )
    rows[C.EVENTS] = pd.concat([rows[C.EVENTS], rows[C.EVENTS].head(1).assign(**{C.Events.EVENT_AT: late})])
    online = OnlineFeatures({name: t.schema() for name, t in dataset.items()})
    _compare(online.compute(rows, AS_OF), batch[batch[USER_ID].isin(users)].reset_index(drop=True))


def test_users_and_orders_only(dataset):
    minimal = {name: dataset[name] for name in C.REQUIRED_TABLES}
    batch = compute_features(minimal, AS_OF)
    assert "events_30d" not in batch.columns and "days_since_last_order" in batch.columns
    online = OnlineFeatures({name: t.schema() for name, t in minimal.items()})
    user = batch.loc[batch["orders_all"] > 2, USER_ID].iloc[0]
    _compare(online.compute(_rows(minimal, [user]), AS_OF), batch[batch[USER_ID] == user].reset_index(drop=True))


def test_missing_required_table_or_column_is_a_clear_error(dataset):
    with pytest.raises(ConfigError, match="orders"):
        OnlineFeatures({C.USERS: dataset[C.USERS].schema()})
    online = OnlineFeatures({name: t.schema() for name, t in dataset.items()})
    rows = _rows(dataset, [1])
    rows[C.ORDERS] = rows[C.ORDERS].drop(columns=[C.Orders.AMOUNT])
    with pytest.raises(ConfigError, match="orders: missing column amount"):
        online.compute(rows, AS_OF)


def test_absent_optional_table_and_wrong_type(dataset):
    batch = compute_features(dataset, AS_OF)
    online = OnlineFeatures({name: t.schema() for name, t in dataset.items()})
    quiet = (batch["coupons_received_90d"] == 0) & (batch["reviews_all"] == 0) & (batch["orders_all"] > 0)
    user = batch.loc[quiet, USER_ID].iloc[0]
    rows = _rows(dataset, [user])
    del rows[C.COUPONS], rows[C.REVIEWS]  # the request simply has none
    _compare(online.compute(rows, AS_OF), batch[batch[USER_ID] == user].reset_index(drop=True))
    rows[C.ORDERS] = rows[C.ORDERS].astype({C.Orders.AMOUNT: object})
    rows[C.ORDERS].loc[rows[C.ORDERS].index[:1], C.Orders.AMOUNT] = "ten"
    with pytest.raises(ConfigError, match=r"orders\.amount: values are not double"):
        online.compute(rows, AS_OF)


def test_filtered_aggregates_rewritten_as_case_give_the_same_values():
    import duckdb

    from features.online import _without_aggregate_filters

    sql = (
        "SELECT g, COUNT(x) FILTER (WHERE c) AS n, SUM(x) FILTER (WHERE c) AS s, AVG(x) FILTER (WHERE c) AS a, "
        "MIN(x) FILTER (WHERE c) AS lo, MAX(x) FILTER (WHERE c) AS hi, COUNT(*) FILTER (WHERE c) AS rows_, "
        "COUNT(DISTINCT x) FILTER (WHERE c) AS d "
        "FROM (VALUES (1, 1.0, TRUE), (1, NULL, TRUE), (1, 5.0, NULL), (1, 7.0, FALSE), (2, 3.0, FALSE)) t(g, x, c) "
        "GROUP BY g ORDER BY g"
    )
    rewritten = _without_aggregate_filters(sql)
    assert rewritten.count("FILTER") == 2  # COUNT(*) and COUNT(DISTINCT) keep theirs
    con = duckdb.connect()
    assert con.sql(rewritten).fetchall() == con.sql(sql).fetchall() == [(1, 1, 1.0, 1.0, 1.0, 1.0, 2, 1), (2, 0, None, None, None, None, 0, 0)]


# The contract's rules on a request's rows -------------------------------------------------------
def _request(**changes) -> dict[str, pd.DataFrame]:
    """One user's hand-written rows in the contract types; ``changes`` replaces columns (table__column=values)."""
    frames = {
        C.USERS: pd.DataFrame({C.Users.USER_ID: [7], C.Users.SIGNUP_AT: pd.to_datetime(["2025-01-05"])}),
        C.ORDERS: pd.DataFrame(
            {
                C.Orders.ORDER_ID: [70, 71],
                C.Orders.USER_ID: [7, 7],
                C.Orders.ORDERED_AT: pd.to_datetime(["2025-03-01 10:00", "2025-05-01 10:00"]),
                C.Orders.AMOUNT: [25.0, 40.0],
                C.Orders.STATUS: ["paid", "refunded"],
            }
        ),
        C.EVENTS: pd.DataFrame(
            {
                C.Events.USER_ID: [7],
                C.Events.EVENT_AT: pd.to_datetime(["2025-05-30 08:00"]),
                C.Events.EVENT_TYPE: ["login"],
                C.Events.DURATION_S: [30.0],
            }
        ),
    }
    for key, values in changes.items():
        table, column = key.split("__")
        frames[table] = frames[table].assign(**{column: values})
    return frames


@pytest.fixture(scope="module")
def online(dataset):
    schemas = {name: t.schema() for name, t in dataset.items()}
    # The hand-written rows hold the columns above; the others are absent from them, so drop them here too.
    columns = {name: frame.columns for name, frame in _request().items()}
    return OnlineFeatures({name: ibis.schema({c: schemas[name][c] for c in columns[name]}) for name in columns})


def test_valid_hand_written_rows_give_features(online):
    features = online.compute(_request(), AS_OF)

    assert features[USER_ID].tolist() == [7] and features["orders_all"].tolist() == [2]  # a refunded order is a purchase


@pytest.mark.parametrize(
    ("changes", "problem", "value"),
    [
        ({"orders__amount": [25.0, float("inf")]}, "orders.amount has 1 value that is not a number (row 1); expected a finite number", "inf"),
        (
            {"orders__amount": [1e308, 40.0]},
            "orders.amount has 1 value above 1000000000 (row 0); values must be <= 1000000000 (max_amount)",
            "1e+308",
        ),
        ({"orders__amount": [-5.0, 40.0]}, "orders.amount has 1 negative value (row 0); values must be >= 0", "-5"),
        ({"orders__amount": [float("nan"), 40.0]}, "orders.amount has 1 null value (row 0); orders.amount may not be null", "nan"),
        (
            {"events__event_at": pd.to_datetime(["1970-01-01"])},
            "events.event_at has 1 timestamp outside 1990-01-01 to 2100-01-01 (row 0); "
            "timestamps must be on or after 1990-01-01 (earliest) and before 2100-01-01 (latest)",
            "1970",
        ),
        (
            {"events__duration_s": [1e9]},
            "events.duration_s has 1 value above 86400 (row 0); values must be <= 86400 (max_duration_s)",
            "1000000000",
        ),
        (
            {"orders__user_id": [8, 9]},
            "orders.user_id has 2 rows whose user_id is not in the request's users (rows 0, 1); "
            "every orders.user_id must be a user of the request's users rows",
            "8",
        ),
        (
            {"orders__order_id": [70, 70]},
            "orders.order_id has 2 rows whose id occurs more than once (rows 0, 1); orders.order_id must be unique",
            "70",
        ),
        (
            {"orders__status": ["paid", "shipped"]},
            "orders.status has 1 value outside the allowed set (row 1); allowed: 'paid', 'refunded', 'cancelled'",
            "shipped",
        ),
    ],
)
def test_rows_breaking_the_contract_are_refused_naming_the_field_not_the_value(online, changes, problem, value):
    with pytest.raises(ConfigError) as raised:
        online.compute(_request(**changes), AS_OF)

    assert raised.value.message == problem
    assert value not in raised.value.message.split(";")[0]  # error bodies never quote a request's values
    assert problem in DOC  # docs/data-contract.md shows each of these lines
    assert raised.value.http_status == 400


def test_every_problem_of_a_request_is_listed(online):
    rows = _request(orders__amount=[float("inf"), float("-inf")], users__user_id=[6])

    with pytest.raises(ConfigError) as raised:
        online.compute(rows, AS_OF)

    assert raised.value.message.split("; ") == [
        "orders.user_id has 2 rows whose user_id is not in the request's users (rows 0, 1)",
        "every orders.user_id must be a user of the request's users rows",
        "orders.amount has 2 values that are not numbers (rows 0, 1)",
        "expected a finite number",
        "events.user_id has 1 row whose user_id is not in the request's users (row 0)",
        "every events.user_id must be a user of the request's users rows",
    ]


def test_the_limits_of_the_online_rules_are_configurable(dataset):
    from features.contract import ContractLimits

    schemas = {name: dataset[name].schema() for name in C.REQUIRED_TABLES}
    strict = OnlineFeatures(schemas, ContractLimits(max_amount=30))
    rows = _rows(dataset, [1])
    rows[C.ORDERS] = rows[C.ORDERS].head(1).assign(**{C.Orders.AMOUNT: 31.0})
    rows = {name: rows[name] for name in C.REQUIRED_TABLES}

    with pytest.raises(ConfigError, match=r"orders\.amount has 1 value above 30 \(row 0\); values must be <= 30 \(max_amount\)"):
        strict.compute(rows, AS_OF)
