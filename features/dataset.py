"""Open a dataset as Ibis tables on DuckDB, and normalise them to the contract.

A dataset is a directory holding one file per table (``<table>.parquet`` or
``<table>.csv``) or a DuckDB database file (``*.duckdb``, ``*.db``) holding
tables with the contract's names. :func:`open_dataset` reads nothing into
memory: Parquet files and DuckDB tables are scanned by the engine, CSV files are
read with every column as text so that the contract, not DuckDB's type
detection, decides the types. :meth:`Dataset.table` gives a table in the
contract's shape: contract columns only, in contract order, with one type per
kind (see :func:`normalise_column`). It does not check the data: see
:mod:`features.validation`. A file that cannot be read (not a Parquet, CSV or
DuckDB file; corrupt or truncated; values that cannot be represented) is a
``DataContractError`` naming the file, wherever the reading fails.
"""

from __future__ import annotations

import shutil
import tempfile
import uuid
import weakref
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

import duckdb
import ibis
import ibis.expr.datatypes as dt
import ibis.expr.types as ir
from ibis.backends.duckdb import Backend as DuckDBBackend

from features.contract import (
    FILE_FORMATS,
    ORDERS,
    STATUS_PAID,
    TABLE_NAMES,
    TABLES,
    USERS,
    ColumnSpec,
    Kind,
    Orders,
    Users,
)
from features.errors import ConfigError, DataContractError
from features.reading import READ_ERRORS, every_value_read, first_line, read_problem

CSV = "csv"
PARQUET = "parquet"
DUCKDB = "duckdb"
DUCKDB_SUFFIXES = (".duckdb", ".db")

TIMESTAMP = dt.Timestamp()  # naive, read as UTC
INT64 = dt.int64
FLOAT64 = dt.float64
STRING = dt.string
_TIMESTAMP_UTC = dt.Timestamp(timezone="UTC")
_INTEGER_TEXT = r"^\s*[+-]?[0-9]+\s*$"
DEFAULT_SPILL_DIRECTORY = ".tmp"  # DuckDB's temp_directory of an in-memory database
# What a null means in a nullable column, where it means a value.
NULL_MEANS: dict[tuple[str, str], str] = {(ORDERS, Orders.STATUS): STATUS_PAID}


@dataclass(frozen=True)
class TableSummary:
    """Row count and time range (min/max of the table's time column) of one table."""

    name: str
    file: str
    rows: int
    first: datetime | None
    last: datetime | None


@dataclass(frozen=True)
class DatasetSummary:
    """What ``churn validate`` prints: tables, rows, users and the date range (UTC)."""

    path: str
    tables: tuple[TableSummary, ...]
    users: int | None  # distinct users.user_id; None when users has no user_id
    first: datetime | None
    last: datetime | None


@dataclass(frozen=True)
class Dataset:
    """The tables of one dataset, as read (``raw``) and in contract form (:meth:`table`).

    ``files`` maps each table present to the file it was read from, or to
    ``"<db file>:<table>"`` for a DuckDB file. ``formats`` maps it to ``"csv"``,
    ``"parquet"`` or ``"duckdb"``. ``text_ids`` holds the ``(table, column)``
    ID columns stored as text with values that are not integers; every column
    sharing their name is then read as text (see :meth:`id_type`).
    """

    path: Path
    files: dict[str, str]
    raw: dict[str, ir.Table]
    formats: dict[str, str]
    text_ids: frozenset[tuple[str, str]] = frozenset()
    con: DuckDBBackend | None = field(default=None, compare=False, repr=False)

    @property
    def tables(self) -> tuple[str, ...]:
        """Names of the contract tables present, in contract order."""
        return tuple(name for name in TABLE_NAMES if name in self.raw)

    def has(self, name: str) -> bool:
        """Whether table ``name`` is present."""
        return name in self.raw

    def label(self, name: str) -> str:
        """How problems name the source of table ``name``: ``orders.csv``, ``shop.duckdb:orders``."""
        return Path(self.files[name]).name

    def id_type(self, column: str) -> dt.DataType:
        """The normalised type of the ID columns named ``column``, the same in every table.

        ``int64`` when every such column holds integers (integer or whole
        floating-point columns, or text whose values all parse as integers),
        ``string`` otherwise.
        """
        for name, raw in self.raw.items():
            if _id_spec(name, column) is None or column not in raw.columns:
                continue
            dtype = raw[column].type()
            if (name, column) in self.text_ids or not (is_numeric(dtype) or is_text(dtype)):
                return STRING
        return INT64

    def normalised_columns(self, name: str) -> dict[str, ir.Value]:
        """The contract columns present in ``raw[name]``, normalised, as expressions on ``raw[name]``."""
        raw = self.raw[name]
        columns: dict[str, ir.Value] = {}
        for spec in TABLES[name].columns:
            if spec.name not in raw.columns:
                continue
            id_type = self.id_type(spec.name) if spec.kind is Kind.ID else INT64
            value = normalise_column(raw[spec.name], spec, id_type)
            if (name, spec.name) in NULL_MEANS:
                value = value.fill_null(NULL_MEANS[(name, spec.name)])
            columns[spec.name] = value.name(spec.name)
        return columns

    def table(self, name: str) -> ir.Table:
        """Table ``name`` in contract form: contract columns present, in contract order.

        Timestamps are naive UTC ``timestamp``; NUMBER is float64; INTEGER is
        int64; TEXT and CATEGORY are strings; ID is int64 or string (see
        :meth:`id_type`); a null ``orders.status`` is ``"paid"``. Values that do
        not parse are null here and reported by :mod:`features.validation`.
        Raises ``KeyError`` when the table is absent (see :meth:`has`).
        """
        if name not in self.raw:
            raise KeyError(f"dataset {self.path} has no table {name!r}")
        return self.raw[name].select(**self.normalised_columns(name))

    def summary(self) -> DatasetSummary:
        """Rows and time range of each table, and the number of users (one query per table)."""
        with every_value_read(self.con):
            return self._summary()

    def _summary(self) -> DatasetSummary:
        tables = []
        users = None
        for name in self.tables:
            t = self.table(name)
            time = TABLES[name].time_column
            metrics: dict[str, ir.Scalar] = {"rows": t.count()}
            if time in t.columns:
                metrics |= {"first": t[time].min(), "last": t[time].max()}
            if name == USERS and Users.USER_ID in t.columns:
                metrics["distinct_users"] = t[Users.USER_ID].nunique()
            try:
                row = _one_row(t.aggregate(**metrics))
            except READ_ERRORS as exc:
                raise DataContractError([read_problem(self.label(name), exc)]) from None
            if name == USERS:
                users = row.get("distinct_users")
            tables.append(TableSummary(name, self.files[name], row["rows"], row.get("first"), row.get("last")))
        firsts = [t.first for t in tables if t.first is not None]
        lasts = [t.last for t in tables if t.last is not None]
        return DatasetSummary(
            str(self.path), tuple(tables), users, min(firsts, default=None), max(lasts, default=None)
        )


def open_dataset(path: str | Path, con: DuckDBBackend | None = None) -> Dataset:
    """Open the dataset at ``path``: a directory of parquet/csv files or a DuckDB file.

    ``con`` is the Ibis DuckDB connection to read with (a new in-memory one by
    default); its session time zone is set to UTC. Reads no rows except the ID
    columns stored as text, to decide whether they hold integers.
    Raises ``ConfigError`` when ``path`` is not a dataset, ``DataContractError``
    when a table has two files or a file cannot be read.
    """
    source = Path(path)
    if not source.exists():
        raise ConfigError(f"dataset {source} does not exist")
    if not source.is_dir() and source.suffix not in DUCKDB_SUFFIXES:
        raise ConfigError(
            f"dataset {source} is neither a directory of parquet/csv files nor a DuckDB file "
            f"({', '.join(DUCKDB_SUFFIXES)})"
        )
    con = con if con is not None else ibis.duckdb.connect()
    _prepare_session(con)
    if source.is_dir():
        files, raw, formats = _read_directory(con, source)
    else:
        files, raw, formats = _read_duckdb_file(con, source)
    with every_value_read(con):
        text_ids = _find_text_ids(raw, files)
    return Dataset(source, files, raw, formats, text_ids, con)


def normalise_column(column: ir.Column, spec: ColumnSpec, id_type: dt.DataType = INT64) -> ir.Value:
    """``column`` (of any source type) as the contract type of ``spec.kind``; unparseable values are null.

    TIMESTAMP: naive UTC timestamp (timestamptz converted to UTC, a date is
    midnight, text parsed, naive values taken as UTC). NUMBER: float64.
    INTEGER: int64 (non-whole values are null). TEXT, CATEGORY: string, whole
    floating-point values without ``.0`` (city tier 1.0 -> "1"). ID:
    ``id_type`` (int64 or string).
    """
    if spec.kind is Kind.TIMESTAMP:
        value = _to_timestamp(column)
    elif spec.kind is Kind.NUMBER:
        value = _to_float(column)
    elif spec.kind is Kind.INTEGER:
        value = _to_integer(column)
    elif spec.kind is Kind.ID and id_type.is_integer():
        value = _to_integer_id(column)
    else:
        value = _to_text(column)
    return value.name(spec.name)


def integer_text(column: ir.Value) -> ir.BooleanValue:
    """True where text ``column`` holds a whole number that fits int64 (``" 42"``, ``"-7"``, not ``"1.0"``)."""
    text = column if column.type().is_string() else column.cast(STRING)
    return text.re_search(_INTEGER_TEXT) & text.try_cast(INT64).notnull()


def whole(number: ir.NumericValue) -> ir.BooleanValue:
    """True where ``number`` is a whole number that fits int64; null for NaN and infinities."""
    value = number.cast(FLOAT64)
    return value.try_cast(INT64).cast(FLOAT64) == value


def is_text(dtype: dt.DataType) -> bool:
    """Whether a source column of type ``dtype`` holds text (UUIDs count as text)."""
    return dtype.is_string() or dtype.is_uuid()


def is_timestamp(dtype: dt.DataType) -> bool:
    """Whether a source column of type ``dtype`` holds timestamps or dates, with or without time zone."""
    if dtype.is_unknown():
        # ibis 12 does not know DuckDB's TIMESTAMPTZ_NS (pandas' tz-aware datetime64[ns] in Parquet).
        return dtype.raw_type.sql("duckdb").upper().startswith("TIMESTAMP")
    return dtype.is_timestamp() or dtype.is_date()


def is_numeric(dtype: dt.DataType) -> bool:
    """Whether a source column of type ``dtype`` holds numbers (not booleans)."""
    return dtype.is_numeric() and not dtype.is_boolean()


@ibis.udf.scalar.builtin
def epoch_us(value: dt.Timestamp(timezone="UTC")) -> dt.int64:  # type: ignore[empty-body]
    """DuckDB's microseconds since 1970 of an instant."""


@ibis.udf.scalar.builtin
def make_timestamp(micros: dt.int64) -> dt.timestamp:  # type: ignore[empty-body]
    """DuckDB's naive timestamp from microseconds since 1970."""


def _to_timestamp(column: ir.Value) -> ir.Value:
    dtype = column.type()
    if is_timestamp(dtype) and getattr(dtype, "timezone", None) is not None:
        # An instant to naive UTC through its epoch: the same value as a cast under
        # TimeZone=UTC, without a per-row time-zone conversion (about 5x cheaper).
        return make_timestamp(epoch_us(column))
    if is_timestamp(dtype):
        return column.cast(TIMESTAMP)
    if is_text(dtype):
        return column.cast(STRING).try_cast(_TIMESTAMP_UTC).cast(TIMESTAMP)
    return ibis.null(TIMESTAMP)


def _to_float(column: ir.Value) -> ir.Value:
    dtype = column.type()
    if is_numeric(dtype):
        return column.cast(FLOAT64)
    if is_text(dtype):
        return column.cast(STRING).try_cast(FLOAT64)
    return ibis.null(FLOAT64)


def _to_integer(column: ir.Value) -> ir.Value:
    dtype = column.type()
    if dtype.is_integer():
        return column.cast(INT64)
    if is_text(dtype):
        return ibis.ifelse(integer_text(column), column.cast(STRING).try_cast(INT64), _to_whole(_to_float(column)))
    if is_numeric(dtype):
        return _to_whole(column.cast(FLOAT64))
    return ibis.null(INT64)


def _to_integer_id(column: ir.Value) -> ir.Value:
    if is_text(column.type()):
        # The id type is int64 only when every text value is an integer (Dataset.id_type).
        return column.cast(STRING).try_cast(INT64)
    return _to_integer(column)


def _to_whole(number: ir.Value) -> ir.Value:
    return ibis.ifelse(whole(number), number.try_cast(INT64), ibis.null(INT64))


def _to_text(column: ir.Value) -> ir.Value:
    dtype = column.type()
    if dtype.is_string():
        return column
    if dtype.is_floating() or dtype.is_decimal():
        number = column.cast(FLOAT64)
        return ibis.ifelse(whole(number), number.try_cast(INT64).cast(STRING), number.cast(STRING))
    return column.cast(STRING)


def _prepare_session(con: DuckDBBackend) -> None:
    """Set the DuckDB session up for reading datasets: UTC, TRY_CAST that never throws, a spill directory."""
    # Text without an offset and timestamptz -> timestamp casts follow the session time zone.
    con.raw_sql("SET TimeZone = 'UTC'")
    # The command line draws its own progress; DuckDB's bar would interleave with it. Inside Jupyter
    # without ipywidgets DuckDB refuses any change to this setting (duckdb#7590); the bar is off there.
    if con.raw_sql("SELECT current_setting('enable_progress_bar')").fetchone()[0]:
        con.raw_sql("SET enable_progress_bar = false")
    # DuckDB 2.0's type_pushdown optimizer turns TRY_CAST over read_csv into a strict cast in
    # the CSV reader, which then fails on the first bad cell (duckdb/duckdb#23818).
    if con.raw_sql("SELECT 1 FROM duckdb_optimizers() WHERE name = 'type_pushdown'").fetchall():
        [(disabled,)] = con.raw_sql("SELECT current_setting('disabled_optimizers')").fetchall()
        names = {name.strip() for name in disabled.split(",") if name.strip()} | {"type_pushdown"}
        con.raw_sql(f"SET disabled_optimizers = '{','.join(sorted(names))}'")
    _private_spill_directory(con)


def _private_spill_directory(con: DuckDBBackend) -> None:
    """Let a query over its memory limit spill to a directory of this connection's own.

    DuckDB's default is ``.tmp`` in the working directory of whoever runs the
    command. This one is in the system's temporary directory and is removed
    with the connection. A connection that already spilled keeps its directory.
    """
    [(current,)] = con.raw_sql("SELECT current_setting('temp_directory')").fetchall()
    if current != DEFAULT_SPILL_DIRECTORY:
        return
    path = tempfile.mkdtemp(prefix="churn-duckdb-")
    try:
        con.raw_sql(f"SET temp_directory = '{path}'")
    except duckdb.Error:  # "cannot switch temporary directory after the current one has been used"
        shutil.rmtree(path, ignore_errors=True)
        return
    weakref.finalize(con, shutil.rmtree, path, True)


def _id_spec(table: str, column: str) -> ColumnSpec | None:
    for spec in TABLES[table].columns:
        if spec.name == column and spec.kind is Kind.ID:
            return spec
    return None


def _read_directory(con: DuckDBBackend, directory: Path) -> tuple[dict[str, str], dict[str, ir.Table], dict[str, str]]:
    paths = _table_files(directory)
    files, raw, formats, problems = {}, {}, {}, []
    for name, file in paths.items():
        fmt = file.suffix.lstrip(".")
        try:
            raw[name] = _read_file(con, file, fmt)
        except duckdb.Error as exc:
            problems.append(f"{file.name}: cannot be read as {fmt}: {first_line(exc)}")
            continue
        files[name], formats[name] = str(file), fmt
    if problems:
        raise DataContractError(problems)
    return files, raw, formats


def _table_files(directory: Path) -> dict[str, Path]:
    """The file of each contract table in ``directory``; two files for one table is an error."""
    found, problems = {}, []
    for name in TABLE_NAMES:
        candidates = [directory / f"{name}.{fmt}" for fmt in FILE_FORMATS]
        present = [path for path in candidates if path.is_file()]
        if len(present) > 1:
            names = " and ".join(path.name for path in present)
            problems.append(f"{directory}: both {names} are present; keep one file per table")
        elif present:
            found[name] = present[0]
    if problems:
        raise DataContractError(problems)
    return found


def _read_file(con: DuckDBBackend, file: Path, fmt: str) -> ir.Table:
    if fmt == CSV:
        # All text: the contract decides types, not DuckDB's detection.
        return con.read_csv(str(file), all_varchar=True, header=True)
    return con.read_parquet(str(file))


def _read_duckdb_file(con: DuckDBBackend, file: Path) -> tuple[dict[str, str], dict[str, ir.Table], dict[str, str]]:
    alias = f"dataset_{uuid.uuid4().hex[:12]}"
    quoted = str(file).replace("'", "''")
    try:
        con.raw_sql(f"ATTACH '{quoted}' AS {alias} (READ_ONLY)")
    except duckdb.Error as exc:
        raise DataContractError([f"{file.name}: cannot be opened as a DuckDB database: {first_line(exc)}"]) from exc
    try:
        # Not con.list_tables(): ibis 12 calls fetch_arrow_table, which duckdb 2 removed.
        rows = con.raw_sql(
            "SELECT table_name FROM duckdb_tables() WHERE database_name = $db AND schema_name = 'main' "
            "UNION ALL SELECT view_name FROM duckdb_views() WHERE database_name = $db AND schema_name = 'main' "
            "AND NOT internal",
            parameters={"db": alias},
        ).fetchall()
        present = {row[0] for row in rows}
        names = [name for name in TABLE_NAMES if name in present]
        raw = {name: con.table(name, database=(alias, "main")) for name in names}
    except READ_ERRORS as exc:
        # A damaged database file can attach and still fail when its catalog or a table is read.
        raise DataContractError([read_problem(file.name, exc)]) from None
    return {name: f"{file}:{name}" for name in names}, raw, {name: DUCKDB for name in names}


def _find_text_ids(raw: dict[str, ir.Table], files: dict[str, str]) -> frozenset[tuple[str, str]]:
    """The (table, column) ID columns stored as text with a value that is not an integer."""
    found: set[tuple[str, str]] = set()
    for name, table in raw.items():
        columns = [
            spec.name
            for spec in TABLES[name].columns
            if spec.kind is Kind.ID and spec.name in table.columns and is_text(table[spec.name].type())
        ]
        if not columns:
            continue
        metrics = {c: (table[c].notnull() & ~integer_text(table[c])).sum() for c in columns}
        try:
            counts = _one_row(table.aggregate(**metrics))
        except READ_ERRORS as exc:
            raise DataContractError([read_problem(Path(files[name]).name, exc)]) from None
        found |= {(name, c) for c in columns if counts[c]}
    return frozenset(found)


def _one_row(expr: ir.Table) -> dict:
    """The single row of an aggregate, as Python values."""
    return expr.to_pyarrow().to_pylist()[0]
