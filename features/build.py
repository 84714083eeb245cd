"""Assembling the feature table: one row per user signed up by ``as_of``.

The same expression runs on any Ibis backend (embedded DuckDB by default,
Spark for clusters) and on a user's raw rows online (:mod:`features.online`).
"""

from __future__ import annotations

from abc import ABC, abstractmethod

import os
import re
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path

import duckdb
import ibis
import ibis.expr.types as ir
import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import sqlglot
import sqlglot.expressions as sge
from ibis.backends.duckdb import Backend as DuckDBBackend

from features import contract as C
from features.activity import activity_features
from features.asof import AsOf, cutoff
from features.catalog import BY_NAME, FEATURES, USER_ID, ZERO_WHEN_NOTHING, FeatureKind
from features.engagement import coupon_features, review_features, ticket_features
from features.errors import ConfigError
from features.purchases import FIRST_ORDER_AT, purchase_features
from features.window import SECONDS_PER_DAY, Cut, epoch_seconds, join_users, visible

PROFILE = (C.Users.MEMBER_TIER, C.Users.CITY_TIER, C.Users.REGION, C.Users.CHANNEL)


def feature_expression(tables: Mapping[str, ir.Table], as_of: AsOf, users: ir.Table | None = None) -> ir.Table:
    """The feature table at ``as_of`` as an (unexecuted) Ibis expression.

    tables: contract tables in normalised form (``users`` and ``orders`` required).
    as_of: a date (its end) or a timestamp; rows after it are never read.
    users: optional subset of users (a table with ``user_id``) to restrict the result to.
    Returns ``user_id`` and the features whose tables and columns are present, in catalogue order.
    """
    cut = Cut(cutoff(as_of))
    u = visible(tables[C.USERS], C.Users.SIGNUP_AT, cut)
    if users is not None:
        u = u.filter(u[USER_ID].isin(users[USER_ID]))
    base = u.select(
        USER_ID,
        _signup_at=u[C.Users.SIGNUP_AT],
        days_since_signup=cut.days_since(u[C.Users.SIGNUP_AT]),
        **{col: u[col].cast("string") for col in PROFILE if col in u.columns},
    )
    families: list[ir.Table] = [purchase_features(tables[C.ORDERS], cut)]
    if C.EVENTS in tables:
        families.append(activity_features(tables[C.EVENTS], cut))
    if C.COUPONS in tables:
        families.append(coupon_features(tables[C.COUPONS], cut))
    if C.TICKETS in tables:
        families.append(ticket_features(tables[C.TICKETS], cut))
    if C.REVIEWS in tables:
        families.append(review_features(tables[C.REVIEWS], cut))
    out = base
    for family in families:
        out = join_users(out, family, USER_ID)
    first, signup = epoch_seconds(out[FIRST_ORDER_AT]), epoch_seconds(out["_signup_at"])
    out = out.mutate(days_signup_to_first_order=(first - signup) / SECONDS_PER_DAY)
    fills = {name: 0 for name in out.columns if name in BY_NAME and BY_NAME[name].kind is FeatureKind.COUNT}
    fills |= {name: 0.0 for name in ZERO_WHEN_NOTHING if name in out.columns}
    out = out.mutate(**{name: out[name].fill_null(value) for name, value in fills.items()})
    present = [f.name for f in FEATURES if f.name in out.columns]
    return out.select(USER_ID, *present)


def to_frame(result: pa.Table | pd.DataFrame) -> pd.DataFrame:
    """Stable column order and dtypes: user_id first, counts int64, numbers float64, categories ``category``.

    result: the executed feature expression, as Arrow or pandas. Rows are
    sorted by user_id. Category levels are the sorted observed values.
    """
    table = result if isinstance(result, pa.Table) else pa.Table.from_pandas(result, preserve_index=False)
    return _frame([table])


def _frame(holder: list[pa.Table]) -> pd.DataFrame:
    """:func:`to_frame` of the one table in ``holder``, which is emptied.

    Batch by batch into arrays of the final size: an engine's Arrow result is
    freed a record batch at a time (its columns are released together), so
    when nothing else references the table (:func:`compute_features`) the
    peak is about the result once, not twice. The frame keeps these arrays as
    they are (no consolidation copy).
    """
    table = holder.pop()
    present = set(table.column_names)  # a property that builds a new list on every call
    names = [USER_ID, *(f.name for f in FEATURES if f.name in present)]
    columns = {name: _Column.of(BY_NAME[name].kind if name in BY_NAME else None, table.schema.field(name).type, len(table)) for name in names}
    batches = table.select(names).to_batches()
    del table
    start = 0
    while batches:
        batch = batches.pop(0)
        for name, values in zip(names, batch.columns, strict=True):
            columns[name].put(start, values)
        start += batch.num_rows
        del batch, values
    data = {name: columns.pop(name).finish() for name in names}
    ids = data[USER_ID]
    if len(ids) > 1 and not pd.Index(ids).is_monotonic_increasing:
        order = ids.argsort(kind="stable")
        for name in names:  # one column at a time: each unsorted one is freed as the next is sorted
            data[name] = data[name][order]
    return pd.DataFrame(data, copy=False)


class _Column(ABC):
    """One column of the pandas result, filled batch by batch; ``kind`` None is user_id."""

    @staticmethod
    def of(kind: FeatureKind | None, dtype: pa.DataType, rows: int) -> _Column:
        if kind is FeatureKind.CATEGORY:
            return _CategoryColumn(rows)
        if kind is None and not pa.types.is_integer(dtype):
            return _TextColumn()
        number = kind is FeatureKind.NUMBER
        return _NumericColumn(rows, pa.float64() if number else pa.int64(), fill=None if number else 0)

    @abstractmethod
    def put(self, start: int, values: pa.Array) -> None:
        """Store the batch ``values`` at rows ``start`` onwards."""

    @abstractmethod
    def finish(self) -> object:
        """The filled column, ready for the frame."""


class _NumericColumn(_Column):
    """int64 (nulls become ``fill``) or float64 (nulls become NaN)."""

    def __init__(self, rows: int, dtype: pa.DataType, fill: int | None) -> None:
        self.dtype, self.fill = dtype, fill
        self.out = np.empty(rows, dtype=dtype.to_pandas_dtype())

    def put(self, start: int, values: pa.Array) -> None:
        values = values if values.type == self.dtype else values.cast(self.dtype)
        if self.fill is not None and values.null_count:
            values = pc.fill_null(values, self.fill)
        self.out[start : start + len(values)] = values.to_numpy(zero_copy_only=False)

    def finish(self) -> np.ndarray:
        return self.out


class _TextColumn(_Column):
    """Text user ids: copied out of each batch (so the batch can be freed), a pandas string array at the end."""

    def __init__(self) -> None:
        self.parts: list[pa.Array] = []

    def put(self, start: int, values: pa.Array) -> None:
        values = values.cast(pa.string())
        self.parts.append(pa.concat_arrays([values, pa.array([], type=pa.string())]))  # a copy

    def finish(self) -> object:
        return pa.chunked_array(self.parts, type=pa.string()).to_pandas().array


class _CategoryColumn(_Column):
    """Text as category codes; the levels, sorted, are known only at the end."""

    def __init__(self, rows: int) -> None:
        self.codes = np.empty(rows, dtype=np.int32)
        self.seen: dict[str, int] = {}  # level -> code in order of appearance

    def put(self, start: int, values: pa.Array) -> None:
        encoded = pc.dictionary_encode(values.cast(pa.string()))
        seen = self.seen
        # The batch's levels as codes; the extra last entry maps null (-1) to -1.
        lookup = np.array([seen.setdefault(v, len(seen)) for v in encoded.dictionary.to_pylist()] + [-1], dtype=np.int32)
        self.codes[start : start + len(values)] = lookup[encoded.indices.fill_null(-1).to_numpy(zero_copy_only=False)]

    def finish(self) -> pd.Categorical:
        levels = sorted(self.seen)
        rank = np.empty(len(levels) + 1, dtype=np.int32)
        rank[[self.seen[level] for level in levels]] = np.arange(len(levels), dtype=np.int32)
        rank[-1] = -1
        return pd.Categorical.from_codes(rank[self.codes], categories=levels)


def compute_features(tables: Mapping[str, ir.Table], as_of: AsOf, users: ir.Table | None = None) -> pd.DataFrame:
    """Execute :func:`feature_expression` and return a pandas frame (see :func:`to_frame`).

    On DuckDB the query runs with bounded working memory (see :func:`_large_query`);
    its Arrow result is converted batch by batch (see :func:`_frame`), so the
    peak is about the engine's limit plus the result once.
    """
    expr = feature_expression(tables, as_of, users)
    backend = ibis.get_backend(expr)
    if backend.name != "duckdb":
        return _frame([expr.to_pyarrow()])
    with _large_query(backend) as con:
        result = [con.sql(_duckdb_sql(backend, expr)).to_arrow_table()]
    return _frame(result)


def write_features(
    tables: Mapping[str, ir.Table], as_of: AsOf, path: str | Path, users: ir.Table | None = None
) -> Path:
    """Write the feature table at ``as_of`` to the Parquet file ``path``, straight from the engine.

    tables, as_of, users: as for :func:`compute_features`. The file holds the
    same columns in the same order, rows sorted by user_id: user_id, counts
    int64, numbers float64 (null where compute_features has NaN), categories as
    text. ``to_frame(pyarrow.parquet.read_table(path))`` is compute_features'
    frame. On DuckDB the query writes the file itself (``COPY ... TO``), so no
    result passes through Python. The file appears whole or not at all: it is
    written under a temporary name in the same directory and renamed.
    Returns ``path``; raises ``ConfigError`` when its directory does not exist.
    """
    path = Path(path)
    if not path.parent.is_dir():
        raise ConfigError(f"{path}: directory {path.parent} does not exist")
    expr = feature_expression(tables, as_of, users).order_by(USER_ID)
    backend = ibis.get_backend(expr)
    tmp = path.with_name(f".{path.name}.partial")
    try:
        if backend.name == "duckdb":
            target = str(tmp).replace("'", "''")
            with _large_query(backend) as con:
                con.execute(f"COPY ({_duckdb_sql(backend, expr)}) TO '{target}' (FORMAT parquet, COMPRESSION zstd)").fetchall()
        else:
            pq.write_table(expr.to_pyarrow(), tmp, compression="zstd")
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
    return path


# The feature query's DuckDB settings (restored afterwards). Working memory beyond
# the limit spills to the connection's temporary directory: at 5M users the query
# needs about 6 GB unbounded and runs as fast within 2 GB. The order of rows is
# set explicitly where it matters (sorted by user_id), so DuckDB need not keep it.
ENGINE_MEMORY_LIMIT = "2GB"
_LARGE_QUERY_SETTINGS = {"preserve_insertion_order": "false", "allocator_background_threads": "true"}
_UNITS = {"b": 1, "bytes": 1, "kb": 10**3, "mb": 10**6, "gb": 10**9, "tb": 10**12, "kib": 2**10, "mib": 2**20, "gib": 2**30, "tib": 2**40}


@contextmanager
def _large_query(backend: DuckDBBackend) -> Iterator[duckdb.DuckDBPyConnection]:
    """The backend's DuckDB connection with the feature query's settings, restored on exit.

    The memory limit is only ever lowered to ENGINE_MEMORY_LIMIT; background
    allocator threads hand freed memory back to the system while the query runs.
    """
    con = backend.con
    wanted = dict(_LARGE_QUERY_SETTINGS)
    [(limit,)] = con.execute("SELECT current_setting('memory_limit')").fetchall()
    if _bytes(ENGINE_MEMORY_LIMIT) < _bytes(limit):
        wanted["memory_limit"] = ENGINE_MEMORY_LIMIT
    previous = {name: con.execute(f"SELECT current_setting('{name}')").fetchall()[0][0] for name in wanted}
    for name, value in wanted.items():
        con.execute(f"SET {name} = '{value}'")
    try:
        yield con
    finally:
        for name, value in previous.items():
            con.execute(f"SET {name} = '{value}'")


def _bytes(size: str) -> float:
    """A DuckDB size setting ("2GB", "18.8 GiB", "1000 bytes") in bytes; anything else (no limit) is infinite."""
    match = re.fullmatch(r"\s*([0-9.]+)\s*([A-Za-z]*)\s*", size)
    if match is None or match.group(2).lower() not in _UNITS | {"": 1}:
        return float("inf")
    number, unit = match.groups()
    return float(number) * _UNITS[unit.lower() or "b"]


def register_memtables(backend: DuckDBBackend, expr: ir.Table) -> None:
    """Register the in-memory tables ``expr`` reads with ``backend``, so its compiled SQL can run.

    Ibis registers them only inside its own execution; there is no public call that does it
    for SQL compiled with ``backend.compile`` (ibis-project/ibis#7632, open). This is the one
    place that uses the private hook; tests/features/test_feature_file.py fails loudly if a
    release removes it.
    """
    backend._run_pre_execute_hooks(expr)


def _duckdb_sql(backend: DuckDBBackend, expr: ir.Table) -> str:
    """``expr`` as DuckDB SQL whose common table expressions are inlined.

    Ibis names a table used several times (the normalised events, orders) as a
    CTE, which DuckDB materialises: at 180M events that copy took more time than
    the features and spilled gigabytes. Inlined, each use scans only the columns
    it needs. In-memory tables are registered first, as Ibis's own execution does.
    """
    register_memtables(backend, expr)
    tree = sqlglot.parse_one(backend.compile(expr), read="duckdb")
    for cte in tree.find_all(sge.CTE):
        cte.set("materialized", False)
    return tree.sql(dialect="duckdb")


def memtables(frames: Mapping[str, pd.DataFrame]) -> dict[str, ir.Table]:
    """Ibis tables over in-memory pandas frames already in contract form (tests, online)."""
    return {name: ibis.memtable(frame) for name, frame in frames.items()}
