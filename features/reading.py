"""Reading sources that may be damaged: which errors mean "cannot be read", and values over statistics.

A Parquet file carries statistics (min, max, null count) in its footer, and
DuckDB answers some aggregates and skips row groups from them. In a damaged
file they describe the data as it was written, not the bytes as they are now:
``min(ordered_at)`` is the footer's 2025-01-01 while the pages decode to the
year -290308. :func:`statistics_mismatch` compares a table's statistics with its
values (one cheap query each); :func:`every_value_read` makes DuckDB read
values instead of statistics, for checks that cannot rely on them.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import duckdb
import ibis.expr.types as ir
import pyarrow as pa
from ibis.backends.duckdb import Backend as DuckDBBackend

# What reading a damaged source raises: DuckDB's own errors, and pyarrow's (or Python's) when a
# value it decoded cannot become a Python value (a timestamp in the year 291963: OverflowError).
READ_ERRORS: tuple[type[BaseException], ...] = (duckdb.Error, pa.ArrowException, OverflowError)

# Optimizers that answer from statistics instead of values: statistics propagation folds
# aggregates and conditions; filter pushdown lets a scan skip row groups by their statistics.
STATISTICS_OPTIMIZERS = ("statistics_propagation", "filter_pushdown")


def first_line(exc: BaseException) -> str:
    """The first line of an error's message, control characters escaped (a damaged file's bytes end up there)."""
    lines = str(exc).strip().splitlines()
    line = lines[0] if lines else type(exc).__name__
    return "".join(c if c.isprintable() else repr(c)[1:-1] for c in line)


def read_problem(label: str, exc: BaseException) -> str:
    """The one-line problem of source ``label`` (``orders.parquet``) that could not be read, from the error raised."""
    if isinstance(exc, OverflowError):
        return f"{label}: cannot be read: it holds a timestamp outside the years 1 to 9999 ({first_line(exc)})"
    return f"{label}: cannot be read: {first_line(exc)}"


@contextmanager
def every_value_read(con: DuckDBBackend | None) -> Iterator[None]:
    """Within the block, queries on ``con`` read values instead of trusting statistics.

    The previous optimizer settings are restored on exit. ``con`` None: nothing changes.
    """
    if con is None:
        yield
        return
    [(before,)] = con.raw_sql("SELECT current_setting('disabled_optimizers')").fetchall()
    names = {name.strip() for name in before.split(",") if name.strip()} | set(STATISTICS_OPTIMIZERS)
    con.raw_sql(f"SET disabled_optimizers = '{','.join(sorted(names))}'")
    try:
        yield
    finally:
        con.raw_sql(f"SET disabled_optimizers = '{before}'")


def check_statistics(table: ir.Table, columns: list[str], con: DuckDBBackend) -> tuple[bool, str | None]:
    """Whether DuckDB may use the statistics of ``table``, and where they disagree with its values.

    For each of ``columns``: the non-null count, and the min and max of numbers
    and timestamps (the statistics DuckDB derives conditions from), as DuckDB
    answers them from the statistics (a query per column, which reads only the
    footer) and as it computes them from every value (one query, which raises
    one of READ_ERRORS on a damaged page). When they agree, every value lies
    within the statistics and what DuckDB derives from them holds: ``(True, None)``.
    A disagreement is damage: ``(False, "ordered_at: min ... in the statistics,
    ... in the values")``. A NaN is left out of statistics by the format, yet
    DuckDB derives "no NaN" from them: ``(False, None)``. Timestamps are compared
    as DuckDB renders them (no Python datetime holds a damaged one), numbers by
    value (a writer may store the minimum 0.0 as -0.0).
    """
    metrics = {}
    for column in columns:
        value = table[column]
        dtype = value.type()
        metrics[column] = {"count": value.count()}
        if dtype.is_temporal() or dtype.is_unknown():
            metrics[column] |= {"min": value.min().cast("string"), "max": value.max().cast("string")}
        elif dtype.is_numeric():
            metrics[column] |= {"min": value.min(), "max": value.max()}
    with every_value_read(con):
        flat = {f"{what}_{i}": m for i, column in enumerate(columns) for what, m in metrics[column].items()}
        values = table.aggregate(**flat).to_pyarrow().to_pylist()[0]
    usable = True
    for i, column in enumerate(columns):
        claimed = table.aggregate(**metrics[column]).to_pyarrow().to_pylist()[0]
        for what in claimed:
            real = values[f"{what}_{i}"]
            if isinstance(real, float) and real != real:  # DuckDB orders NaN last: the max of a column holding one
                usable = False
            elif claimed[what] != real:
                return False, f"{column}: {what} {claimed[what]} in the statistics, {real} in the values"
    return usable, None
