"""The score store: where nightly scores are published and read.

An embedded DuckDB file by default (``duckdb:///path/scores.duckdb``) or a
database behind a SQLAlchemy URL (``postgresql+psycopg://user@host/db``).
Publishing the scores of one (model, as_of) replaces any earlier rows for them
and records the run in one transaction, so that scoring a date twice leaves
one set of rows, and a reader never sees a half-written set: until the commit
it sees the previous complete scores, and a job that dies before the commit
leaves them as they were.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable
from pathlib import Path

import pandas as pd

from features.catalog import AS_OF
from features.errors import ConfigError
from serving.columns import MODEL_NAME, SCORE_COLUMNS

SCORES = "churn_scores"
RUNS = "churn_score_runs"
DUCKDB_PREFIX = "duckdb:///"

_SCORE_TYPES = {
    "user_id": "VARCHAR",
    "as_of": "DATE",
    "probability": "DOUBLE PRECISION",
    "risk_band": "VARCHAR",
    "percentile": "DOUBLE PRECISION",
    "reason_1": "VARCHAR",
    "reason_2": "VARCHAR",
    "reason_3": "VARCHAR",
    "value_at_risk": "DOUBLE PRECISION",
    "member_tier": "VARCHAR",
    "city_tier": "VARCHAR",
    "region": "VARCHAR",
    "channel": "VARCHAR",
    "top_category": "VARCHAR",
    "model_name": "VARCHAR",
    "model_version": "VARCHAR",
    "scored_at": "TIMESTAMP",
}
_RUN_TYPES = {"model_name": "VARCHAR", "as_of": "DATE", "model_version": "VARCHAR", "rows": "BIGINT", "scored_at": "TIMESTAMP", "checks": "VARCHAR"}


def _create_sql() -> list[str]:
    scores = ", ".join(f"{c} {_SCORE_TYPES[c]}" for c in SCORE_COLUMNS)
    runs = ", ".join(f"{c} {t}" for c, t in _RUN_TYPES.items())
    return [f"CREATE TABLE IF NOT EXISTS {SCORES} ({scores})", f"CREATE TABLE IF NOT EXISTS {RUNS} ({runs})"]


def _normalise(scores: pd.DataFrame) -> pd.DataFrame:
    """Scores in the store's column types (user ids as text so that any id kind fits)."""
    missing = [c for c in SCORE_COLUMNS if c not in scores.columns]
    if missing:
        raise ConfigError(f"scores lack column {', '.join(missing)}")
    out = scores[list(SCORE_COLUMNS)].copy()
    out["user_id"] = out["user_id"].astype(str)
    out["risk_band"] = out["risk_band"].astype(str)
    out["model_version"] = out["model_version"].astype(str)
    stamp = pd.to_datetime(out["scored_at"])
    if stamp.dt.tz is not None:
        stamp = stamp.dt.tz_convert("UTC").dt.tz_localize(None)
    out["scored_at"] = stamp
    return out


def _insert(con, frame: pd.DataFrame) -> None:
    """Append ``frame`` to the scores table inside the open transaction of SQLAlchemy connection ``con``.

    On PostgreSQL through psycopg the rows are streamed with COPY (a million rows in seconds, no
    limit on parameters); other databases get multi-row INSERTs sized under their 65,535-parameter cap.
    """
    if con.dialect.name == "postgresql" and con.dialect.driver == "psycopg":
        columns = ", ".join(frame.columns)
        cursor = con.connection.dbapi_connection.cursor()
        with cursor.copy(f"COPY {SCORES} ({columns}) FROM STDIN") as copy:
            for row in frame.astype(object).where(frame.notna(), None).itertuples(index=False, name=None):
                copy.write_row(row)
        return
    frame.to_sql(SCORES, con, if_exists="append", index=False, method="multi", chunksize=max(1, 60000 // len(frame.columns)))


def _dates(frame: pd.DataFrame) -> pd.DataFrame:
    """The ``as_of`` column as dates, whichever database the rows came from."""
    frame[AS_OF] = pd.to_datetime(frame[AS_OF]).dt.date
    return frame


class ScoreStore:
    """Publish and read scores; see the module docstring. ``url``: ``duckdb:///FILE`` or a SQLAlchemy URL."""

    def __init__(self, url: str) -> None:
        self.url = url
        if url.startswith(DUCKDB_PREFIX):
            self._path = Path(url.removeprefix(DUCKDB_PREFIX))
            self._engine = None
        elif "://" in url:
            import sqlalchemy as sa

            self._path = None
            try:
                self._engine = sa.create_engine(url)
            except (sa.exc.ArgumentError, ModuleNotFoundError) as e:
                raise ConfigError(f"--store {url}: {e}") from None
        else:
            raise ConfigError(f"--store {url}: expected duckdb:///FILE or a SQLAlchemy URL such as postgresql+psycopg://user@host/db")

    # DuckDB ------------------------------------------------------------------------------------
    def _duck(self):
        import duckdb

        self._path.parent.mkdir(parents=True, exist_ok=True)
        con = duckdb.connect(str(self._path))
        con.execute("SET TimeZone = 'UTC'")
        for sql in _create_sql():
            con.execute(sql)
        return con

    # Public API --------------------------------------------------------------------------------
    def publish(
        self,
        scores: pd.DataFrame,
        *,
        checks: dict | None = None,
        before_commit: Callable[[], None] | None = None,
    ) -> int:
        """Replace the scores of the (model, as_of) in ``scores`` with these rows, atomically.

        ``before_commit`` runs inside the transaction just before it commits (the
        tests use it to kill the job at the worst moment). Returns the rows written.
        """
        frame = _normalise(scores)
        keys = frame[[MODEL_NAME, AS_OF]].drop_duplicates()
        if len(keys) != 1:
            raise ConfigError(f"a publish holds one model and one as_of date, got {len(keys)} combinations")
        model, as_of = keys.iloc[0][MODEL_NAME], keys.iloc[0][AS_OF]
        run = pd.DataFrame(
            [{
                "model_name": model,
                "as_of": as_of,
                "model_version": frame["model_version"].iloc[0] if len(frame) else "",
                "rows": len(frame),
                "scored_at": frame["scored_at"].iloc[0] if len(frame) else pd.Timestamp(dt.datetime(1970, 1, 1)),
                "checks": json.dumps(checks or {}, sort_keys=True),
            }]
        )
        if self._engine is None:
            con = self._duck()
            try:
                con.execute("BEGIN TRANSACTION")
                con.execute(f"DELETE FROM {SCORES} WHERE model_name = ? AND as_of = ?", [model, as_of])
                con.execute(f"DELETE FROM {RUNS} WHERE model_name = ? AND as_of = ?", [model, as_of])
                con.register("incoming_scores", frame)
                con.execute(f"INSERT INTO {SCORES} SELECT {', '.join(SCORE_COLUMNS)} FROM incoming_scores")
                con.register("incoming_run", run)
                con.execute(f"INSERT INTO {RUNS} SELECT {', '.join(_RUN_TYPES)} FROM incoming_run")
                if before_commit is not None:
                    before_commit()
                con.execute("COMMIT")
            except BaseException:
                con.execute("ROLLBACK")
                raise
            finally:
                con.close()
            return len(frame)
        import sqlalchemy as sa

        with self._engine.begin() as con:
            for sql in _create_sql():
                con.execute(sa.text(sql))
            params = {"model": model, "as_of": as_of}
            con.execute(sa.text(f"DELETE FROM {SCORES} WHERE model_name = :model AND as_of = :as_of"), params)
            con.execute(sa.text(f"DELETE FROM {RUNS} WHERE model_name = :model AND as_of = :as_of"), params)
            _insert(con, frame)
            run.to_sql(RUNS, con, if_exists="append", index=False)
            if before_commit is not None:
                before_commit()
        return len(frame)

    def read(self, model_name: str, as_of: dt.date) -> pd.DataFrame:
        """The published scores of ``model_name`` at ``as_of``, highest risk first (empty if none)."""
        sql = f"SELECT {', '.join(SCORE_COLUMNS)} FROM {SCORES} WHERE model_name = ? AND as_of = ? ORDER BY probability DESC, user_id"
        if self._engine is None:
            con = self._duck()
            try:
                return _dates(con.execute(sql, [model_name, as_of]).df())
            finally:
                con.close()
        import sqlalchemy as sa

        with self._engine.connect() as con:
            for create in _create_sql():
                con.execute(sa.text(create))
            con.commit()
            named = sql.replace("model_name = ?", "model_name = :model").replace("as_of = ?", "as_of = :as_of")
            return _dates(pd.read_sql(sa.text(named), con, params={"model": model_name, "as_of": as_of}))

    def latest_as_of(self, model_name: str) -> dt.date | None:
        """The latest as-of date with published scores of ``model_name`` (None if there is none)."""
        runs = self.runs(model_name)
        return pd.Timestamp(runs["as_of"].iloc[0]).date() if len(runs) else None

    def runs(self, model_name: str) -> pd.DataFrame:
        """The recorded runs of ``model_name``, latest date first."""
        sql = f"SELECT {', '.join(_RUN_TYPES)} FROM {RUNS} WHERE model_name = ? ORDER BY as_of DESC"
        if self._engine is None:
            con = self._duck()
            try:
                return con.execute(sql, [model_name]).df()
            finally:
                con.close()
        import sqlalchemy as sa

        with self._engine.connect() as con:
            for create in _create_sql():
                con.execute(sa.text(create))
            con.commit()
            return pd.read_sql(sa.text(sql.replace("model_name = ?", "model_name = :model")), con, params={"model": model_name})
