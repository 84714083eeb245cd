"""An as_of must lie within the data's dates: from the first to the last order's day (UTC)."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pandas as pd
import pytest

from features.asof import as_of_range, check_as_of
from features.contract import ORDERS, Orders, Users
from features.dataset import open_dataset
from features.errors import ConfigError
from features.validation import load_dataset

DOC = (Path(__file__).parents[2] / "docs" / "data-contract.md").read_text()


def documented(line: str) -> bool:
    """Whether ``line`` appears, exactly, in docs/data-contract.md."""
    return line in DOC


RANGE = "it must lie from 2024-03-01 to 2024-03-03, the days of the first and the last order in orders.parquet"


@pytest.fixture()
def dataset(tmp_path):
    pd.DataFrame({Users.USER_ID: [1, 2], Users.SIGNUP_AT: pd.to_datetime(["2023-06-01", "2024-01-02"])}).to_parquet(
        tmp_path / "users.parquet"
    )
    pd.DataFrame(
        {
            Orders.ORDER_ID: [10, 11, 12],
            Orders.USER_ID: [1, 2, 1],
            # Naive timestamps are UTC; the last order is late on 2024-03-03.
            Orders.ORDERED_AT: pd.to_datetime(["2024-03-01 00:00", "2024-03-02 12:00", "2024-03-03 23:59"]),
            Orders.AMOUNT: [5.0, 6.0, 7.0],
            Orders.STATUS: ["cancelled", "paid", "cancelled"],  # every order counts, whatever its status
        }
    ).to_parquet(tmp_path / "orders.parquet")
    return load_dataset(tmp_path)


def test_the_range_is_the_first_and_last_order_day(dataset):
    assert as_of_range(dataset) == (dt.date(2024, 3, 1), dt.date(2024, 3, 3))


@pytest.mark.parametrize("as_of", ["2024-03-01", "2024-03-03", dt.date(2024, 3, 2), "2024-03-03T23:59:59", "2024-03-04T07:00:00+08:00"])
def test_an_as_of_within_the_range_passes(dataset, as_of):
    check_as_of(dataset, as_of)


@pytest.mark.parametrize(
    ("as_of", "message"),
    [
        # Signups go back to 2023-06-01, but before the first order there is nothing to score from.
        ("2024-02-29", f"as_of 2024-02-29 is before the data starts: {RANGE}"),
        ("2022-01-01", f"as_of 2022-01-01 is before the data starts: {RANGE}"),
        ("2024-03-04", f"as_of 2024-03-04 is after the data ends: {RANGE}"),
        ("2099-01-01", f"as_of 2099-01-01 is after the data ends: {RANGE}"),
        ("2024-03-04T00:00:00", f"as_of 2024-03-04 is after the data ends: {RANGE}"),
        # 2024-03-03 23:30 in New York is 2024-03-04 04:30 UTC.
        ("2024-03-03T23:30:00-05:00", f"as_of 2024-03-04 is after the data ends: {RANGE}"),
    ],
)
def test_an_as_of_outside_the_range_is_a_config_error_giving_the_range(dataset, as_of, message):
    with pytest.raises(ConfigError) as raised:
        check_as_of(dataset, as_of)

    assert raised.value.message == message
    assert raised.value.exit_code == 2 and raised.value.http_status == 400
    if as_of in ("2022-01-01", "2099-01-01"):
        assert documented(message)


def test_a_dataset_without_orders_covers_no_date(tmp_path):
    (tmp_path / "users.csv").write_text("user_id,signup_at\n1,2024-01-01\n")
    (tmp_path / "orders.csv").write_text("order_id,user_id,ordered_at,amount\n")

    with pytest.raises(ConfigError) as raised:
        check_as_of(open_dataset(tmp_path), "2024-01-01")

    assert raised.value.message == f"{ORDERS}.csv has no orders: the dataset covers no date an as_of could take"
    assert documented(raised.value.message)


def test_a_bad_as_of_is_refused_before_the_data_is_read(dataset):
    with pytest.raises(ConfigError, match="is not a date"):
        check_as_of(dataset, "yesterday")
