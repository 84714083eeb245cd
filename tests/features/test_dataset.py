"""Reading datasets (directory of csv/parquet files, DuckDB file) and normalising their tables."""

from __future__ import annotations

from datetime import date, datetime
from pathlib import Path

import duckdb
import ibis
import pandas as pd
import pytest

from features.contract import (
    COUPONS,
    EVENTS,
    ORDERS,
    REVIEWS,
    STATUS_PAID,
    TABLES,
    TICKETS,
    USERS,
    Coupons,
    Events,
    Orders,
    Reviews,
    Tickets,
    Users,
)
from features.dataset import DatasetSummary, TableSummary, open_dataset
from features.errors import ConfigError, DataContractError

# Values written as text (CSV) and as typed columns (parquet, DuckDB), by table.
USER_ROWS = {
    Users.USER_ID: [1, 2, 3],
    Users.SIGNUP_AT: [datetime(2024, 1, 1), datetime(2024, 1, 5, 12), datetime(2024, 2, 1, 8, 30)],
    Users.MEMBER_TIER: ["gold", None, "silver"],
    Users.CITY_TIER: pd.array([1, 4, None], dtype="Int64"),
}
ORDER_ROWS = {
    Orders.ORDER_ID: [10, 11, 12],
    Orders.USER_ID: [1, 1, 2],
    Orders.ORDERED_AT: [datetime(2024, 3, 1, 9), datetime(2024, 3, 2), datetime(2024, 3, 3, 23, 59)],
    Orders.AMOUNT: [20.0, 5.5, 0.0],
    Orders.CATEGORY: ["books", "toys", None],
    Orders.STATUS: ["paid", None, "cancelled"],
    Orders.COUPON_ID: pd.array([100, None, None], dtype="Int64"),
}
EVENT_ROWS = {
    Events.USER_ID: [1, 2],
    Events.EVENT_AT: [datetime(2024, 3, 1, 8), datetime(2024, 3, 4)],
    Events.EVENT_TYPE: ["login", "page_view"],
    Events.SESSION_ID: pd.array([5, None], dtype="Int64"),
    Events.DURATION_S: [30.0, None],
}
COUPON_ROWS = {
    Coupons.COUPON_ID: [100, 101],
    Coupons.USER_ID: [1, 3],
    Coupons.ISSUED_AT: [datetime(2024, 2, 20), datetime(2024, 2, 20)],
    Coupons.VALUE: [5.0, 5.0],
    Coupons.CAMPAIGN_ID: [7, 7],
    Coupons.GROUP: ["treatment", "control"],
    Coupons.REDEEMED_AT: [datetime(2024, 3, 1, 9), None],
}
TICKET_ROWS = {
    Tickets.USER_ID: [2],
    Tickets.CREATED_AT: [datetime(2024, 3, 5)],
    Tickets.KIND: ["return"],
    Tickets.RESOLVED_AT: [None],
}
REVIEW_ROWS = {
    Reviews.USER_ID: [1],
    Reviews.CREATED_AT: [datetime(2024, 3, 6)],
    Reviews.RATING: [5],
}
ALL_ROWS = {
    USERS: USER_ROWS,
    ORDERS: ORDER_ROWS,
    EVENTS: EVENT_ROWS,
    COUPONS: COUPON_ROWS,
    TICKETS: TICKET_ROWS,
    REVIEWS: REVIEW_ROWS,
}


def frames(rows: dict[str, dict]) -> dict[str, pd.DataFrame]:
    frames = {}
    for name, columns in rows.items():
        frame = pd.DataFrame(columns)
        for column, values in columns.items():
            if isinstance(values, list) and all(v is None or isinstance(v, datetime) for v in values):
                frame[column] = pd.to_datetime(frame[column]).astype("datetime64[us]")
        frames[name] = frame
    return frames


def write_parquet(directory: Path, tables: dict[str, pd.DataFrame]) -> Path:
    directory.mkdir(exist_ok=True)
    for name, frame in tables.items():
        frame.to_parquet(directory / f"{name}.parquet", index=False)
    return directory


def write_csv(directory: Path, tables: dict[str, str]) -> Path:
    directory.mkdir(exist_ok=True)
    for name, text in tables.items():
        (directory / f"{name}.csv").write_text(text)
    return directory


def write_duckdb(path: Path, tables: dict[str, pd.DataFrame]) -> Path:
    with duckdb.connect(str(path)) as con:
        for name, frame in tables.items():
            con.register("frame", frame)
            con.execute(f'CREATE TABLE "{name}" AS SELECT * FROM frame')
            con.unregister("frame")
    return path


def csv_text(columns: dict[str, list]) -> str:
    header = ",".join(columns)
    lines = [",".join("" if v is None else str(v) for v in row) for row in zip(*columns.values())]
    return "\n".join([header, *lines]) + "\n"


def sorted_frame(ds, name: str) -> pd.DataFrame:
    frame = ds.table(name).execute()
    return frame.sort_values(list(frame.columns[:2])).reset_index(drop=True)


def test_csv_parquet_and_duckdb_datasets_give_the_same_tables(tmp_path):
    typed = frames(ALL_ROWS)
    text = {name: frame.to_csv(index=False) for name, frame in typed.items()}
    from_csv = open_dataset(write_csv(tmp_path / "csv", text))
    from_parquet = open_dataset(write_parquet(tmp_path / "parquet", typed))
    from_duckdb = open_dataset(write_duckdb(tmp_path / "shop.duckdb", typed))

    assert from_csv.tables == from_parquet.tables == from_duckdb.tables == tuple(ALL_ROWS)
    for name in ALL_ROWS:
        expected = sorted_frame(from_parquet, name)
        assert list(expected.columns) == [c for c in TABLES[name].column_names if c in ALL_ROWS[name]]
        pd.testing.assert_frame_equal(sorted_frame(from_csv, name), expected)
        pd.testing.assert_frame_equal(sorted_frame(from_duckdb, name), expected)


def test_normalised_types_follow_the_contract(tmp_path):
    ds = open_dataset(write_parquet(tmp_path, frames(ALL_ROWS)))

    users, orders, reviews = ds.table(USERS), ds.table(ORDERS), ds.table(REVIEWS)

    assert users[Users.USER_ID].type() == ibis.dtype("int64")
    assert users[Users.SIGNUP_AT].type() == ibis.dtype("timestamp")
    assert users[Users.CITY_TIER].type() == ibis.dtype("string")
    assert orders[Orders.AMOUNT].type() == ibis.dtype("float64")
    assert orders[Orders.STATUS].type() == ibis.dtype("string")
    assert reviews[Reviews.RATING].type() == ibis.dtype("int64")


def test_integer_city_tier_becomes_a_string_category(tmp_path):
    tiers = {Users.USER_ID: [1, 2, 3, 4], Users.SIGNUP_AT: [datetime(2024, 1, 1)] * 4, Users.CITY_TIER: [1, 2, 3, 4]}
    # pandas writes an integer column holding a null as float: 1.0 must still read as "1".
    float_tiers = {**tiers, Users.CITY_TIER: [1.0, 2.0, 4.0, None]}

    ints = open_dataset(write_parquet(tmp_path / "ints", {USERS: pd.DataFrame(tiers)}))
    floats = open_dataset(write_parquet(tmp_path / "floats", {USERS: pd.DataFrame(float_tiers)}))

    assert ints.table(USERS)[Users.CITY_TIER].to_pyarrow().to_pylist() == ["1", "2", "3", "4"]
    assert floats.table(USERS)[Users.CITY_TIER].to_pyarrow().to_pylist() == ["1", "2", "4", None]


def test_text_timestamps_become_naive_utc(tmp_path):
    users = csv_text(
        {
            Users.USER_ID: [1, 2, 3, 4],
            Users.SIGNUP_AT: ["2024-03-01T10:00:00+08:00", "2024-03-01 10:00:00", "2024-03-01", "2024-03-01T23:30:00Z"],
        }
    )

    ds = open_dataset(write_csv(tmp_path, {USERS: users}))

    assert ds.table(USERS)[Users.SIGNUP_AT].to_pyarrow().to_pylist() == [
        datetime(2024, 3, 1, 2),  # 10:00 at +08:00 is 02:00 UTC
        datetime(2024, 3, 1, 10),  # naive is UTC already
        datetime(2024, 3, 1),  # a date is midnight
        datetime(2024, 3, 1, 23, 30),
    ]


def test_timestamptz_and_date_columns_become_naive_utc(tmp_path):
    users = pd.DataFrame(
        {
            Users.USER_ID: [1, 2],
            Users.SIGNUP_AT: pd.to_datetime(["2024-03-01 10:00", "2024-03-01 07:00"]).tz_localize("Asia/Shanghai"),
        }
    )
    orders = pd.DataFrame(
        {
            Orders.ORDER_ID: [10, 11],
            Orders.USER_ID: [1, 2],
            Orders.ORDERED_AT: pd.to_datetime(["2024-03-01 10:00", "2024-03-02 00:00"]),  # naive: stays
            Orders.AMOUNT: [1.0, 2.0],
        }
    )
    coupons = pd.DataFrame(
        {
            Coupons.COUPON_ID: [1],
            Coupons.USER_ID: [1],
            Coupons.ISSUED_AT: [date(2024, 2, 29)],
            Coupons.VALUE: [5.0],
            Coupons.CAMPAIGN_ID: [3],
            Coupons.GROUP: ["control"],
        }
    )

    ds = open_dataset(write_parquet(tmp_path, {USERS: users, ORDERS: orders, COUPONS: coupons}))

    assert ds.table(USERS)[Users.SIGNUP_AT].to_pyarrow().to_pylist() == [
        datetime(2024, 3, 1, 2),
        datetime(2024, 2, 29, 23),
    ]
    assert ds.table(ORDERS)[Orders.ORDERED_AT].to_pyarrow().to_pylist() == [
        datetime(2024, 3, 1, 10),
        datetime(2024, 3, 2),
    ]
    assert ds.table(COUPONS)[Coupons.ISSUED_AT].to_pyarrow().to_pylist() == [datetime(2024, 2, 29)]


def test_nanosecond_timestamptz_columns_become_naive_utc(tmp_path):
    # pandas writes tz-aware datetime64[ns] as a Parquet type ibis 12 does not know.
    signup = pd.to_datetime(["2024-07-01 10:00"]).astype("datetime64[ns]").tz_localize("Europe/Paris")
    users = pd.DataFrame({Users.USER_ID: [1], Users.SIGNUP_AT: signup})

    ds = open_dataset(write_parquet(tmp_path, {USERS: users}))

    assert ds.table(USERS)[Users.SIGNUP_AT].to_pyarrow().to_pylist() == [datetime(2024, 7, 1, 8)]


def test_a_given_connection_is_used_in_utc(tmp_path):
    con = ibis.duckdb.connect()
    con.raw_sql("SET TimeZone = 'America/New_York'")
    con.raw_sql("SET disabled_optimizers = 'join_order'")
    users = csv_text({Users.USER_ID: [1], Users.SIGNUP_AT: ["2024-03-01 10:00:00"]})

    ds = open_dataset(write_csv(tmp_path, {USERS: users}), con=con)

    assert ds.table(USERS)[Users.SIGNUP_AT].to_pyarrow().to_pylist() == [datetime(2024, 3, 1, 10)]
    assert con.raw_sql("SELECT current_setting('TimeZone')").fetchall() == [("UTC",)]
    [(disabled,)] = con.raw_sql("SELECT current_setting('disabled_optimizers')").fetchall()
    assert "join_order" in disabled  # the caller's settings are kept


def test_text_that_does_not_parse_does_not_break_a_csv_scan(tmp_path):
    # DuckDB 2.0 pushes TRY_CAST into the CSV reader as a strict cast unless type_pushdown is off.
    orders = csv_text({Orders.ORDER_ID: [10, 11], Orders.AMOUNT: ["abc", "2.5"]})

    ds = open_dataset(write_csv(tmp_path, {ORDERS: orders}))

    assert ds.table(ORDERS)[Orders.AMOUNT].to_pyarrow().to_pylist() == [None, 2.5]


def test_extra_columns_are_dropped_and_columns_follow_contract_order(tmp_path):
    orders = csv_text(
        {
            Orders.AMOUNT: [3.5],
            "note": ["gift"],  # not a contract column
            Orders.USER_ID: [1],
            Orders.ORDERED_AT: ["2024-03-01"],
            Orders.ORDER_ID: [10],
        }
    )

    ds = open_dataset(write_csv(tmp_path, {ORDERS: orders}))

    assert ds.table(ORDERS).columns == (Orders.ORDER_ID, Orders.USER_ID, Orders.ORDERED_AT, Orders.AMOUNT)


def test_null_status_means_paid(tmp_path):
    orders = csv_text(
        {
            Orders.ORDER_ID: [10, 11],
            Orders.USER_ID: [1, 1],
            Orders.ORDERED_AT: ["2024-03-01", "2024-03-02"],
            Orders.AMOUNT: [1, 2],
            Orders.STATUS: [None, "refunded"],
        }
    )

    ds = open_dataset(write_csv(tmp_path, {ORDERS: orders}))

    assert ds.table(ORDERS)[Orders.STATUS].to_pyarrow().to_pylist() == [STATUS_PAID, "refunded"]


def test_text_ids_that_are_integers_match_integer_ids(tmp_path):
    users = pd.DataFrame({Users.USER_ID: [1, 2], Users.SIGNUP_AT: pd.to_datetime(["2024-01-01", "2024-01-02"])})
    write_parquet(tmp_path, {USERS: users})
    orders = csv_text(
        {Orders.ORDER_ID: [10], Orders.USER_ID: [" 2"], Orders.ORDERED_AT: ["2024-03-01"], Orders.AMOUNT: [1]}
    )
    write_csv(tmp_path, {ORDERS: orders})

    ds = open_dataset(tmp_path)

    assert ds.table(USERS)[Users.USER_ID].type() == ibis.dtype("int64")
    assert ds.table(ORDERS)[Orders.USER_ID].to_pyarrow().to_pylist() == [2]


def test_one_text_user_id_makes_every_user_id_a_string(tmp_path):
    users = csv_text({Users.USER_ID: ["u1", "2"], Users.SIGNUP_AT: ["2024-01-01", "2024-01-02"]})
    orders = csv_text(
        {Orders.ORDER_ID: [10], Orders.USER_ID: [2], Orders.ORDERED_AT: ["2024-03-01"], Orders.AMOUNT: [1]}
    )

    ds = open_dataset(write_csv(tmp_path, {USERS: users, ORDERS: orders}))

    assert ds.table(USERS)[Users.USER_ID].to_pyarrow().to_pylist() == ["u1", "2"]
    assert ds.table(ORDERS)[Orders.USER_ID].to_pyarrow().to_pylist() == ["2"]
    assert ds.table(ORDERS)[Orders.ORDER_ID].type() == ibis.dtype("int64")  # decided per column name


def test_absent_optional_columns_and_tables_stay_absent(tmp_path):
    users = csv_text({Users.USER_ID: [1], Users.SIGNUP_AT: ["2024-01-01"]})
    orders = csv_text(
        {Orders.ORDER_ID: [10], Orders.USER_ID: [1], Orders.ORDERED_AT: ["2024-03-01"], Orders.AMOUNT: [1]}
    )

    ds = open_dataset(write_csv(tmp_path, {USERS: users, ORDERS: orders}))

    assert ds.tables == (USERS, ORDERS)
    assert ds.has(ORDERS) and not ds.has(EVENTS)
    assert ds.table(USERS).columns == (Users.USER_ID, Users.SIGNUP_AT)
    with pytest.raises(KeyError):
        ds.table(EVENTS)


def test_an_invalid_value_leaves_the_other_values_readable(tmp_path):
    orders = csv_text(
        {
            Orders.ORDER_ID: [10, 11],
            Orders.USER_ID: [1, 1],
            Orders.ORDERED_AT: ["2024-03-01", "soon"],
            Orders.AMOUNT: ["abc", "2.5"],
        }
    )

    ds = open_dataset(write_csv(tmp_path, {ORDERS: orders}))

    rows = ds.table(ORDERS).to_pyarrow().to_pylist()
    assert [row[Orders.AMOUNT] for row in rows] == [None, 2.5]
    assert [row[Orders.ORDERED_AT] for row in rows] == [datetime(2024, 3, 1), None]


def test_files_name_each_table_source(tmp_path):
    typed = frames({USERS: USER_ROWS, ORDERS: ORDER_ROWS})
    directory = write_parquet(tmp_path / "dir", typed)
    db = write_duckdb(tmp_path / "shop.db", typed)

    assert open_dataset(directory).files == {
        USERS: str(directory / f"{USERS}.parquet"),
        ORDERS: str(directory / f"{ORDERS}.parquet"),
    }
    assert open_dataset(db).files == {USERS: f"{db}:{USERS}", ORDERS: f"{db}:{ORDERS}"}
    assert open_dataset(db).label(ORDERS) == f"shop.db:{ORDERS}"


def test_summary_counts_rows_users_and_time_range(tmp_path):
    ds = open_dataset(write_parquet(tmp_path, frames({USERS: USER_ROWS, ORDERS: ORDER_ROWS})))

    assert ds.summary() == DatasetSummary(
        path=str(tmp_path),
        tables=(
            TableSummary(USERS, str(tmp_path / f"{USERS}.parquet"), 3, datetime(2024, 1, 1), datetime(2024, 2, 1, 8, 30)),
            TableSummary(ORDERS, str(tmp_path / f"{ORDERS}.parquet"), 3, datetime(2024, 3, 1, 9), datetime(2024, 3, 3, 23, 59)),
        ),
        users=3,
        first=datetime(2024, 1, 1),
        last=datetime(2024, 3, 3, 23, 59),
    )


def test_a_table_with_two_files_is_an_error_naming_both(tmp_path):
    users = csv_text({Users.USER_ID: [1], Users.SIGNUP_AT: ["2024-01-01"]})
    write_csv(tmp_path, {USERS: users})
    write_parquet(tmp_path, frames({USERS: USER_ROWS}))

    with pytest.raises(DataContractError) as raised:
        open_dataset(tmp_path)

    assert raised.value.lines() == [f"{tmp_path}: both {USERS}.parquet and {USERS}.csv are present; keep one file per table"]


def test_a_missing_path_is_a_one_line_error(tmp_path):
    with pytest.raises(ConfigError) as raised:
        open_dataset(tmp_path / "nowhere")

    assert raised.value.message == f"dataset {tmp_path / 'nowhere'} does not exist"
    assert raised.value.exit_code == 2


def test_a_file_that_is_not_a_dataset_is_an_error(tmp_path):
    path = tmp_path / "notes.txt"
    path.write_text("hello")

    with pytest.raises(ConfigError, match="neither a directory"):
        open_dataset(path)


@pytest.mark.parametrize("name", [f"{USERS}.parquet", "shop.duckdb"])
def test_an_unreadable_file_is_a_one_line_error(tmp_path, name):
    (tmp_path / name).write_text("not a real file")
    path = tmp_path if name.endswith(".parquet") else tmp_path / name

    with pytest.raises(DataContractError) as raised:
        open_dataset(path)

    [line] = raised.value.lines()
    assert line.startswith(f"{name}: cannot be")
    assert "\n" not in line
