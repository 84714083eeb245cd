"""The churn HTTP service (BentoML 1.4): scores by id, from feature rows and from raw rows; the CRM lists.

Start it with ``churn serve`` (imports the registered champions into the
BentoML model store, then runs ``bentoml serve``), or serve the bundle already
in the store with ``python -m bentoml serve serving.service:ChurnService``.

The service holds no business logic: scores come from :mod:`serving.scoring`
(the nightly job's functions, so the API and the job cannot disagree),
features from :mod:`features.online`, lists from :mod:`serving.lists`.

* The models are the bundle ``churn_retention`` (:mod:`serving.bento_models`),
  a class attribute so that a built bento carries it. Which bundle is fixed
  when the service starts (``CHURN_API_MODEL_TAG``, default the latest);
  every response names the model version, and promoting a new champion in
  MLflow changes nothing until the next import and restart.
* Configuration comes from ``CHURN_API_*`` environment variables
  (:class:`ServiceSettings`), validated once at start; an unknown
  ``CHURN_API_*`` variable is an error, not ignored.
* Start-up: before any worker starts, the settings, the tokens, the audit log
  and the bundle are checked and a warm-up prediction is made; any failure
  stops ``bentoml serve`` with a one-line message and a non-zero exit code.
  Each worker then loads the models, scores the latest feature snapshot and
  compiles the online feature query; ``/readyz`` answers 503 until that is done.
* Errors: a user error (:class:`features.errors.ChurnError`) is its HTTP
  status with its one-line message; anything else is a 500 with a generic
  message. Logs never hold user ids or feature values (:class:`RedactUserData`).
"""

from __future__ import annotations

import contextlib
import datetime as dt
import gc
import logging
import os
import sys
import threading
import time
import traceback
from collections import OrderedDict
from dataclasses import dataclass
from http import HTTPStatus
from pathlib import Path

import bentoml
import ibis
import numpy as np
import pandas as pd
from bentoml.exceptions import BentoMLException
from pydantic import BaseModel, ConfigDict, Field, SecretStr, ValidationError

from features import contract as C
from features.catalog import BY_NAME, USER_ID, FeatureKind
from features.dataset import FLOAT64, INT64, NULL_MEANS, STRING, TIMESTAMP
from features.errors import ChurnError, ConfigError
from features.labels import ACTIVATION, CHURN
from features.online import OnlineFeatures
from serving import api_models as M
from serving.audit import DEFAULT_AUDIT_LOG, AuditLog
from serving.auth import CALLER_KEY, ApiGate, TokenCheck, load_tokens
from serving.bands import BandCutoffs
from serving.bento_models import BUNDLE_NAME, BundleError, ServedModel, load_bundle
from serving.lists import activation_list, at_risk_list, coupon_list
from serving.scoring import PERCENTILE, PROBABILITY, finish_scores, score_frame, score_rows
from serving.settings import ACTIVATION_MODEL_URI, CHURN_MODEL_URI, DEFAULT_FEATURES_DIR, DEFAULT_STORE
from serving.snapshots import FeatureSnapshots
from serving.store import ScoreStore

ENV_PREFIX = "CHURN_API_"
MODEL_TAG_ENV = "CHURN_API_MODEL_TAG"
DEFAULT_MODEL_TAG = f"{BUNDLE_NAME}:latest"
ANONYMOUS = "anonymous"
log = logging.getLogger("churn.service")


class NotFound(ChurnError):
    """What a request asks for does not exist (no snapshot, no published scores, no such model)."""

    exit_code = 3
    http_status = 404


class StoreBusy(ChurnError):
    """The score store cannot be read right now (the nightly job holds the DuckDB file)."""

    http_status = 503


# Configuration ---------------------------------------------------------------------------------
class ServiceSettings(BaseModel):
    """The service's configuration: ``CHURN_API_<FIELD>`` environment variables, validated once at start."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    store: str = Field(DEFAULT_STORE, description="score store: duckdb:///FILE or a SQLAlchemy URL")
    features_dir: Path = Field(DEFAULT_FEATURES_DIR, description="the nightly feature snapshots")
    tokens: SecretStr | None = Field(None, description="NAME:SECRET or SECRET entries, comma-separated")
    tokens_file: Path | None = Field(None, description="a file of NAME:SECRET or SECRET lines")
    allow_no_auth: bool = Field(False, description="local development only: start without any token, every caller anonymous")
    audit_log: Path = Field(DEFAULT_AUDIT_LOG, description="append-only JSON lines, one per list pull")
    max_body_bytes: int = Field(8 * 2**20, gt=0, description="larger request bodies are refused with 413 before parsing")
    band_medium: float = Field(BandCutoffs().medium, description="probability from which a user is in the medium band")
    band_high: float = Field(BandCutoffs().high, description="probability from which a user is in the high band")
    snapshot_poll_seconds: float = Field(60.0, ge=0, description="how often to look for a newer feature snapshot")
    model_tag: str = Field(DEFAULT_MODEL_TAG, description="the BentoML bundle to serve (read when the module is imported)")

    @classmethod
    def from_env(cls, environ: dict[str, str] | None = None) -> ServiceSettings:
        """Settings from ``CHURN_API_*`` variables; ConfigError naming the variable on a bad or unknown one."""
        env = os.environ if environ is None else environ
        values = {key.removeprefix(ENV_PREFIX).lower(): value for key, value in env.items() if key.startswith(ENV_PREFIX)}
        try:
            settings = cls(**values)
            settings.cutoffs()
        except ValidationError as e:
            first = e.errors()[0]
            field = str(first["loc"][0]) if first["loc"] else ""
            name = f"{ENV_PREFIX}{field.upper()}" if field else "CHURN_API_BAND_MEDIUM/HIGH"
            if first["type"] == "extra_forbidden":
                known = ", ".join(ENV_PREFIX + f.upper() for f in cls.model_fields)
                raise ConfigError(f"{name}: not a setting of the service; known: {known}") from None
            raise ConfigError(f"{name}: {first['msg'].removeprefix('Value error, ')}") from None
        settings.token_check()  # no token configured is an error at start, not at the first request
        return settings

    def cutoffs(self) -> BandCutoffs:
        return BandCutoffs(medium=self.band_medium, high=self.band_high)

    def token_check(self) -> TokenCheck | None:
        """The configured tokens; None when running open (``CHURN_API_ALLOW_NO_AUTH``, and no token given)."""
        tokens = load_tokens(self.tokens.get_secret_value() if self.tokens else None, self.tokens_file)
        if tokens:
            return TokenCheck(tokens)
        if self.allow_no_auth:
            return None
        raise ConfigError(
            "no API token configured: set CHURN_API_TOKENS (NAME:SECRET,...) or CHURN_API_TOKENS_FILE; "
            "for local development only, CHURN_API_ALLOW_NO_AUTH=true starts without authentication"
        )


# The model bundle ------------------------------------------------------------------------------
class BundleRef(bentoml.models.BentoModel):
    """The bundle reference; a missing bundle stops the server with one clear line instead of a traceback."""

    def resolve(self, base_path=None, *args, **kwargs):
        if base_path is None and self.stored is None:
            from bentoml._internal.configuration.containers import BentoMLContainer

            where = BentoMLContainer.model_store_dir.get()
            raise SystemExit(
                f"churn service: error: no model {self.tag} in the BentoML model store {where}; "
                "run `churn import-model` (or `churn serve`, which imports the registered champions) first"
            )
        return super().resolve(base_path, *args, **kwargs)


def _warm_up(models: dict[str, ServedModel]) -> None:
    """One prediction per model on a row of missing values: the model files load and predict."""
    for task, loaded in models.items():
        row = pd.DataFrame({USER_ID: ["warm-up"], **{name: [np.nan] for name in loaded.model.features_}})
        for name in loaded.model.categories_:
            row[name] = pd.Categorical([None], categories=loaded.model.categories_[name])
        try:
            p = score_rows(row, loaded.model)[PROBABILITY].to_numpy(dtype=float)
        except Exception as e:
            raise BundleError(f"{task} model {loaded.name} v{loaded.version}: warm-up prediction failed ({type(e).__name__})") from None
        if not (np.isfinite(p).all() and ((p >= 0) & (p <= 1)).all()):
            raise BundleError(f"{task} model {loaded.name} v{loaded.version}: warm-up prediction is not a probability")


def _registry_name(uri: str) -> str:
    from serving.models import URI  # imports MLflow: only needed when the bundle lacks the model

    return URI.match(uri)["name"]


# By-id scores from the nightly feature snapshot ------------------------------------------------
_SCORE_OUT = [name for name in M.ScoreItem.model_fields if name not in (USER_ID, "status", "detail")]


class ScoreTable:
    """Scores ready to answer with: positions by user id (as text) and each response column as plain Python values.

    Built once per scored frame, so that a lookup costs dictionary accesses, not pandas calls
    (answering one user from a DataFrame costs milliseconds; from here, microseconds).
    """

    def __init__(self, scores: pd.DataFrame) -> None:
        self.positions = {_key(u): i for i, u in enumerate(scores[USER_ID].to_numpy())}
        self.columns = {name: _plain_column(scores[name]) for name in _SCORE_OUT}

    def get(self, user_id: object) -> dict | None:
        i = self.positions.get(_key(user_id))
        return None if i is None else {name: values[i] for name, values in self.columns.items()}


def _plain_column(column: pd.Series) -> list:
    """A column as Python values, missing as None."""
    return column.astype(object).where(column.notna(), None).tolist()


@dataclass(frozen=True)
class SnapshotScores:
    """The whole snapshot of one date, scored with the service's model."""

    as_of: dt.date
    written: float  # the snapshot file's modification time: a rerun of the same date is read again
    table: ScoreTable


class SnapshotScorer:
    """The latest feature snapshot of one model, scored whole (so percentiles are the population's).

    A newer snapshot (the next night's, or a rerun of the same night) is
    looked for at most every ``poll_seconds`` and scored in the background;
    until it is ready the previous one answers.
    """

    def __init__(self, snapshots: FeatureSnapshots, model: ServedModel, cutoffs: BandCutoffs, poll_seconds: float) -> None:
        self.snapshots, self.model, self.cutoffs, self.poll_seconds = snapshots, model, cutoffs, poll_seconds
        self.current: SnapshotScores | None = None
        self._checked = 0.0
        self._lock = threading.Lock()
        self._loading = False

    def load_latest(self) -> None:
        """Score the newest snapshot if it is newer than the current one (synchronous)."""
        self._checked = time.monotonic()
        dates = self.snapshots.dates(self.model.name)
        if not dates:
            return
        written = self.snapshots.path(self.model.name, dates[-1]).stat().st_mtime
        if self.current is not None and (self.current.as_of, self.current.written) >= (dates[-1], written):
            return
        features = self.snapshots.read(self.model.name, dates[-1])
        scored_at = dt.datetime.now(dt.UTC).replace(tzinfo=None, microsecond=0)
        scores = score_frame(
            features, self.model.model, as_of=dates[-1], model_name=self.model.name, model_version=self.model.version,
            scored_at=scored_at, cutoffs=self.cutoffs,
        )  # fmt: skip
        self.current = SnapshotScores(dates[-1], written, ScoreTable(scores))

    def latest(self) -> SnapshotScores:
        """The current scores; starts a background look for a newer snapshot when it is time."""
        if time.monotonic() - self._checked >= self.poll_seconds:
            with self._lock:
                start = not self._loading
                self._loading = True
                self._checked = time.monotonic()
            if start:
                threading.Thread(target=self._refresh, daemon=True, name="churn-snapshot").start()
        if self.current is None:
            raise NotFound(f"no {self.model.name} feature snapshot in {self.snapshots.directory}: run `churn score` first")
        return self.current

    def _refresh(self) -> None:
        try:
            self.load_latest()
        except Exception as e:  # keep serving the previous snapshot
            log.error("scoring the newest %s feature snapshot failed: %s", self.model.name, type(e).__name__)
        finally:
            self._loading = False


# Published scores for the lists ----------------------------------------------------------------
class PublishedScores:
    """Scores read from the store, cached per (model, as_of, run); a rerun of a date is read again."""

    def __init__(self, store: ScoreStore, keep: int = 4) -> None:
        self.store, self.keep = store, keep
        self._cache: OrderedDict[tuple, pd.DataFrame] = OrderedDict()
        self._lock = threading.Lock()

    def _read(self, what, *args):
        try:
            return what(*args)
        except ChurnError:
            raise
        except Exception as e:
            if type(e).__module__.startswith(("duckdb", "sqlalchemy", "psycopg")):
                log.warning("score store unavailable: %s", type(e).__name__)
                raise StoreBusy("the score store cannot be read right now; retry shortly") from None
            raise

    def scores(self, model_name: str, as_of: dt.date | None) -> pd.DataFrame:
        runs = self._read(self.store.runs, model_name)
        if not len(runs):
            raise NotFound(f"no published {model_name} scores in the score store: run `churn score` first")
        dates = pd.to_datetime(runs["as_of"]).dt.date
        chosen = runs[dates == as_of] if as_of is not None else runs.head(1)
        if not len(chosen):
            latest = ", ".join(d.isoformat() for d in dates.head(5))
            raise NotFound(f"no published {model_name} scores as of {as_of}; latest: {latest}")
        run = chosen.iloc[0]
        day = pd.Timestamp(run["as_of"]).date()
        key = (model_name, day, str(run["scored_at"]), str(run["model_version"]))
        with self._lock:
            if key in self._cache:
                self._cache.move_to_end(key)
                return self._cache[key]
        frame = self._read(self.store.read, model_name, day)
        if not len(frame):
            raise NotFound(f"no published {model_name} scores as of {day}")
        with self._lock:
            self._cache[key] = frame
            while len(self._cache) > self.keep:
                self._cache.popitem(last=False)
        return frame


# Request rows as frames ------------------------------------------------------------------------
_ONLINE_TYPES = {
    C.Kind.ID: STRING,  # ids are compared as text: feature values do not depend on the id type
    C.Kind.TIMESTAMP: TIMESTAMP,
    C.Kind.NUMBER: FLOAT64,
    C.Kind.INTEGER: INT64,
    C.Kind.TEXT: STRING,
    C.Kind.CATEGORY: STRING,
}


def online_schemas() -> dict[str, ibis.Schema]:
    """Every contract table with every contract column, in the normalised types of :mod:`features.dataset`."""
    return {name: ibis.schema({c.name: _ONLINE_TYPES[c.kind] for c in spec.columns}) for name, spec in C.TABLES.items()}


def _key(user_id: object) -> str:
    return str(user_id)


def _naive_utc(value: dt.datetime | None) -> dt.datetime | None:
    if value is None or value.tzinfo is None:
        return value
    return value.astimezone(dt.UTC).replace(tzinfo=None)


def raw_frames(request) -> dict[str, pd.DataFrame]:
    """The request's contract tables as frames of the normalised types (ids as text, naive UTC timestamps)."""
    frames = {}
    for name, spec in C.TABLES.items():
        rows = getattr(request, name)
        data: dict[str, object] = {}
        for col in spec.columns:
            values = [getattr(row, col.name) for row in rows]
            if (name, col.name) in NULL_MEANS:
                values = [NULL_MEANS[(name, col.name)] if v is None else v for v in values]
            if col.kind is C.Kind.ID:
                data[col.name] = pd.Series([None if v is None else _key(v) for v in values], dtype=object)
            elif col.kind is C.Kind.TIMESTAMP:
                data[col.name] = pd.Series(pd.to_datetime([_naive_utc(v) for v in values]), dtype="datetime64[us]")
            elif col.kind is C.Kind.NUMBER:
                data[col.name] = pd.Series(values, dtype="float64")
            elif col.kind is C.Kind.INTEGER:
                data[col.name] = pd.Series(values, dtype="Int64")
            else:
                data[col.name] = pd.Series(values, dtype=object)
        frames[name] = pd.DataFrame(data)
    return frames


def feature_frame(rows: list, model: ServedModel) -> pd.DataFrame:
    """Feature rows as the frame ``churn features`` writes; every row must give every feature the model uses."""
    needed = model.model.features_
    records = []
    for i, row in enumerate(rows):
        given = row.model_fields_set
        missing = [name for name in needed if name not in given]
        if missing:
            raise ConfigError(f"rows.{i}: lacks feature {', '.join(missing[:5])}{' ...' if len(missing) > 5 else ''} (send null for a missing value)")
        records.append(row.model_dump(include={USER_ID, *needed, *given}))
    frame = pd.DataFrame.from_records(records)
    frame[USER_ID] = frame[USER_ID].map(_key)
    for name in frame.columns:
        if name == USER_ID:
            continue
        if BY_NAME[name].kind is FeatureKind.CATEGORY:
            values = frame[name].astype(object).where(frame[name].notna(), None)
            frame[name] = pd.Categorical(values, categories=sorted({v for v in values if v is not None}))
        else:
            frame[name] = pd.to_numeric(frame[name], errors="raise").astype("float64")
    return frame


def _records(frame: pd.DataFrame, columns) -> list[dict]:
    """Rows of ``frame`` as plain Python values (NaN -> None), for the response models."""
    part = frame[list(columns)].astype(object)
    return part.where(frame[list(columns)].notna(), None).to_dict("records")


def _unique_ids(ids: list, what: str) -> None:
    keys = [_key(u) for u in ids]
    if len(set(keys)) != len(keys):
        raise ConfigError(f"{what}: a user_id is given more than once")


# Logging without user data ---------------------------------------------------------------------
class RedactUserData(logging.Filter):
    """Logged exceptions without their messages: validation errors say where, other errors keep their traceback.

    A message may quote a request value (a user id, a feature value); the
    project's own errors (ChurnError, answered as 4xx) never do, so they are kept.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        if not record.exc_info or record.exc_info[1] is None:
            return True
        exc = record.exc_info[1]
        if isinstance(exc, ValidationError) or (isinstance(exc, ApiError) and exc.error_code.value < 500):
            record.levelno, record.levelname = logging.INFO, "INFO"  # the client's mistake, answered with a 4xx
        if isinstance(exc, ValidationError):
            where = ", ".join(".".join(str(p) for p in err["loc"]) or "body" for err in exc.errors()[:10])
            record.msg = f"{record.getMessage()}: invalid request ({exc.error_count()} errors at {where})"
        elif isinstance(exc, ApiError):
            record.msg = f"{record.getMessage()}: {exc.error_code.value} {exc.message}"
        else:
            frames = "".join(traceback.format_tb(exc.__traceback__))
            record.msg = f"{record.getMessage()}\nTraceback (most recent call last):\n{frames}{type(exc).__name__} (message withheld: it may quote request data)"
        record.args = ()
        record.exc_info = None
        record.exc_text = None
        return True


_REDACTED_LOGGERS = ("bentoml._internal.server.http_app", "bentoml.serve", "_bentoml_sdk.service.factory")


def _install_redaction() -> None:
    for name in _REDACTED_LOGGERS:
        logger = logging.getLogger(name)
        if not any(isinstance(f, RedactUserData) for f in logger.filters):
            logger.addFilter(RedactUserData())


class ApiError(BentoMLException):
    """A ChurnError on its way to the client: its status and one-line message."""


@contextlib.contextmanager
def _http_errors():
    try:
        yield
    except ChurnError as e:
        raise ApiError(e.message, error_code=HTTPStatus(e.http_status)) from None


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC).replace(tzinfo=None)


def _current_service():
    """The running ChurnService instance in this worker, or None before it exists (for the gate)."""
    try:
        instance = bentoml.get_current_service()
    except BentoMLException:
        return None
    return instance if isinstance(instance, ChurnService.inner) else None


# The service -----------------------------------------------------------------------------------
@bentoml.service(name="churn_service", workers=1, threads=4, traffic={"timeout": 60})
class ChurnService:
    """Churn scores and retention lists. Every endpoint but /livez, /readyz, /metrics and the docs needs a bearer token."""

    bundle = BundleRef(os.environ.get(MODEL_TAG_ENV, DEFAULT_MODEL_TAG))

    @bentoml.on_deployment
    def preflight() -> None:
        """Before any worker starts: settings, tokens, audit log, models and a warm-up prediction, or exit non-zero."""
        try:
            settings = ServiceSettings.from_env()
            AuditLog(settings.audit_log).check()
            stored = ChurnService.inner.bundle.resolve()
            _warm_up(load_bundle(stored))
        except ChurnError as e:
            print(f"churn service: error: {e.message}", file=sys.stderr, flush=True)
            raise SystemExit(e.exit_code) from None

    def __init__(self) -> None:
        _install_redaction()
        self.settings = ServiceSettings.from_env()
        self._tokens = self.settings.token_check()
        if self._tokens is None:
            log.warning("CHURN_API_ALLOW_NO_AUTH: serving WITHOUT authentication; every caller is %r", ANONYMOUS)
        self.audit = AuditLog(self.settings.audit_log)
        self.audit.check()
        stored = self.bundle
        self.bundle_tag = str(stored.tag)
        self.models = load_bundle(stored)
        _warm_up(self.models)
        self.model_versions = {task: f"{m.name} v{m.version}" for task, m in self.models.items()}
        self.model_header = ", ".join(f"{m.name}={m.version}" for m in self.models.values())
        self.max_body_bytes = self.settings.max_body_bytes
        self.cutoffs = self.settings.cutoffs()
        self.published = PublishedScores(ScoreStore(self.settings.store))
        snapshots = FeatureSnapshots(self.settings.features_dir)
        self.scorers = {
            task: SnapshotScorer(snapshots, loaded, self.cutoffs, self.settings.snapshot_poll_seconds)
            for task, loaded in self.models.items()
        }
        self.online: OnlineFeatures | None = None
        self._ready = threading.Event()
        self.warm_up_error: str | None = None
        threading.Thread(target=self._warm, daemon=True, name="churn-warm-up").start()
        log.info("serving %s (%s)", self.bundle_tag, self.model_header)

    def _warm(self) -> None:
        """Score the latest snapshots and compile the online feature query; then the service is ready."""
        try:
            for scorer in self.scorers.values():
                try:
                    scorer.load_latest()
                except ChurnError as e:
                    log.warning("by-id scoring unavailable until a snapshot exists: %s", e.message)
            self.online = OnlineFeatures(online_schemas())
            # Everything loaded so far lives as long as the process: keep it out of the garbage
            # collector's full passes, which would otherwise pause requests for tens of milliseconds.
            gc.collect()
            gc.freeze()
            self._ready.set()
        except Exception as e:
            self.warm_up_error = type(e).__name__
            log.error("warm-up failed (%s): the service stays not ready", type(e).__name__)

    # The gate's view of the service (serving.auth.Gatekeeper) -----------------------------------
    def caller(self, authorization: str | None) -> str | None:
        return ANONYMOUS if self._tokens is None else self._tokens.caller(authorization)

    def ready(self) -> bool:
        return self._ready.is_set()

    def __is_ready__(self) -> bool:
        return self._ready.is_set()

    # Helpers -------------------------------------------------------------------------------------
    def _model(self, task: str) -> ServedModel:
        if task not in self.models:
            raise NotFound(f"this service has no {task} model (none was registered when its bundle {self.bundle_tag} was imported)")
        return self.models[task]

    def _list_model_name(self, task: str) -> str:
        if task in self.models:
            return self.models[task].name
        return _registry_name(CHURN_MODEL_URI if task == CHURN else ACTIVATION_MODEL_URI)

    def _scored(self, features: pd.DataFrame, loaded: ServedModel, as_of: str) -> pd.DataFrame:
        """Scores of ``features`` (user ids as text) by the nightly job's functions, indexed by user id.

        The percentile of a request's rows among themselves means nothing, so it is left empty.
        """
        rows = score_rows(features, loaded.model)
        scores = finish_scores(
            rows, as_of=as_of, model_name=loaded.name, model_version=loaded.version, scored_at=_now(), cutoffs=self.cutoffs
        )
        return scores.assign(**{PERCENTILE: None})

    def _items(self, ids: list, table: ScoreTable | None, missing: str) -> list:
        items = []
        for user_id in ids:
            found = table.get(user_id) if table is not None else None
            if found is None:
                items.append(M.ScoreItem(user_id=user_id, status=M.NOT_FOUND, detail=missing))
            else:
                items.append(M.ScoreItem(user_id=user_id, status=M.OK, **found))
        return items

    def _caller(self, ctx: bentoml.Context) -> str:
        return ctx.request.scope.get("state", {}).get(CALLER_KEY, ANONYMOUS)

    def _page(self, endpoint: str, request, frame: pd.DataFrame, scores: pd.DataFrame, row_model, ctx) -> dict:
        """The requested page of a list, with its provenance; writes the audit record first."""
        page = frame.iloc[request.offset : request.offset + request.limit]
        first = scores.iloc[0]
        generated_at = _now()
        provenance = {
            "model_name": str(first["model_name"]),
            "model_version": str(first["model_version"]),
            "as_of": pd.Timestamp(first["as_of"]).date(),
        }
        self.audit.record(
            caller=self._caller(ctx), endpoint=endpoint, request=request.model_dump(mode="json"), rows=len(page), total=len(frame),
            service_models=self.model_versions, at=generated_at, **provenance,
        )  # fmt: skip
        rows = [row_model(**r) for r in _records(page, row_model.model_fields)]
        return {**provenance, "generated_at": generated_at, "total": len(frame), "offset": request.offset, "limit": request.limit, "rows": rows}

    # Endpoints -----------------------------------------------------------------------------------
    @bentoml.api(route="/score_users")
    async def score_users(self, request: M.ScoreByIdRequest, /) -> M.ScoreResponse:
        """Scores of users by id, from the latest nightly feature snapshot; unknown ids are `not_found` items."""
        with _http_errors():
            loaded = self._model(request.model)
            snapshot = self.scorers[request.model].latest()
            missing = f"not in the {loaded.name} feature snapshot of {snapshot.as_of}"
            items = self._items(request.user_ids, snapshot.table, missing)
            return M.ScoreResponse(model_name=loaded.name, model_version=loaded.version, as_of=snapshot.as_of.isoformat(), results=items)

    @bentoml.api(route="/score_features")
    def score_features(self, request: M.ScoreFeaturesRequest, /) -> M.ScoreResponse:
        """Scores of feature rows given in the request (the columns of `churn features`), at the request's as_of."""
        with _http_errors():
            loaded = self._model(request.model)
            _unique_ids([r.user_id for r in request.rows], "rows")
            scores = self._scored(feature_frame(request.rows, loaded), loaded, request.as_of)
            items = self._items([r.user_id for r in request.rows], ScoreTable(scores), "")
            return M.ScoreResponse(model_name=loaded.name, model_version=loaded.version, as_of=request.as_of, results=items)

    @bentoml.api(route="/score_raw")
    def score_raw(self, request: M.RawScoreRequest, /) -> M.ScoreResponse:  # type: ignore[valid-type]
        """Scores from users' raw recent rows: features at the request's as_of with the nightly job's definitions."""
        with _http_errors():
            loaded = self._model(request.model)
            ids = [u.user_id for u in request.users]
            _unique_ids(ids, "users")
            features = self.online.compute(raw_frames(request), request.as_of)
            scores = self._scored(features, loaded, request.as_of) if len(features) else None
            missing = f"no features as of {request.as_of} (signed up later)"
            items = self._items(ids, ScoreTable(scores) if scores is not None else None, missing)
            return M.ScoreResponse(model_name=loaded.name, model_version=loaded.version, as_of=request.as_of, results=items)

    @bentoml.api(route="/lists/at_risk")
    def at_risk(self, request: M.AtRiskRequest, /, ctx: bentoml.Context) -> M.AtRiskResponse:
        """The at-risk list (highest risk first), filtered and paged; every pull is audited."""
        with _http_errors():
            scores = self.published.scores(self._list_model_name(CHURN), request.as_of)
            frame = at_risk_list(scores, request.filters, _now())
            return M.AtRiskResponse(**self._page("lists/at_risk", request, frame, scores, M.AtRiskRow, ctx))

    @bentoml.api(route="/lists/coupons")
    def coupons(self, request: M.CouponListRequest, /, ctx: bentoml.Context) -> M.CouponListResponse:
        """The retention coupon campaign (budget, callbacks, seeded control group), paged; every pull is audited."""
        with _http_errors():
            scores = self.published.scores(self._list_model_name(CHURN), request.as_of)
            frame = coupon_list(scores, request.policy, _now())
            return M.CouponListResponse(**self._page("lists/coupons", request, frame, scores, M.CouponRow, ctx))

    @bentoml.api(route="/lists/activation")
    def activation(self, request: M.ActivationListRequest, /, ctx: bentoml.Context) -> M.ActivationListResponse:
        """The new-user activation campaign from the activation model's published scores, paged; audited."""
        with _http_errors():
            scores = self.published.scores(self._list_model_name(ACTIVATION), request.as_of)
            frame = activation_list(scores, request.policy, _now())
            return M.ActivationListResponse(**self._page("lists/activation", request, frame, scores, M.ActivationRow, ctx))

    @bentoml.api(route="/model_info")
    async def model_info(self) -> M.ModelInfo:
        """The bundle and model versions this service started with, and the snapshot date it scores by id."""
        churn = self.scorers[CHURN].current
        return M.ModelInfo(bundle=self.bundle_tag, models=self.model_versions, as_of=churn.as_of.isoformat() if churn else None)


ChurnService.add_asgi_middleware(ApiGate, keeper=_current_service)
