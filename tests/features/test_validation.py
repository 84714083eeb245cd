"""The contract validator: one exact line per problem, all problems at once."""

from __future__ import annotations

import copy
from datetime import datetime
from pathlib import Path

import duckdb
import pandas as pd
import pytest

from features.contract import (
    COUPONS,
    EVENTS,
    ORDERS,
    REVIEWS,
    TICKETS,
    USERS,
    Coupons,
    Events,
    Orders,
    Reviews,
    Tickets,
    Users,
)
from features.dataset import Dataset, open_dataset
from features.errors import DataContractError
from features.validation import check_dataset, find_problems, load_dataset

# A valid dataset, as the text of CSV cells (None is an empty cell).
VALID = {
    USERS: {
        Users.USER_ID: [1, 2, 3],
        Users.SIGNUP_AT: ["2024-01-01", "2024-01-02 08:00:00", "2024-01-03T09:00:00+08:00"],
        Users.CITY_TIER: [1, 4, None],
    },
    ORDERS: {
        Orders.ORDER_ID: [10, 11, 12],
        Orders.USER_ID: [1, 1, 2],
        Orders.ORDERED_AT: ["2024-03-01 09:00:00", "2024-03-02", "2024-03-03"],
        Orders.AMOUNT: [20.0, 5.5, 0],
        Orders.STATUS: ["paid", None, "cancelled"],
        Orders.COUPON_ID: [100, None, None],
    },
    EVENTS: {
        Events.USER_ID: [1, 2],
        Events.EVENT_AT: ["2024-03-01 08:00:00", "2024-03-04"],
        Events.EVENT_TYPE: ["login", "page_view"],
        Events.DURATION_S: [30, None],
    },
    COUPONS: {
        Coupons.COUPON_ID: [100, 101],
        Coupons.USER_ID: [1, 3],
        Coupons.ISSUED_AT: ["2024-02-20", "2024-02-20"],
        Coupons.VALUE: [5, 5],
        Coupons.CAMPAIGN_ID: [7, 7],
        Coupons.GROUP: ["treatment", "control"],
        Coupons.REDEEMED_AT: ["2024-03-01 09:00:00", None],
    },
    TICKETS: {
        Tickets.USER_ID: [2],
        Tickets.CREATED_AT: ["2024-03-05"],
        Tickets.KIND: ["return"],
        Tickets.RESOLVED_AT: [None],
    },
    REVIEWS: {
        Reviews.USER_ID: [1, 2],
        Reviews.CREATED_AT: ["2024-03-06", "2024-03-07"],
        Reviews.RATING: [5, 1],
    },
}


def csv_text(columns: dict[str, list]) -> str:
    header = ",".join(columns)
    lines = [",".join("" if v is None else str(v) for v in row) for row in zip(*columns.values())]
    return "\n".join([header, *lines]) + "\n"


def csv_dataset(directory: Path, tables: dict[str, dict[str, list]]) -> Dataset:
    directory.mkdir(exist_ok=True)
    for name, columns in tables.items():
        (directory / f"{name}.csv").write_text(csv_text(columns))
    return open_dataset(directory)


def changed(table: str, column: str, values: list | None, tables: dict = VALID) -> dict:
    """``tables`` with one column replaced (or dropped, when ``values`` is None)."""
    result = copy.deepcopy(tables)
    if values is None:
        del result[table][column]
    else:
        result[table][column] = values
    return result


def write_parquet(directory: Path, name: str, frame: pd.DataFrame) -> None:
    directory.mkdir(exist_ok=True)
    frame.to_parquet(directory / f"{name}.parquet", index=False)


def typed_users() -> pd.DataFrame:
    return pd.DataFrame({Users.USER_ID: [1, 2, 3], Users.SIGNUP_AT: pd.to_datetime(["2024-01-01"] * 3)})


def typed_orders() -> pd.DataFrame:
    return pd.DataFrame(
        {
            Orders.ORDER_ID: [10, 11, 12],
            Orders.USER_ID: [1, 1, 2],
            Orders.ORDERED_AT: pd.to_datetime(["2024-03-01", "2024-03-02", "2024-03-03"]),
            Orders.AMOUNT: [20.0, 5.5, 0.0],
            # pandas writes a nullable integer column as float: whole floats are valid ids.
            Orders.COUPON_ID: [100.0, None, None],
        }
    )


def test_a_valid_dataset_has_no_problems(tmp_path):
    assert find_problems(csv_dataset(tmp_path, VALID)) == []


def test_users_and_orders_alone_are_a_valid_dataset(tmp_path):
    ds = csv_dataset(tmp_path, {USERS: VALID[USERS], ORDERS: VALID[ORDERS]})

    assert find_problems(ds) == []


def test_a_valid_typed_dataset_has_no_problems(tmp_path):
    write_parquet(tmp_path, USERS, typed_users())
    write_parquet(tmp_path, ORDERS, typed_orders())

    assert find_problems(open_dataset(tmp_path)) == []


def test_a_valid_duckdb_file_has_no_problems(tmp_path):
    path = tmp_path / "shop.duckdb"
    with duckdb.connect(str(path)) as con:
        for name, frame in {USERS: typed_users(), ORDERS: typed_orders()}.items():
            con.register("frame", frame)
            con.execute(f'CREATE TABLE "{name}" AS SELECT * FROM frame')

    assert find_problems(open_dataset(path)) == []


def test_a_missing_required_table(tmp_path):
    ds = csv_dataset(tmp_path, {USERS: VALID[USERS]})

    assert find_problems(ds) == [
        f"{tmp_path}: missing required table {ORDERS}; expected {ORDERS}.parquet or {ORDERS}.csv"
    ]


def test_a_missing_required_table_in_a_duckdb_file(tmp_path):
    path = tmp_path / "shop.db"
    with duckdb.connect(str(path)) as con:
        con.register("frame", typed_users())
        con.execute(f'CREATE TABLE "{USERS}" AS SELECT * FROM frame')

    assert find_problems(open_dataset(path)) == [f"{path}: missing required table {ORDERS}; expected a table named {ORDERS}"]


def test_a_missing_required_column(tmp_path):
    ds = csv_dataset(tmp_path, changed(ORDERS, Orders.AMOUNT, None))

    found = ", ".join([Orders.ORDER_ID, Orders.USER_ID, Orders.ORDERED_AT, Orders.STATUS, Orders.COUPON_ID])
    assert find_problems(ds) == [
        f"{ORDERS}.csv: required column {ORDERS}.{Orders.AMOUNT} is missing (columns found: {found})"
    ]


def test_text_that_is_not_a_timestamp(tmp_path):
    ds = csv_dataset(tmp_path, changed(ORDERS, Orders.ORDERED_AT, ["2024-03-01", "soon", "31/12/2024"]))

    assert find_problems(ds) == [
        f"{ORDERS}.csv: {ORDERS}.{Orders.ORDERED_AT} has 2 values that are not timestamps (e.g. '31/12/2024', 'soon'); "
        "expected ISO 8601 such as 2024-05-01, 2024-05-01 12:00:00 or 2024-05-01T12:00:00+08:00"
    ]


def test_a_timestamp_column_of_another_type(tmp_path):
    write_parquet(tmp_path, USERS, typed_users())
    write_parquet(tmp_path, ORDERS, typed_orders())
    events = pd.DataFrame({Events.USER_ID: [1, 2], Events.EVENT_AT: [1709251200, 1709337600], Events.EVENT_TYPE: ["login"] * 2})
    write_parquet(tmp_path, EVENTS, events)

    assert find_problems(open_dataset(tmp_path)) == [
        f"{EVENTS}.parquet: {EVENTS}.{Events.EVENT_AT} has 2 values of type int64 (e.g. 1709251200, 1709337600); "
        "expected timestamps, dates or timestamp text"
    ]


def test_text_that_is_not_a_number(tmp_path):
    ds = csv_dataset(tmp_path, changed(ORDERS, Orders.AMOUNT, [20, "abc", "nan"]))

    assert find_problems(ds) == [
        f"{ORDERS}.csv: {ORDERS}.{Orders.AMOUNT} has 2 values that are not numbers (e.g. 'abc', 'nan'); "
        "expected a finite number"
    ]


def test_a_text_column_for_a_number_in_parquet(tmp_path):
    write_parquet(tmp_path, USERS, typed_users())
    write_parquet(tmp_path, ORDERS, typed_orders().assign(**{Orders.AMOUNT: ["20.0", "5.5", "abc"]}))

    assert find_problems(open_dataset(tmp_path)) == [
        f"{ORDERS}.parquet: {ORDERS}.{Orders.AMOUNT} has 3 values of type string (e.g. '20.0', '5.5', 'abc'); "
        "expected a numeric column (integer or floating point)"
    ]


def test_a_null_in_a_required_column(tmp_path):
    ds = csv_dataset(tmp_path, changed(ORDERS, Orders.AMOUNT, [20, None, None]))

    assert find_problems(ds) == [
        f"{ORDERS}.csv: {ORDERS}.{Orders.AMOUNT} has 2 null values (e.g. {Orders.ORDER_ID} 11, 12); "
        f"{ORDERS}.{Orders.AMOUNT} may not be null"
    ]


@pytest.mark.parametrize(
    ("table", "column"),
    [(ORDERS, Orders.AMOUNT), (COUPONS, Coupons.VALUE), (EVENTS, Events.DURATION_S)],
)
def test_a_negative_value_where_values_must_be_at_least_zero(tmp_path, table, column):
    values = [-1, -5.0] + [0] * (len(next(iter(VALID[table].values()))) - 2)
    ds = csv_dataset(tmp_path, changed(table, column, values))

    assert find_problems(ds) == [
        f"{table}.csv: {table}.{column} has 2 negative values (e.g. -5.0, -1.0); values must be >= 0"
    ]


def test_a_rating_outside_one_to_five(tmp_path):
    ds = csv_dataset(tmp_path, changed(REVIEWS, Reviews.RATING, [0, 6]))

    assert find_problems(ds) == [
        f"{REVIEWS}.csv: {REVIEWS}.{Reviews.RATING} has 2 values outside 1 to 5 (e.g. 0, 6); values must be between 1 and 5"
    ]


def test_a_rating_that_is_not_a_whole_number(tmp_path):
    ds = csv_dataset(tmp_path, changed(REVIEWS, Reviews.RATING, [4.5, "4.0"]))

    assert find_problems(ds) == [
        f"{REVIEWS}.csv: {REVIEWS}.{Reviews.RATING} has 1 value that is not a whole number (e.g. '4.5'); "
        "expected whole numbers"
    ]


@pytest.mark.parametrize(
    ("table", "column", "values"),
    [
        (USERS, Users.USER_ID, [1, 2, 3, 3, 2, 2]),
        (ORDERS, Orders.ORDER_ID, [10, 10, 12, 12, 12, 13]),
        (COUPONS, Coupons.COUPON_ID, [100, 101, 101, 102, 102, 100]),
    ],
)
def test_duplicate_ids(tmp_path, table, column, values):
    # Six rows: repeat the valid rows so that only the ids break the contract.
    tables = copy.deepcopy(VALID)
    tables[table] = {c: (v * 6)[:6] for c, v in VALID[table].items()}
    tables[table][column] = values

    problems = find_problems(csv_dataset(tmp_path, tables))

    duplicated = sorted({v for v in values if values.count(v) > 1})
    examples = ", ".join(str(v) for v in duplicated)
    assert problems == [
        f"{table}.csv: {table}.{column} has {len(duplicated)} ids that occur more than once (e.g. {examples}); "
        f"{table}.{column} must be unique"
    ]


@pytest.mark.parametrize(
    ("table", "column"),
    [
        (ORDERS, Orders.USER_ID),
        (EVENTS, Events.USER_ID),
        (COUPONS, Coupons.USER_ID),
        (TICKETS, Tickets.USER_ID),
        (REVIEWS, Reviews.USER_ID),
    ],
)
def test_rows_of_unknown_users(tmp_path, table, column):
    rows = len(VALID[table][column])
    ds = csv_dataset(tmp_path, changed(table, column, [99] * rows))

    what = "row whose" if rows == 1 else "rows whose"
    assert find_problems(ds) == [
        f"{table}.csv: {table}.{column} has {rows} {what} {column} is not in {USERS}.{Users.USER_ID} (e.g. 99); "
        f"every {table}.{column} must exist in {USERS}.{Users.USER_ID}"
    ]


@pytest.mark.parametrize(
    ("table", "column", "bad", "allowed"),
    [
        (ORDERS, Orders.STATUS, "shipped", "'paid', 'refunded', 'cancelled'"),
        (COUPONS, Coupons.GROUP, "holdout", "'treatment', 'control'"),
        (TICKETS, Tickets.KIND, "refund", "'return', 'complaint', 'inquiry'"),
    ],
)
def test_values_outside_the_allowed_set(tmp_path, table, column, bad, allowed):
    values = [bad] + VALID[table][column][1:]
    ds = csv_dataset(tmp_path, changed(table, column, values))

    assert find_problems(ds) == [
        f"{table}.csv: {table}.{column} has 1 value outside the allowed set (e.g. '{bad}'); allowed: {allowed}"
    ]


def test_text_user_ids_against_integer_user_ids(tmp_path):
    write_parquet(tmp_path, USERS, typed_users())
    ds = csv_dataset(tmp_path, {ORDERS: changed(ORDERS, Orders.USER_ID, ["u1", "u2", 1])[ORDERS]})

    assert find_problems(ds) == [
        f"{ORDERS}.csv: {ORDERS}.{Orders.USER_ID} has 2 text ids that are not integers (e.g. 'u1', 'u2') "
        f"but {USERS}.{Users.USER_ID} in {USERS}.parquet is integer; ids must have the same type in every table"
    ]


def test_integer_user_ids_against_text_user_ids(tmp_path):
    write_parquet(tmp_path, ORDERS, typed_orders())
    ds = csv_dataset(tmp_path, {USERS: changed(USERS, Users.USER_ID, ["u1", 1, 2])[USERS]})

    assert find_problems(ds) == [
        f"{ORDERS}.parquet: {ORDERS}.{Orders.USER_ID} is integer (int64) but {USERS}.{Users.USER_ID} in {USERS}.csv "
        "has 1 text id that is not an integer (e.g. 'u1'); ids must have the same type in every table"
    ]


def test_an_id_that_is_not_a_whole_number(tmp_path):
    write_parquet(tmp_path, USERS, typed_users())
    write_parquet(tmp_path, ORDERS, typed_orders().assign(**{Orders.COUPON_ID: [100.0, 100.5, None]}))

    assert find_problems(open_dataset(tmp_path)) == [
        f"{ORDERS}.parquet: {ORDERS}.{Orders.COUPON_ID} has 1 value that is not a whole number (e.g. 100.5); "
        "expected whole numbers"
    ]


def test_every_problem_is_reported_on_one_line(tmp_path):
    tables = changed(ORDERS, Orders.AMOUNT, [-1, "abc", None])
    tables = changed(ORDERS, Orders.ORDERED_AT, ['"so\non"', "2024-03-02", "2024-03-03"], tables)
    tables = changed(REVIEWS, Reviews.RATING, [9, 1], tables)
    tables = changed(TICKETS, Tickets.USER_ID, [42], tables)
    del tables[USERS][Users.SIGNUP_AT]

    problems = find_problems(csv_dataset(tmp_path, tables))

    assert len(problems) == 7
    assert [p.split(":")[0] for p in problems] == [f"{USERS}.csv"] + [f"{ORDERS}.csv"] * 4 + [f"{TICKETS}.csv", f"{REVIEWS}.csv"]
    assert f"(e.g. 'so\\non')" in problems[1]
    assert all("\n" not in problem for problem in problems)


def test_an_unreadable_csv_row_is_a_one_line_error(tmp_path):
    # DuckDB sniffs the first 20480 rows; a bad row after them fails the first scan (of the ids).
    reviews = {column: values[:1] * 30_000 for column, values in VALID[REVIEWS].items()}
    csv_dataset(tmp_path, {**VALID, REVIEWS: reviews})
    with (tmp_path / f"{REVIEWS}.csv").open("a") as file:
        file.write("1,2024-03-08,5,extra,fields\n")

    with pytest.raises(DataContractError) as raised:
        load_dataset(tmp_path)

    assert raised.value.lines() == [f"{REVIEWS}.csv: cannot be read: Invalid Input Error: CSV Error on Line: 30002"]


def test_check_dataset_raises_every_problem(tmp_path):
    ds = csv_dataset(tmp_path, changed(ORDERS, Orders.AMOUNT, [-1, "abc", 3]))

    with pytest.raises(DataContractError) as raised:
        check_dataset(ds)

    assert raised.value.lines() == find_problems(ds)
    assert len(raised.value.problems) == 2
    assert raised.value.exit_code == 2


def test_load_dataset_opens_and_checks(tmp_path):
    csv_dataset(tmp_path / "good", VALID)
    csv_dataset(tmp_path / "bad", {USERS: VALID[USERS]})

    assert load_dataset(tmp_path / "good").tables == tuple(VALID)
    with pytest.raises(DataContractError):
        load_dataset(tmp_path / "bad")


def test_summary_of_a_valid_dataset(tmp_path):
    summary = load_dataset(csv_dataset(tmp_path, VALID).path).summary()

    assert summary.users == 3
    assert [t.rows for t in summary.tables] == [3, 3, 2, 2, 1, 2]
    assert (summary.first, summary.last) == (datetime(2024, 1, 1), datetime(2024, 3, 7))


def test_a_table_without_any_contract_column(tmp_path):
    (tmp_path / "users.csv").write_text("foo,bar\n1,2\n")
    ds = csv_dataset(tmp_path, {ORDERS: VALID[ORDERS]})

    assert find_problems(ds)[:2] == [
        f"{USERS}.csv: required column {USERS}.{Users.USER_ID} is missing (columns found: foo, bar)",
        f"{USERS}.csv: required column {USERS}.{Users.SIGNUP_AT} is missing (columns found: foo, bar)",
    ]
