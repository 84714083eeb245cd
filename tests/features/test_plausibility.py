"""Plausibility rules: timestamps within the limits and the data's own end, amounts finite and under a ceiling."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from pydantic import ValidationError

from features.contract import COUPONS, EVENTS, ORDERS, USERS, ContractLimits, Coupons, Events, Orders, Users
from features.dataset import open_dataset
from features.errors import DataContractError
from features.validation import find_problems, load_dataset

RANGE_RULE = "timestamps must be on or after 1990-01-01 (earliest) and before 2100-01-01 (latest)"
# orders below: 99.9% of them were placed by 2024-03-03; 90 days later is 2024-06-01, the rule's last day.
END_RULE = (
    "timestamps must be before 2024-06-02, 90 days (max_days_after_orders) after 2024-03-03, "
    "the day by which 99.9% of the orders were placed"
)

DOC = (Path(__file__).parents[2] / "docs" / "data-contract.md").read_text()


def documented(line: str) -> bool:
    """Whether ``line`` appears, exactly, in docs/data-contract.md."""
    return line in DOC


def users() -> pd.DataFrame:
    return pd.DataFrame({Users.USER_ID: [1, 2, 3], Users.SIGNUP_AT: pd.to_datetime(["2024-01-01", "2024-01-02", "2024-01-03"])})


def orders(**columns) -> pd.DataFrame:
    frame = pd.DataFrame(
        {
            Orders.ORDER_ID: [10, 11, 12],
            Orders.USER_ID: [1, 1, 2],
            Orders.ORDERED_AT: pd.to_datetime(["2024-03-01 09:00", "2024-03-02 00:00", "2024-03-03 00:00"]),
            Orders.AMOUNT: [20.0, 5.5, 0.0],
        }
    )
    return frame.assign(**columns)


def write(directory: Path, **tables: pd.DataFrame) -> Path:
    directory.mkdir(exist_ok=True)
    for name, frame in tables.items():
        frame.to_parquet(directory / f"{name}.parquet", index=False)
    return directory


def problems(directory: Path, limits: ContractLimits | None = None) -> list[str]:
    ds = open_dataset(directory)
    return find_problems(ds) if limits is None else find_problems(ds, limits)


def test_the_defaults_accept_a_valid_dataset(tmp_path):
    assert problems(write(tmp_path, users=users(), orders=orders())) == []


def test_placeholder_timestamps_outside_the_plausible_range(tmp_path):
    signups = pd.to_datetime(["1970-01-01", "2024-01-02", "1900-01-01"])
    write(tmp_path, users=users().assign(**{Users.SIGNUP_AT: signups}), orders=orders())

    assert all(documented(line) for line in problems(tmp_path))
    assert problems(tmp_path) == [
        f"{USERS}.parquet: {USERS}.{Users.SIGNUP_AT} has 2 timestamps outside 1990-01-01 to 2100-01-01 "
        f"(e.g. 1900-01-01 00:00:00, 1970-01-01 00:00:00); {RANGE_RULE}"
    ]


def test_timestamps_no_python_datetime_can_hold_are_shown_and_refused(tmp_path):
    # What a damaged file decodes to: microseconds near the int64 limits (years -144170 and 148108).
    at = pa.array([2**62, -(2**62), 1709283600 * 10**6], pa.timestamp("us"))
    table = pa.Table.from_pandas(orders().drop(columns=[Orders.ORDERED_AT]), preserve_index=False).append_column(Orders.ORDERED_AT, at)
    write(tmp_path, users=users())
    pq.write_table(table, tmp_path / f"{ORDERS}.parquet")

    with pytest.raises(DataContractError) as raised:
        load_dataset(tmp_path)

    assert raised.value.lines() == [
        f"{ORDERS}.parquet: {ORDERS}.{Orders.ORDERED_AT} has 2 timestamps outside 1990-01-01 to 2100-01-01 "
        f"(e.g. 144170-06-28 (BC) 09:59:32.612096, 148108-07-06 14:00:27.387904); {RANGE_RULE}"
    ]
    assert raised.value.exit_code == 2


def test_a_timestamp_after_the_data_end_in_another_table(tmp_path):
    events = pd.DataFrame(
        {
            Events.USER_ID: [1, 2, 3],
            Events.EVENT_AT: pd.to_datetime(["2024-06-01 23:59", "2024-06-02 00:00", "2099-12-31 00:00"]),
            Events.EVENT_TYPE: ["login"] * 3,
        }
    )
    write(tmp_path, users=users(), orders=orders(), events=events)

    assert all(documented(line) for line in problems(tmp_path))
    assert problems(tmp_path) == [
        f"{EVENTS}.parquet: {EVENTS}.{Events.EVENT_AT} has 2 timestamps after the data's end "
        f"(e.g. 2024-06-02 00:00:00, 2099-12-31 00:00:00); {END_RULE}"
    ]


def test_the_data_end_follows_most_orders_not_the_last_one(tmp_path):
    # 2,000 orders in March 2024 and one placeholder in 2099: the placeholder does not move the end.
    n = 2000
    frame = pd.DataFrame(
        {
            Orders.ORDER_ID: range(n + 1),
            Orders.USER_ID: [1] * (n + 1),
            Orders.ORDERED_AT: list(pd.date_range("2024-03-01", "2024-03-03 23:00", periods=n)) + [pd.Timestamp("2099-12-31")],
            Orders.AMOUNT: [1.0] * (n + 1),
        }
    )
    write(tmp_path, users=users(), orders=frame)

    assert problems(tmp_path) == [
        f"{ORDERS}.parquet: {ORDERS}.{Orders.ORDERED_AT} has 1 timestamp after the data's end "
        f"(e.g. 2099-12-31 00:00:00); {END_RULE}"
    ]


def test_text_timestamps_get_the_same_rules(tmp_path):
    (tmp_path / "users.csv").write_text("user_id,signup_at\n1,2024-01-01\n2,0001-01-01T00:00:00+08:00\n")
    (tmp_path / "orders.csv").write_text("order_id,user_id,ordered_at,amount\n10,1,2024-03-01,5\n11,2,9999-12-31,5\n")

    assert problems(tmp_path) == [
        f"{USERS}.csv: {USERS}.{Users.SIGNUP_AT} has 1 timestamp outside 1990-01-01 to 2100-01-01 "
        f"(e.g. 0001-12-31 (BC) 16:00:00); {RANGE_RULE}",
        f"{ORDERS}.csv: {ORDERS}.{Orders.ORDERED_AT} has 1 timestamp outside 1990-01-01 to 2100-01-01 "
        f"(e.g. 9999-12-31 00:00:00); {RANGE_RULE}",
    ]


def test_nullable_timestamps_are_checked_and_their_nulls_are_not(tmp_path):
    coupons = pd.DataFrame(
        {
            Coupons.COUPON_ID: [100, 101],
            Coupons.USER_ID: [1, 2],
            Coupons.ISSUED_AT: pd.to_datetime(["2024-02-20", "2024-02-20"]),
            Coupons.VALUE: [5.0, 5.0],
            Coupons.CAMPAIGN_ID: [7, 7],
            Coupons.GROUP: ["treatment", "treatment"],
            Coupons.REDEEMED_AT: pd.to_datetime([None, "1969-12-31 23:59:59"]),
        }
    )
    write(tmp_path, users=users(), orders=orders(), coupons=coupons)

    assert problems(tmp_path) == [
        f"{COUPONS}.parquet: {COUPONS}.{Coupons.REDEEMED_AT} has 1 timestamp outside 1990-01-01 to 2100-01-01 "
        f"(e.g. 1969-12-31 23:59:59); {RANGE_RULE}"
    ]


def test_the_limits_are_configurable(tmp_path):
    write(tmp_path, users=users(), orders=orders())
    limits = ContractLimits(earliest=dt.datetime(2024, 1, 2), latest=dt.datetime(2024, 3, 2, 12), max_amount=10)

    assert problems(tmp_path, limits) == [
        f"{USERS}.parquet: {USERS}.{Users.SIGNUP_AT} has 1 timestamp outside 2024-01-02 to 2024-03-02 12:00:00 "
        "(e.g. 2024-01-01 00:00:00); timestamps must be on or after 2024-01-02 (earliest) and before 2024-03-02 12:00:00 (latest)",
        f"{ORDERS}.parquet: {ORDERS}.{Orders.ORDERED_AT} has 1 timestamp outside 2024-01-02 to 2024-03-02 12:00:00 "
        "(e.g. 2024-03-03 00:00:00); timestamps must be on or after 2024-01-02 (earliest) and before 2024-03-02 12:00:00 (latest)",
        f"{ORDERS}.parquet: {ORDERS}.{Orders.AMOUNT} has 1 value above 10 (e.g. 20.0); values must be <= 10 (max_amount)",
    ]


def test_the_data_end_rule_can_be_switched_off_or_widened(tmp_path):
    events = pd.DataFrame({Events.USER_ID: [1], Events.EVENT_AT: pd.to_datetime(["2024-07-01"]), Events.EVENT_TYPE: ["login"]})
    write(tmp_path, users=users(), orders=orders(), events=events)

    assert len(problems(tmp_path)) == 1
    assert problems(tmp_path, ContractLimits(max_days_after_orders=None)) == []
    assert problems(tmp_path, ContractLimits(max_days_after_orders=120)) == []


def test_an_absurd_amount_and_infinity_are_refused_once_each(tmp_path):
    write(tmp_path, users=users(), orders=orders(**{Orders.AMOUNT: [1e308, float("inf"), float("-inf")]}))

    assert all(documented(line) for line in problems(tmp_path))
    assert problems(tmp_path) == [
        f"{ORDERS}.parquet: {ORDERS}.{Orders.AMOUNT} has 2 values that are not numbers (e.g. -inf, inf); expected a finite number",
        f"{ORDERS}.parquet: {ORDERS}.{Orders.AMOUNT} has 1 value above 1000000000 (e.g. 1e+308); "
        "values must be <= 1000000000 (max_amount)",
    ]


def test_nan_where_a_number_may_not_be_null(tmp_path):
    # pandas writes NaN as a null; a NaN stored as a value comes from other writers (here pyarrow).
    table = pa.Table.from_pandas(orders(), preserve_index=False)
    amount = pa.array([float("nan"), 5.5, 0.0])
    table = table.set_column(table.schema.get_field_index(Orders.AMOUNT), Orders.AMOUNT, amount)
    write(tmp_path, users=users())
    pq.write_table(table, tmp_path / f"{ORDERS}.parquet")

    assert problems(tmp_path) == [
        f"{ORDERS}.parquet: {ORDERS}.{Orders.AMOUNT} has 1 value that is not a number (e.g. nan); expected a finite number"
    ]


def test_text_numbers_above_the_ceiling(tmp_path):
    (tmp_path / "users.csv").write_text("user_id,signup_at\n1,2024-01-01\n")
    (tmp_path / "orders.csv").write_text("order_id,user_id,ordered_at,amount\n10,1,2024-03-01,1e308\n11,1,2024-03-01,1e309\n")

    assert problems(tmp_path) == [
        f"{ORDERS}.csv: {ORDERS}.{Orders.AMOUNT} has 1 value that is not a number (e.g. '1e309'); expected a finite number",
        f"{ORDERS}.csv: {ORDERS}.{Orders.AMOUNT} has 1 value above 1000000000 (e.g. 1e+308); values must be <= 1000000000 (max_amount)",
    ]


def test_coupon_values_and_durations_have_ceilings(tmp_path):
    coupons = pd.DataFrame(
        {
            Coupons.COUPON_ID: [100],
            Coupons.USER_ID: [1],
            Coupons.ISSUED_AT: pd.to_datetime(["2024-02-20"]),
            Coupons.VALUE: [2e9],
            Coupons.CAMPAIGN_ID: [7],
            Coupons.GROUP: ["treatment"],
        }
    )
    events = pd.DataFrame(
        {
            Events.USER_ID: [1, 1],
            Events.EVENT_AT: pd.to_datetime(["2024-03-01", "2024-03-01"]),
            Events.EVENT_TYPE: ["page_view"] * 2,
            Events.DURATION_S: [86_400.0, 86_401.0],
        }
    )
    write(tmp_path, users=users(), orders=orders(), events=events, coupons=coupons)

    assert problems(tmp_path) == [
        f"{EVENTS}.parquet: {EVENTS}.{Events.DURATION_S} has 1 value above 86400 (e.g. 86401.0); values must be <= 86400 (max_duration_s)",
        f"{COUPONS}.parquet: {COUPONS}.{Coupons.VALUE} has 1 value above 1000000000 (e.g. 2000000000.0); "
        "values must be <= 1000000000 (max_amount)",
    ]


@pytest.mark.parametrize(
    ("settings", "message"),
    [
        ({"earliest": "2100-01-01"}, "must be before latest"),
        ({"max_amount": float("inf")}, "finite number"),
        ({"max_duration_s": 0}, "greater than 0"),
        ({"max_days_after_orders": -1}, "greater than or equal to 0"),
        ({"max_amonut": 5}, "Extra inputs are not permitted"),
    ],
)
def test_limits_are_validated(settings, message):
    with pytest.raises(ValidationError, match=message):
        ContractLimits(**settings)


def test_an_aware_limit_is_taken_in_utc():
    assert ContractLimits(latest="2030-01-01T08:00:00+08:00").latest == dt.datetime(2030, 1, 1)
