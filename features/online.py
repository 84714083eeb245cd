"""Features for one or a few users from their raw rows, with the batch definitions.

The API receives a user's recent rows (profile, events, orders...) and needs
the same features the nightly job computes. :class:`OnlineFeatures` builds the
batch feature expression once over tables of the given shape, compiles it to
DuckDB SQL once with the cutoff as a parameter, prepares it once per
connection, and then runs it on the request's rows in an embedded DuckDB: no
re-compilation or re-planning per call, and no second implementation of any
feature.

Where a call's time goes (one user, 2 cores): executing the prepared plan
(about half; DuckDB sets up every operator's state even for a few rows),
inserting the request's rows, and building the pandas result. The compiled SQL
is only rewritten in ways that give the same values: each occurrence of the
cutoff is a parameter of its own, and filtered aggregates become CASE
expressions (see :func:`_without_aggregate_filters`); ``tests/features/test_online.py``
checks the result equals the batch table.

The request's rows get the data contract's rules first (:mod:`features.online_rules`):
a row that a dataset's file could not hold is refused with a ``ConfigError``
naming the table, column and rows (never a value), which the API answers with 400.
"""

from __future__ import annotations

import datetime as dt
import threading
from collections.abc import Mapping

import duckdb
import ibis
import pandas as pd
import pyarrow as pa
import sqlglot
from sqlglot import exp

from features import contract as C
from features.asof import AsOf, cutoff
from features.build import feature_expression, to_frame
from features.contract import DEFAULT_LIMITS, ContractLimits
from features.errors import ConfigError
from features.online_rules import row_problems

# A cutoff no real data has; each rendering of it in the SQL becomes a parameter of its own.
_SENTINEL = dt.datetime(1901, 2, 3, 4, 5, 6)
_SENTINEL_SQL = "MAKE_TIMESTAMP(1901, 2, 3, 4, 5, 6.0)"
_STATEMENT = "churn_features"
# Aggregates that skip nulls: AGG(x) FILTER (WHERE c) is AGG(CASE WHEN c THEN x END) for them.
_NULL_SKIPPING = (exp.Count, exp.Sum, exp.Avg, exp.Min, exp.Max)


class OnlineFeatures:
    """Compiled feature query for tables with the given schemas.

    schemas: table name -> Ibis schema of its contract form (``Dataset.table(name).schema()``);
    ``users`` and ``orders`` are required. limits: the contract's plausibility limits the
    rows are checked with. Thread-safe: each thread has its own connection.
    """

    def __init__(self, schemas: Mapping[str, ibis.Schema], limits: ContractLimits = DEFAULT_LIMITS) -> None:
        self.limits = limits
        missing = [t for t in C.REQUIRED_TABLES if t not in schemas]
        if missing:
            raise ConfigError(f"online features need tables {', '.join(missing)}")
        self.schemas = dict(schemas)
        unbound = {name: ibis.table(schema, name=name) for name, schema in self.schemas.items()}
        sentinel_as_of = _SENTINEL - dt.timedelta(microseconds=1)  # its cutoff is the sentinel itself
        expression = feature_expression(unbound, sentinel_as_of)
        sql = _without_aggregate_filters(ibis.to_sql(expression, dialect="duckdb"))
        pieces = sql.split(_SENTINEL_SQL)
        if len(pieces) < 2:
            raise RuntimeError("compiled feature SQL does not contain the cutoff sentinel")
        # DuckDB re-plans a prepared statement on every EXECUTE when one parameter occurs more than
        # once (its type is only known from the CASTs around it); a parameter per occurrence keeps
        # the plan made by PREPARE, which saves about two thirds of a call.
        self.sql = pieces[0] + "".join(f"CAST($cutoff_{i} AS TIMESTAMP){piece}" for i, piece in enumerate(pieces[1:]))
        if "1901" in self.sql:
            raise RuntimeError("compiled feature SQL still holds a sentinel-derived literal")
        self._cutoffs = len(pieces) - 1
        self._result_schema = expression.schema().to_pyarrow()
        self._arrow_schemas = {name: schema.to_pyarrow() for name, schema in self.schemas.items()}
        self._database = duckdb.connect()
        self._local = threading.local()

    def _connection(self) -> duckdb.DuckDBPyConnection:
        """This thread's connection: its settings, empty input tables and the prepared feature query.

        The query is planned once per connection (``PREPARE``); each call inserts
        the request's rows into the input tables inside a transaction, executes
        the query with its cutoff and rolls back, so the tables are empty again.
        """
        con = getattr(self._local, "con", None)
        if con is None:
            con = self._database.cursor()
            con.execute("SET TimeZone = 'UTC'")
            con.execute("SET threads = 1")
            # A request holds a few rows: planning a 60-feature query costs more than running it,
            # and the optimizer changes only speed on large inputs, never results.
            con.execute("PRAGMA disable_optimizer")
            for name, schema in self._arrow_schemas.items():
                empty = schema.empty_table()  # noqa: F841 (read by DuckDB by name)
                con.execute(f'CREATE TEMP TABLE "{name}" AS SELECT * FROM empty')
            con.execute(f"PREPARE {_STATEMENT} AS {self.sql}")
            con.execute(self._execute_statement(_SENTINEL))
            names = [column[0] for column in con.description]
            if names != self._result_schema.names:
                raise RuntimeError(f"prepared feature query returns {names}, expected {self._result_schema.names}")
            self._local.con = con
        return con

    def _tables(self, frames: Mapping[str, pd.DataFrame]) -> dict[str, pa.Table]:
        """The request's non-empty tables as Arrow tables of the contract types (absent ones are empty)."""
        out = {}
        for name, schema in self.schemas.items():
            frame = frames.get(name)
            if frame is None:
                continue
            missing = [c for c in schema.names if c not in frame.columns]
            if missing:
                raise ConfigError(f"{name}: missing column {', '.join(missing)}")
            if len(frame):
                out[name] = self._arrow(name, frame)
        return out

    def _arrow(self, name: str, frame: pd.DataFrame) -> pa.Table:
        """``frame`` as an Arrow table of the contract types; a bad value names its table and column."""
        schema = self._arrow_schemas[name]
        columns = []
        for field in schema:
            try:
                # Column by column: a third of the cost of Table.from_pandas on a few rows.
                columns.append(pa.array(frame[field.name], type=field.type, from_pandas=True))
            except (pa.ArrowInvalid, pa.ArrowTypeError):
                raise ConfigError(f"{name}.{field.name}: values are not {field.type}") from None
        return pa.Table.from_arrays(columns, schema=schema)

    def _execute_statement(self, cut: dt.datetime) -> str:
        value = f"TIMESTAMP '{cut.isoformat(sep=' ')}'"
        return f"EXECUTE {_STATEMENT}({', '.join(f'cutoff_{i} := {value}' for i in range(self._cutoffs))})"

    def compute(self, frames: Mapping[str, pd.DataFrame], as_of: AsOf) -> pd.DataFrame:
        """Features at ``as_of`` for the users in ``frames['users']``.

        frames: contract tables as pandas frames (normalised types; absent optional
        tables are treated as empty). Rows after ``as_of`` are ignored, as in batch.
        Returns the same columns and dtypes as :func:`features.build.compute_features`.
        Raises ``ConfigError`` listing every way the rows break the data contract
        (:mod:`features.online_rules`), or naming a missing column or a value of the wrong type.
        """
        tables = self._tables(frames)
        problems = row_problems(tables, self.limits)
        if problems:
            raise ConfigError("; ".join(problems))
        con = self._connection()
        con.execute("BEGIN TRANSACTION")
        try:
            for name, incoming in tables.items():
                con.execute(f'INSERT INTO "{name}" SELECT * FROM incoming')
            rows = con.execute(self._execute_statement(cutoff(as_of))).fetchall()
        finally:
            con.execute("ROLLBACK")
        # A few rows: Python tuples and one Arrow array per column cost less than DuckDB's Arrow export.
        columns = zip(*rows) if rows else ([] for _ in self._result_schema)
        arrays = [pa.array(values, type=field.type) for values, field in zip(columns, self._result_schema, strict=True)]
        return to_frame(pa.Table.from_arrays(arrays, schema=self._result_schema))


def _without_aggregate_filters(sql: str) -> str:
    """``sql`` with each ``AGG(x) FILTER (WHERE c)`` of a null-skipping aggregate as ``AGG(CASE WHEN c THEN x END)``.

    Both give the same value (rows where ``c`` is not true contribute a null,
    which the aggregate skips), but on a request's few rows DuckDB runs the
    second form faster: the filtered form costs more to set up per aggregate
    than to evaluate. The batch query keeps the filters, which pay off on large tables.
    """

    def rewrite(node: exp.Expression) -> exp.Expression:
        if not isinstance(node, exp.Filter) or not isinstance(node.this, _NULL_SKIPPING):
            return node
        aggregate, condition = node.this, node.expression.this
        argument = aggregate.this
        if aggregate.expressions or not isinstance(argument, exp.Expression) or isinstance(argument, (exp.Star, exp.Distinct)):
            return node
        unfiltered = aggregate.copy()
        unfiltered.set("this", exp.Case(ifs=[exp.If(this=condition.copy(), true=argument.copy())]))
        return unfiltered

    return sqlglot.parse_one(sql, read="duckdb").transform(rewrite).sql(dialect="duckdb")
