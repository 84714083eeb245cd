"""Features for one or a few users from their raw rows, with the batch definitions.

The API receives a user's recent rows (profile, events, orders...) and needs
the same features the nightly job computes. :class:`OnlineFeatures` builds the
batch feature expression once over tables of the given shape, compiles it to
DuckDB SQL once with the cutoff as a parameter, prepares it once per
connection, and then runs it on the request's rows in an embedded DuckDB: no
re-compilation or re-planning per call, and no second implementation of any
feature.
"""

from __future__ import annotations

import datetime as dt
import threading
from collections.abc import Mapping

import duckdb
import ibis
import pandas as pd
import pyarrow as pa

from features import contract as C
from features.asof import AsOf, cutoff
from features.build import feature_expression, to_frame
from features.errors import ConfigError

# A cutoff no real data has; its SQL rendering is replaced by the session variable.
_SENTINEL = dt.datetime(1901, 2, 3, 4, 5, 6)
_SENTINEL_SQL = "MAKE_TIMESTAMP(1901, 2, 3, 4, 5, 6.0)"
_STATEMENT = "churn_features"


class OnlineFeatures:
    """Compiled feature query for tables with the given schemas.

    schemas: table name -> Ibis schema of its contract form (``Dataset.table(name).schema()``);
    ``users`` and ``orders`` are required. Thread-safe: each thread has its own connection.
    """

    def __init__(self, schemas: Mapping[str, ibis.Schema]) -> None:
        missing = [t for t in C.REQUIRED_TABLES if t not in schemas]
        if missing:
            raise ConfigError(f"online features need tables {', '.join(missing)}")
        self.schemas = dict(schemas)
        unbound = {name: ibis.table(schema, name=name) for name, schema in self.schemas.items()}
        sentinel_as_of = _SENTINEL - dt.timedelta(microseconds=1)  # its cutoff is the sentinel itself
        sql = ibis.to_sql(feature_expression(unbound, sentinel_as_of), dialect="duckdb")
        if _SENTINEL_SQL not in sql:
            raise RuntimeError("compiled feature SQL does not contain the cutoff sentinel")
        self.sql = sql.replace(_SENTINEL_SQL, "CAST($cutoff AS TIMESTAMP)")
        if "1901" in self.sql:
            raise RuntimeError("compiled feature SQL still holds a sentinel-derived literal")
        self._arrow_schemas = {name: schema.to_pyarrow() for name, schema in self.schemas.items()}
        self._database = duckdb.connect()
        self._local = threading.local()

    def _connection(self) -> duckdb.DuckDBPyConnection:
        """This thread's connection: its settings, empty input tables and the prepared feature query.

        The query is planned once per connection (``PREPARE``); each call only
        replaces the rows of the input tables and executes it with its cutoff.
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
            self._local.con = con
        return con

    def _frames(self, frames: Mapping[str, pd.DataFrame]) -> dict[str, pd.DataFrame]:
        out = {}
        for name, schema in self.schemas.items():
            frame = frames.get(name)
            if frame is None:
                frame = self._arrow_schemas[name].empty_table().to_pandas()
            missing = [c for c in schema.names if c not in frame.columns]
            if missing:
                raise ConfigError(f"{name}: missing column {', '.join(missing)}")
            out[name] = frame[list(schema.names)]
        return out

    def _arrow(self, name: str, frame: pd.DataFrame) -> pa.Table:
        """``frame`` as an Arrow table of the contract types; a bad value names its table and column."""
        schema = self._arrow_schemas[name]
        try:
            return pa.Table.from_pandas(frame, schema=schema, preserve_index=False)
        except (pa.ArrowInvalid, pa.ArrowTypeError):
            for field in schema:
                try:
                    pa.array(frame[field.name], type=field.type, from_pandas=True)
                except (pa.ArrowInvalid, pa.ArrowTypeError):
                    raise ConfigError(f"{name}.{field.name}: values are not {field.type}") from None
            raise

    def compute(self, frames: Mapping[str, pd.DataFrame], as_of: AsOf) -> pd.DataFrame:
        """Features at ``as_of`` for the users in ``frames['users']``.

        frames: contract tables as pandas frames (normalised types; absent optional
        tables are treated as empty). Rows after ``as_of`` are ignored, as in batch.
        Returns the same columns and dtypes as :func:`features.build.compute_features`.
        """
        cut = cutoff(as_of)
        tables = {name: self._arrow(name, frame) for name, frame in self._frames(frames).items()}
        con = self._connection()
        con.execute("; ".join(f'DELETE FROM "{name}"' for name in tables))
        for name, incoming in tables.items():
            if incoming.num_rows:
                con.execute(f'INSERT INTO "{name}" SELECT * FROM incoming')
        result = con.execute(f"EXECUTE {_STATEMENT}(cutoff := TIMESTAMP '{cut.isoformat(sep=' ')}')").df()
        return to_frame(result)
