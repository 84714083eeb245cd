"""A file that cannot be read is a contract error naming it, never a traceback; damaged bytes never pass as data.

Every fault here is real: bytes overwritten or cut off in real files, files of
another kind under a dataset's names, values no Python datetime can hold.
"""

from __future__ import annotations

import math
import os
import shutil
import subprocess
import sys
from pathlib import Path

import duckdb
import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from features.contract import DEFAULT_LIMITS, ORDERS, USERS, Orders, Users
from features.dataset import open_dataset
from features.errors import DataContractError
from features.simulator.config import SimulationConfig
from features.simulator.run import simulate
from features.validation import find_problems, load_dataset

CHURN = Path(sys.executable).with_name("churn")


@pytest.fixture(scope="module")
def simulated(tmp_path_factory) -> Path:
    return simulate(SimulationConfig(users=2000, days=120, seed=1), tmp_path_factory.mktemp("unreadable") / "data").out


def damaged_copy(source: Path, target: Path, table: str, at: float, data: bytes = b"\xff" * 4096) -> Path:
    """A copy of dataset ``source`` whose ``table``.parquet has ``data`` written from fraction ``at`` of its size."""
    shutil.copytree(source, target)
    path = target / f"{table}.parquet"
    with path.open("r+b") as file:
        file.seek(int(path.stat().st_size * at))
        file.write(data)
    return target


def refusal(path: Path) -> list[str]:
    with pytest.raises(DataContractError) as raised:
        load_dataset(path)
    assert raised.value.exit_code == 2
    assert all("\n" not in line for line in raised.value.lines())
    return raised.value.lines()


def test_the_issue_case_4_kb_of_ff_in_the_middle_of_orders_is_refused(simulated, tmp_path):
    path = tmp_path / "data"
    shutil.copytree(simulated, path)
    orders = path / f"{ORDERS}.parquet"
    with orders.open("r+b") as file:
        file.seek(orders.stat().st_size // 2 - 2048)
        file.write(b"\xff" * 4096)

    lines = refusal(path)

    assert lines and all(line.startswith(f"{ORDERS}.parquet: ") for line in lines)
    # What the bytes decode to today: order times hundreds of thousands of years away, refused by the
    # plausible range, while the footer's statistics still say 2025 (DuckDB would have believed them).
    assert any(f"{ORDERS}.{Orders.ORDERED_AT} has" in line and "timestamps outside 1990-01-01 to 2100-01-01" in line for line in lines)
    assert any(line.startswith(f"{ORDERS}.parquet: the file's statistics do not match its values (ordered_at: min 2025-") for line in lines)
    # The command the issue ran: one line per problem on standard error, exit code 2, no traceback.
    done = subprocess.run([str(CHURN), "validate", "--data", str(path)], capture_output=True, text=True, timeout=120)
    assert done.returncode == 2
    assert "Traceback" not in done.stderr + done.stdout
    assert [line for line in done.stderr.splitlines() if line.strip()] == [f"error: {line}" for line in lines]


@pytest.mark.parametrize("at", [0.05, 0.15, 0.25, 0.4, 0.6, 0.7, 0.8, 0.9])
def test_damage_anywhere_in_orders_is_refused_or_decodes_to_plausible_rows(simulated, tmp_path, at):
    path = damaged_copy(simulated, tmp_path / "data", ORDERS, at)
    try:
        ds = load_dataset(path)
    except DataContractError as refused:
        assert all(line.startswith(f"{ORDERS}.parquet: ") for line in refused.lines())
        return
    # Still decodes and passes the contract: then every value is plausible and the whole table reads.
    orders = ds.table(ORDERS).to_pandas()
    assert orders[Orders.ORDERED_AT].between(DEFAULT_LIMITS.earliest, DEFAULT_LIMITS.latest).all()
    assert orders[Orders.AMOUNT].map(math.isfinite).all() and (orders[Orders.AMOUNT] <= DEFAULT_LIMITS.max_amount).all()
    assert ds.summary().users == 2000


def test_a_damaged_page_of_a_column_no_rule_reads_is_found(tmp_path):
    # orders.category has no rule: only reading every value finds its damaged page.
    rng = np.random.default_rng(0)
    n = 5000
    users = pd.DataFrame({Users.USER_ID: [1], Users.SIGNUP_AT: pd.to_datetime(["2024-01-01"])})
    orders = pd.DataFrame(
        {
            Orders.ORDER_ID: range(n),
            Orders.USER_ID: [1] * n,
            Orders.ORDERED_AT: pd.Timestamp("2024-03-01") + pd.to_timedelta(rng.integers(0, 86400 * 30, n), unit="s"),
            Orders.AMOUNT: rng.random(n) * 100,
            Orders.CATEGORY: [f"category-{i}-{rng.integers(10**9)}" for i in range(n)],
        }
    )
    users.to_parquet(tmp_path / f"{USERS}.parquet")
    file = tmp_path / f"{ORDERS}.parquet"
    pq.write_table(pa.Table.from_pandas(orders, preserve_index=False), file, compression="zstd", use_dictionary=False)
    chunk = pq.ParquetFile(file).metadata.row_group(0).column(4)
    assert chunk.path_in_schema == Orders.CATEGORY
    with file.open("r+b") as handle:
        handle.seek(chunk.data_page_offset + chunk.total_compressed_size // 2)
        handle.write(b"\xff" * 64)

    assert refusal(tmp_path) == [f"{ORDERS}.parquet: cannot be read: Out of buffer"]


def test_a_truncated_parquet_file(simulated, tmp_path):
    shutil.copytree(simulated, tmp_path / "data")
    orders = tmp_path / "data" / f"{ORDERS}.parquet"
    os.truncate(orders, orders.stat().st_size // 2)

    [line] = refusal(tmp_path / "data")

    assert line == f"{ORDERS}.parquet: cannot be read as parquet: Invalid Input Error: No magic bytes found at end of file '{orders}'"


def test_a_csv_file_with_garbage(tmp_path):
    (tmp_path / "users.csv").write_text("user_id,signup_at\n1,2024-01-01\n2,2024-01-02\n")
    (tmp_path / "orders.csv").write_bytes(b"order_id,user_id,ordered_at,amount\n10,1,2024-03-01,5\n" + bytes(range(128, 256)) * 40)

    [line] = refusal(tmp_path)

    assert line.startswith(f"{ORDERS}.csv: cannot be read as csv: Invalid Input Error: ")


def test_a_csv_file_that_goes_bad_after_the_sniffed_rows(tmp_path):
    (tmp_path / "users.csv").write_text("user_id,signup_at\n1,2024-01-01\n")
    rows = "".join(f"{i},1,2024-03-01,5\n" for i in range(30_000))
    (tmp_path / "orders.csv").write_bytes(b"order_id,user_id,ordered_at,amount\n" + rows.encode() + b"\xff\xfe,\x00\"\n")

    [line] = refusal(tmp_path)

    assert line.startswith(f"{ORDERS}.csv: cannot be read: Invalid Input Error: ")


@pytest.mark.parametrize("content", [b"", b"\xff" * 8192, b"SQLite format 3\x00" + bytes(4096)], ids=["empty", "ff", "sqlite"])
def test_a_file_that_is_not_a_duckdb_database(tmp_path, content):
    path = tmp_path / "shop.duckdb"
    path.write_bytes(content)

    [line] = refusal(path)

    assert line.startswith("shop.duckdb: cannot be opened as a DuckDB database: ")


def test_a_truncated_duckdb_database(simulated, tmp_path):
    path = tmp_path / "shop.duckdb"
    with duckdb.connect(str(path)) as con:
        for name in (USERS, ORDERS):
            con.execute(f"CREATE TABLE {name} AS SELECT * FROM read_parquet('{simulated / f'{name}.parquet'}')")
    os.truncate(path, path.stat().st_size // 2)

    lines = refusal(path)

    # Each table whose blocks are cut off is named (shop.duckdb:users, shop.duckdb:orders), or the file itself.
    assert lines and all(line.startswith("shop.duckdb") and "Could not read enough bytes from file" in line for line in lines)


def overflowing(tmp_path: Path, column: pa.Array) -> Path:
    pd.DataFrame({Users.USER_ID: [1], Users.SIGNUP_AT: pd.to_datetime(["2024-01-01"])}).to_parquet(tmp_path / f"{USERS}.parquet")
    table = pa.table(
        {
            Orders.ORDER_ID: [10, 11, 12],
            Orders.USER_ID: [1, 1, 1],
            Orders.ORDERED_AT: column,
            Orders.AMOUNT: [1.0, 2.0, 3.0],
        }
    )
    pq.write_table(table, tmp_path / f"{ORDERS}.parquet")
    return tmp_path


def test_overflowing_timestamps_are_refused_and_the_summary_gives_one_line(tmp_path):
    overflowing(tmp_path, pa.array([1709251200 * 10**6, 2**62, 9 * 10**18], pa.timestamp("us", tz="UTC")))

    [line] = refusal(tmp_path)
    assert line.startswith(f"{ORDERS}.parquet: {ORDERS}.{Orders.ORDERED_AT} has 2 timestamps outside 1990-01-01 to 2100-01-01")
    # Unvalidated, the summary (what `churn validate` prints) meets values Python cannot hold: one line, not OverflowError.
    with pytest.raises(DataContractError) as raised:
        open_dataset(tmp_path).summary()
    assert raised.value.lines() == [
        f"{ORDERS}.parquet: cannot be read: it holds a timestamp outside the years 1 to 9999 (date value out of range)"
    ]


def test_millisecond_timestamps_too_large_for_microseconds(tmp_path):
    overflowing(tmp_path, pa.array([1709251200 * 10**3, 2**62, 0], pa.timestamp("ms")))

    lines = refusal(tmp_path)

    assert lines == [f"{ORDERS}.parquet: cannot be read: Conversion Error: Could not convert Timestamp(MS) to Timestamp(US)"]


def test_dates_beyond_any_timestamp(tmp_path):
    overflowing(tmp_path, pa.array([19783, 2**30, -(2**30)], pa.date32()))

    [line] = refusal(tmp_path)

    assert line.startswith(f"{ORDERS}.parquet: cannot be read: Conversion Error: ")


def test_reading_every_value_leaves_the_connection_as_it_was(simulated):
    ds = open_dataset(simulated)
    before = ds.con.raw_sql("SELECT current_setting('disabled_optimizers')").fetchall()

    assert find_problems(ds) == []
    ds.summary()
    assert ds.con.raw_sql("SELECT current_setting('disabled_optimizers')").fetchall() == before
