"""The score store: where nightly scores are published and read.

An embedded DuckDB file by default (``duckdb:///path/scores.duckdb``) or a
database behind a SQLAlchemy URL (``postgresql+psycopg://user@host/db``).
Publishing the scores of a night (one or several models at one as_of) replaces
any earlier rows of those (model, as_of) and records the runs in one
transaction, so that scoring a date twice leaves one set of rows, and a reader
never sees a half-written night: until the commit it sees the previous complete
scores of every model, and a job that dies before the commit leaves them as they were.

Readers never block the writer. A DuckDB file admits one read-write process or
several read-only ones, never both, so every read opens the file read-only,
reads and closes it at once; a missing file reads as empty (and is not created).
The writer announces itself with a marker file beside the database
(``<file>.publishing``, holding its process id) and retries the lock for up
to ``write_wait`` seconds; a reader that meets the marker or the lock (for
``read_wait`` seconds) raises :class:`~serving.errors.StoreBusy` (exit 5,
HTTP 503 with ``Retry-After``). A store that cannot be used at all (a file
that is not a DuckDB database, a server that does not answer) raises
:class:`~serving.errors.DependencyError` (exit 6) naming it, never a traceback.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import os
import time
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path

import pandas as pd

from features.catalog import AS_OF
from features.errors import ConfigError
from serving.columns import MODEL_NAME, SCORE_COLUMNS
from serving.errors import DependencyError, StoreBusy

SCORES = "churn_scores"
RUNS = "churn_score_runs"
DUCKDB_PREFIX = "duckdb:///"
WRITE_WAIT_SECONDS = 30.0  # how long the nightly job waits for readers to let go of the DuckDB file
READ_WAIT_SECONDS = 1.0  # how long a reader waits for a publish before answering "busy"
DUCKDB_MAGIC = b"DUCK"  # bytes 8-11 of every DuckDB database file
MARKER_SUFFIX = ".publishing"
MARKER_MAX_AGE_SECONDS = 6 * 3600  # no publish takes this long

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


def _run_frame(frame: pd.DataFrame, checks: dict | None) -> pd.DataFrame:
    """The run record of one model's scores ``frame`` (normalised; one model and date)."""
    return pd.DataFrame(
        [{
            "model_name": frame[MODEL_NAME].iloc[0],
            "as_of": frame[AS_OF].iloc[0],
            "model_version": frame["model_version"].iloc[0],
            "rows": len(frame),
            "scored_at": frame["scored_at"].iloc[0],
            "checks": json.dumps(checks or {}, sort_keys=True),
        }]
    )  # fmt: skip


def _night(parts: Sequence[tuple[pd.DataFrame, dict | None]]) -> list[tuple[str, dt.date, pd.DataFrame, pd.DataFrame]]:
    """Each part normalised, with its model, date and run record; ConfigError unless each holds one model at one date."""
    night = []
    for scores, checks in parts:
        frame = _normalise(scores)
        if not len(frame):
            raise ConfigError("a publish needs at least one score per model: an empty population publishes nothing")
        keys = frame[[MODEL_NAME, AS_OF]].drop_duplicates()
        if len(keys) != 1:
            raise ConfigError(f"a publish holds one model and one as_of date per scores frame, got {len(keys)} combinations")
        night.append((keys.iloc[0][MODEL_NAME], keys.iloc[0][AS_OF], frame, _run_frame(frame, checks)))
    models = [model for model, *_ in night]
    if len(set(models)) != len(models):
        raise ConfigError(f"a publish holds each model once, got {', '.join(models)}")
    return night


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


class ScoreStore:
    """Publish and read scores; see the module docstring. ``url``: ``duckdb:///FILE`` or a SQLAlchemy URL.

    write_wait / read_wait: seconds the writer waits for the DuckDB lock, and a reader for a publish.
    """

    def __init__(self, url: str, *, write_wait: float = WRITE_WAIT_SECONDS, read_wait: float = READ_WAIT_SECONDS) -> None:
        self.url = url
        self.write_wait, self.read_wait = write_wait, read_wait
        if url.startswith(DUCKDB_PREFIX):
            self._path = Path(url.removeprefix(DUCKDB_PREFIX))
            self._engine = None
        elif "://" in url:
            import sqlalchemy as sa

            self._path = None
            try:
                url_ = sa.engine.make_url(url)
                connect_args = {"connect_timeout": 10} if url_.get_driver_name() in ("psycopg", "psycopg2") else {}
                self._engine = sa.create_engine(url, connect_args=connect_args)
                self.url = url_.render_as_string(hide_password=True)  # what messages may show
            except (sa.exc.ArgumentError, ModuleNotFoundError) as e:
                raise ConfigError(f"--store {url}: {e}") from None
        else:
            raise ConfigError(f"--store {url}: expected duckdb:///FILE or a SQLAlchemy URL such as postgresql+psycopg://user@host/db")

    # DuckDB ------------------------------------------------------------------------------------
    @property
    def _marker(self) -> Path:
        return self._path.with_name(self._path.name + MARKER_SUFFIX)

    def _check_file(self) -> None:
        """DependencyError unless the store's file is a DuckDB database (checked before DuckDB opens it)."""
        try:
            with self._path.open("rb") as f:
                header = f.read(12)
        except OSError as e:
            raise DependencyError(f"score store {self._path}: cannot be read ({e.strerror})") from None
        if header[8:12] != DUCKDB_MAGIC:
            raise DependencyError(f"score store {self._path}: not a DuckDB database file (move it away or point --store elsewhere)")

    def _publishing(self) -> bool:
        """Whether a live writer has announced a publish of this file."""
        try:
            pid = int(self._marker.read_text().strip() or 0)
            age = time.time() - self._marker.stat().st_mtime
        except (OSError, ValueError):
            return False
        # A killed writer's marker is ignored: its process is gone (or, were its id reused, the marker is old).
        return pid > 0 and age < MARKER_MAX_AGE_SECONDS and _alive(pid)

    def _connect(self, *, read_only: bool):
        """A DuckDB connection, retrying the file's lock for the allowed wait; StoreBusy when it stays taken."""
        import duckdb

        wait = self.read_wait if read_only else self.write_wait
        deadline, delay = time.monotonic() + wait, 0.02
        while True:
            if read_only and self._publishing():
                raise StoreBusy(f"score store {self._path}: scores are being published; retry shortly")
            if self._path.exists():
                self._check_file()
            try:
                con = duckdb.connect(str(self._path), read_only=read_only)
                con.execute("SET TimeZone = 'UTC'")
                return con
            except duckdb.IOException:
                if time.monotonic() >= deadline:
                    doing = "being published" if read_only else "held by another process"
                    raise StoreBusy(f"score store {self._path}: {doing} (waited {wait:g} s); retry shortly") from None
                time.sleep(min(delay, max(0.0, deadline - time.monotonic())))
                delay = min(delay * 2, 0.25)

    @contextlib.contextmanager
    def _duck_read(self) -> Iterator:
        """A read-only connection, closed on exit; None when the store file does not exist (nothing is created)."""
        if not self._path.exists():
            yield None
            return
        con = self._connect(read_only=True)
        try:
            yield con
        finally:
            con.close()

    def _duck_query(self, sql: str, params: list, columns) -> pd.DataFrame:
        import duckdb

        with self._duck_read() as con:
            if con is None:
                return pd.DataFrame(columns=list(columns))
            try:
                return con.execute(sql, params).df()
            except duckdb.CatalogException:  # a database without our tables: nothing published yet
                return pd.DataFrame(columns=list(columns))

    def _duck_publish(self, night, before_commit) -> None:
        import duckdb

        try:
            self._path.parent.mkdir(parents=True, exist_ok=True)
            if self._path.exists() and not os.access(self._path, os.W_OK):
                raise PermissionError(13, "permission denied")
            self._marker.write_text(str(os.getpid()))
        except OSError as e:
            raise DependencyError(f"score store {self._path}: cannot be written ({e.strerror})") from None
        try:
            con = self._connect(read_only=False)
            try:
                for sql in _create_sql():
                    con.execute(sql)
                con.execute("BEGIN TRANSACTION")
                for i, (model, as_of, frame, run) in enumerate(night):
                    con.execute(f"DELETE FROM {SCORES} WHERE model_name = ? AND as_of = ?", [model, as_of])
                    con.execute(f"DELETE FROM {RUNS} WHERE model_name = ? AND as_of = ?", [model, as_of])
                    con.register(f"incoming_scores_{i}", frame)
                    con.execute(f"INSERT INTO {SCORES} SELECT {', '.join(SCORE_COLUMNS)} FROM incoming_scores_{i}")
                    con.register(f"incoming_run_{i}", run)
                    con.execute(f"INSERT INTO {RUNS} SELECT {', '.join(_RUN_TYPES)} FROM incoming_run_{i}")
                if before_commit is not None:
                    before_commit()
                con.execute("COMMIT")
            except BaseException as e:
                with contextlib.suppress(duckdb.Error):
                    con.execute("ROLLBACK")
                if isinstance(e, duckdb.IOException):
                    raise DependencyError(f"score store {self._path}: the publish failed ({str(e).splitlines()[0]})") from None
                raise
            finally:
                con.close()
        finally:
            self._marker.unlink(missing_ok=True)

    # SQLAlchemy --------------------------------------------------------------------------------
    @contextlib.contextmanager
    def _sql_faults(self) -> Iterator[None]:
        """A database that cannot be reached or used becomes one DependencyError naming the store (no password)."""
        import sqlalchemy as sa

        try:
            yield
        except (sa.exc.OperationalError, sa.exc.InterfaceError) as e:
            reason = str(getattr(e, "orig", e)).strip().splitlines()
            raise DependencyError(f"score store {self.url}: cannot be reached ({reason[0] if reason else type(e).__name__})") from None

    def _sql_query(self, sql: str, params: dict, columns) -> pd.DataFrame:
        import sqlalchemy as sa

        with self._sql_faults(), self._engine.connect() as con:
            if not sa.inspect(con).has_table(SCORES) or not sa.inspect(con).has_table(RUNS):
                return pd.DataFrame(columns=list(columns))
            return pd.read_sql(sa.text(sql), con, params=params)

    def _sql_publish(self, night, before_commit) -> None:
        import sqlalchemy as sa

        with self._sql_faults(), self._engine.begin() as con:
            for sql in _create_sql():
                con.execute(sa.text(sql))
            for model, as_of, frame, run in night:
                params = {"model": model, "as_of": as_of}
                con.execute(sa.text(f"DELETE FROM {SCORES} WHERE model_name = :model AND as_of = :as_of"), params)
                con.execute(sa.text(f"DELETE FROM {RUNS} WHERE model_name = :model AND as_of = :as_of"), params)
                _insert(con, frame)
                run.to_sql(RUNS, con, if_exists="append", index=False)
            if before_commit is not None:
                before_commit()

    # Public API --------------------------------------------------------------------------------
    def check(self) -> None:
        """Fail now, before any work, if the store cannot be used: DependencyError (broken) or StoreBusy (held)."""
        if self._engine is None:
            if self._path.exists():
                self._check_file()
            return
        with self._sql_faults(), self._engine.connect():
            pass

    def publish(
        self,
        scores: pd.DataFrame,
        *,
        checks: dict | None = None,
        before_commit: Callable[[], None] | None = None,
    ) -> int:
        """Replace the scores of the (model, as_of) in ``scores`` with these rows, atomically; returns the rows written."""
        return self.publish_night([(scores, checks)], before_commit=before_commit)[0]

    def publish_night(
        self,
        parts: Sequence[tuple[pd.DataFrame, dict | None]],
        *,
        before_commit: Callable[[], None] | None = None,
    ) -> list[int]:
        """Replace the scores of every (model, as_of) in ``parts`` (scores, checks) in one transaction.

        Each scores frame holds one model at one date, with at least one row; a reader sees
        either every model's previous scores or every model's new ones. ``before_commit`` runs
        inside the transaction just before it commits (the tests kill the job there). Returns
        the rows written per part.
        """
        night = _night(parts)
        if not night:
            return []
        if self._engine is None:
            self._duck_publish(night, before_commit)
        else:
            self._sql_publish(night, before_commit)
        return [len(frame) for _, _, frame, _ in night]

    def read(self, model_name: str, as_of: dt.date) -> pd.DataFrame:
        """The published scores of ``model_name`` at ``as_of``, highest risk first (empty if none)."""
        sql = f"SELECT {', '.join(SCORE_COLUMNS)} FROM {SCORES} WHERE model_name = ? AND as_of = ? ORDER BY probability DESC, user_id"
        if self._engine is None:
            return _dates(self._duck_query(sql, [model_name, as_of], SCORE_COLUMNS))
        named = sql.replace("model_name = ?", "model_name = :model").replace("as_of = ?", "as_of = :as_of")
        return _dates(self._sql_query(named, {"model": model_name, "as_of": as_of}, SCORE_COLUMNS))

    def latest_as_of(self, model_name: str) -> dt.date | None:
        """The latest as-of date with published scores of ``model_name`` (None if there is none)."""
        runs = self.runs(model_name)
        return pd.Timestamp(runs["as_of"].iloc[0]).date() if len(runs) else None

    def runs(self, model_name: str) -> pd.DataFrame:
        """The recorded runs of ``model_name``, latest date first."""
        sql = f"SELECT {', '.join(_RUN_TYPES)} FROM {RUNS} WHERE model_name = ? ORDER BY as_of DESC"
        if self._engine is None:
            return self._duck_query(sql, [model_name], _RUN_TYPES)
        return self._sql_query(sql.replace("model_name = ?", "model_name = :model"), {"model": model_name}, _RUN_TYPES)
