"""Reading sources that may be damaged: which errors mean "cannot be read", and values over statistics.

A Parquet file carries statistics (min, max, null count) in its footer, and
DuckDB answers some aggregates, folds conditions and skips row groups from
them. In a damaged file they describe the data as it was written, not the
bytes as they are now: ``min(ordered_at)`` is the footer's 2025-01-01 while the
pages decode to the year -290308, and "ordered_at < 1990" is folded to false.
:func:`every_value_read` makes DuckDB read values instead; :func:`value_probes`,
:func:`parquet_statistics` and :func:`statistics_mismatch` tell whether a
file's statistics lie.
"""

from __future__ import annotations

import decimal
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


def value_probes(table: ir.Table, columns: list[str]) -> dict[str, ir.Scalar]:
    """Aggregates that read every value of ``columns``: non-null count, and min and max of numbers and timestamps.

    Named ``<what>:<column>``. Run within :func:`every_value_read` (a count
    could otherwise come from statistics and leave the column unread); compare
    the result with :func:`statistics_mismatch`. Timestamps are rendered by
    DuckDB as text (no Python datetime holds a damaged one).
    """
    probes = {}
    for column in columns:
        value = table[column]
        dtype = value.type()
        probes[f"count:{column}"] = value.count()
        if dtype.is_temporal() or dtype.is_unknown():
            probes |= {f"min:{column}": value.min().cast("string"), f"max:{column}": value.max().cast("string")}
        elif dtype.is_numeric():
            probes |= {f"min:{column}": value.min(), f"max:{column}": value.max()}
    return probes


def parquet_statistics(con: DuckDBBackend, file: str, columns: list[str]) -> dict[str, object]:
    """What the footer of Parquet ``file`` states about ``columns``, keyed as :func:`value_probes`.

    Reads only the footer (``parquet_metadata``): over all row groups, the
    min and max of numbers (as floats) and timestamps (as DuckDB renders them),
    and the non-null count where every row group gives its null count. A
    statistic the writer left out is absent.
    """
    quoted = file.replace("'", "''")
    types = {row[0]: row[1] for row in con.raw_sql(f"DESCRIBE SELECT * FROM read_parquet('{quoted}')").fetchall()}
    stated: dict[str, object] = {}
    for column in columns:
        kind = types[column].upper()
        if any(word in kind for word in ("TIMESTAMP", "DATE")):
            cast = f"TRY_CAST({{}} AS {types[column]})::VARCHAR"
        elif any(word in kind for word in ("INT", "DOUBLE", "FLOAT", "REAL", "DECIMAL", "NUMERIC")):
            cast = "TRY_CAST({} AS DOUBLE)"
        else:
            cast = None
        low, high = (f"{aggregate}({cast.format(field)})" if cast else "NULL" for aggregate, field in (("min", "stats_min"), ("max", "stats_max")))
        row = con.raw_sql(
            f"SELECT {low}, {high}, sum(row_group_num_rows) - sum(stats_null_count), count(*) - count(stats_null_count) "
            f"FROM parquet_metadata('{quoted}') WHERE path_in_schema = $column",
            parameters={"column": column},
        ).fetchall()[0]
        if row[0] is not None:
            stated[f"min:{column}"] = row[0]
        if row[1] is not None:
            stated[f"max:{column}"] = row[1]
        if row[3] == 0 and row[2] is not None:
            stated[f"count:{column}"] = row[2]
    return stated


def statistics_mismatch(stated: dict[str, object], values: dict[str, object]) -> str | None:
    """Where a file's ``stated`` statistics disagree with the ``values`` of its :func:`value_probes`; None when they agree.

    Numbers compare as floats (a writer may store the minimum 0.0 as -0.0); a
    NaN, which statistics leave out by the format's rules, agrees with any bound.
    """
    for key, claimed in stated.items():
        real = values.get(key)
        if isinstance(claimed, float) and isinstance(real, (int, float, decimal.Decimal)):
            real = float(real)
            if real != real:
                continue
        if claimed != real:
            what, column = key.split(":", 1)
            return f"{column}: {what} {_shown(claimed)} in the statistics, {_shown(real)} in the values"
    return None


def _shown(value: object) -> str:
    return repr(value) if isinstance(value, float) else str(value)
