"""Online features (one user's raw rows) equal the nightly batch features for that user."""

from __future__ import annotations

import datetime as dt

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
