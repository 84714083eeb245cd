"""Features for one or a few users from their raw rows, with the batch definitions.

The API receives a user's recent rows (profile, events, orders...) and needs
the same features the nightly job computes. :class:`OnlineFeatures` builds the
batch feature expression once over tables of the given shape, compiles it to
DuckDB SQL once with the cutoff as a session variable, and then runs that SQL
on the request's rows in an embedded DuckDB: no re-compilation per call, and
no second implementation of any feature.
"""

from __future__ import annotations

import datetime as dt
import threading
from collections.abc import Mapping

import duckdb
import ibis
import pandas as pd

from features import contract as C
from features.asof import AsOf, cutoff
from features.build import feature_expression, to_frame
from features.errors import ConfigError

# A cutoff no real data has; its SQL rendering is replaced by the session variable.
_SENTINEL = dt.datetime(1901, 2, 3, 4, 5, 6)
_SENTINEL_SQL = "MAKE_TIMESTAMP(1901, 2, 3, 4, 5, 6.0)"
_VARIABLE = "churn_cutoff"


class OnlineFeatures:
    """Compiled feature query for tables with the given schemas.

    schemas: table name -> Ibis schema of its contract form (``Dataset.table(name).schema()``);
    ``users`` and ``orders`` are required. Thread-safe; each call uses its own cursor.
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
        self.sql = sql.replace(_SENTINEL_SQL, f"getvariable('{_VARIABLE}')")
        if "1901" in self.sql:
            raise RuntimeError("compiled feature SQL still holds a sentinel-derived literal")
        self._con = duckdb.connect()
        self._con.execute("SET TimeZone = 'UTC'")
        self._con.execute("SET threads = 1")
        # A request holds a few rows: planning a 60-feature query costs more than running it,
        # and the optimizer does not change results, only speed on large inputs.
        self._con.execute("PRAGMA disable_optimizer")
        self._lock = threading.Lock()

    def _frames(self, frames: Mapping[str, pd.DataFrame]) -> dict[str, pd.DataFrame]:
        out = {}
        for name, schema in self.schemas.items():
            frame = frames.get(name)
            if frame is None:
                frame = pd.DataFrame({c: pd.Series(dtype=t.to_pandas()) for c, t in schema.items()})
            missing = [c for c in schema.names if c not in frame.columns]
            if missing:
                raise ConfigError(f"{name}: missing column {', '.join(missing)}")
            out[name] = frame[list(schema.names)]
        return out

    def compute(self, frames: Mapping[str, pd.DataFrame], as_of: AsOf) -> pd.DataFrame:
        """Features at ``as_of`` for the users in ``frames['users']``.

        frames: contract tables as pandas frames (normalised types; absent optional
        tables are treated as empty). Rows after ``as_of`` are ignored, as in batch.
        Returns the same columns and dtypes as :func:`features.build.compute_features`.
        """
        cut = cutoff(as_of)
        with self._lock:
            cursor = self._con.cursor()
        try:
            cursor.execute(f"SET VARIABLE {_VARIABLE} = TIMESTAMP '{cut.isoformat(sep=' ')}'")
            for name, frame in self._frames(frames).items():
                cursor.register(name, frame)
            result = cursor.execute(self.sql).df()
        finally:
            cursor.close()
        return to_frame(result)
