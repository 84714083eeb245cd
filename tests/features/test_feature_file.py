"""write_features: the feature table written by the engine to Parquet, whole or not at all."""

from __future__ import annotations

import datetime as dt
import os

import ibis
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from features.build import compute_features, feature_expression, memtables, register_memtables, to_frame, write_features
from features.catalog import BY_NAME, USER_ID, FeatureKind
from features.contract import ORDERS, USERS, Orders, Users
from features.errors import ConfigError
from features.simulator.config import SimulationConfig
from features.simulator.run import simulate
from features.validation import load_dataset

AS_OF = "2025-04-30"
KIND_TYPES = {FeatureKind.COUNT: pa.int64(), FeatureKind.NUMBER: pa.float64(), FeatureKind.CATEGORY: pa.string()}


@pytest.fixture(scope="module")
def tables(tmp_path_factory):
    out = simulate(SimulationConfig(users=600, days=150, seed=4), tmp_path_factory.mktemp("file") / "data").out
    ds = load_dataset(out)
    return {name: ds.table(name) for name in ds.tables}


def test_file_holds_the_feature_table_with_its_types(tables, tmp_path):
    expected = compute_features(tables, AS_OF)

    path = write_features(tables, AS_OF, tmp_path / "features.parquet")

    written = pq.read_table(path)
    assert written.column_names == list(expected.columns)
    assert written.schema.field(USER_ID).type == pa.int64()
    for name in written.column_names[1:]:
        assert written.schema.field(name).type == KIND_TYPES[BY_NAME[name].kind], name
    assert written.column(USER_ID).to_pylist() == sorted(written.column(USER_ID).to_pylist())
    pd.testing.assert_frame_equal(to_frame(written), expected)
    assert os.listdir(tmp_path) == ["features.parquet"]


def test_a_subset_of_users_and_in_memory_tables(tmp_path):
    users = pd.DataFrame({Users.USER_ID: [3, 1, 2], Users.SIGNUP_AT: pd.to_datetime(["2025-01-01"] * 3).astype("datetime64[us]")})
    orders = pd.DataFrame(
        {
            Orders.ORDER_ID: [1, 2],
            Orders.USER_ID: [3, 1],
            Orders.ORDERED_AT: pd.to_datetime(["2025-03-01", "2025-04-01"]).astype("datetime64[us]"),
            Orders.AMOUNT: [5.0, 7.5],
        }
    )
    frames = memtables({USERS: users, ORDERS: orders})
    subset = memtables({USERS: users[users[Users.USER_ID] != 2]})[USERS]

    path = write_features(frames, dt.date(2025, 4, 30), tmp_path / "subset.parquet", users=subset)

    got = to_frame(pq.read_table(path))
    pd.testing.assert_frame_equal(got, compute_features(frames, dt.date(2025, 4, 30), users=subset))
    assert got[USER_ID].tolist() == [1, 3]


def test_replaces_an_existing_file_and_leaves_nothing_behind_on_failure(tables, tmp_path):
    path = tmp_path / "features.parquet"
    path.write_bytes(b"old")
    write_features(tables, AS_OF, path)
    assert pq.read_table(path).num_rows > 0
    before = path.read_bytes()

    # A query that fails while it runs: user ids that do not convert to integers.
    users = tables[USERS]
    bad_ids = users.mutate(**{Users.USER_ID: (users[Users.USER_ID].cast("string") + "x").cast("int64")})
    with pytest.raises(Exception, match="(?i)conver"):
        write_features({**tables, USERS: bad_ids}, AS_OF, path)

    assert path.read_bytes() == before
    assert os.listdir(tmp_path) == ["features.parquet"]


def test_missing_directory_is_a_clear_error(tables, tmp_path):
    with pytest.raises(ConfigError, match="does not exist"):
        write_features(tables, AS_OF, tmp_path / "nowhere" / "features.parquet")


def test_batch_path_equals_ibis_execution_and_restores_the_session(tables):
    """compute_features runs its own SQL (inlined CTEs, bounded memory): same table as Ibis's execution."""
    con = ibis.get_backend(tables[USERS]).con
    settings = ("memory_limit", "preserve_insertion_order", "allocator_background_threads")

    def current() -> dict:
        return {name: con.execute(f"SELECT current_setting('{name}')").fetchall()[0][0] for name in settings}

    before = current()
    got = compute_features(tables, AS_OF)
    assert current() == before
    expected = to_frame(feature_expression(tables, AS_OF).to_pyarrow())
    pd.testing.assert_frame_equal(got, expected)


def test_compiled_sql_over_in_memory_tables_runs_after_registration():
    """The one private Ibis hook (ibis#7632) still registers memtables; this fails loudly when a release drops it."""
    backend = ibis.duckdb.connect()
    expr = ibis.memtable(pd.DataFrame({"a": [1, 2, 3]})).aggregate(total=lambda t: t.a.sum())
    sql = backend.compile(expr)
    register_memtables(backend, expr)
    assert backend.con.sql(sql).fetchall() == [(6,)]
