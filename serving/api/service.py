"""The churn HTTP service (BentoML 1.4): scores by id, from feature rows and from raw rows; the CRM lists.

Start it with ``churn serve`` (imports the registered champions into the
BentoML model store, then runs ``bentoml serve``), or serve the bundle already
in the store with ``python -m bentoml serve serving.api.service:ChurnService``.

This module holds the endpoints only, and no business logic: scores come from
:mod:`serving.batch.scoring` (the nightly job's functions, so the API and the
job cannot disagree) through :mod:`serving.api.scores`, features from
:mod:`features.online` over :mod:`serving.api.frames`, lists from
:mod:`serving.crm.lists`. Its neighbours: :mod:`serving.api.settings`,
:mod:`serving.api.schemas` (requests and responses), :mod:`serving.api.auth`
(the gate), :mod:`serving.api.audit`, :mod:`serving.api.redact` (logs) and
:mod:`serving.api.bundle` (the models).

* The models are the bundle ``churn_retention`` (:mod:`serving.api.bundle`),
  a class attribute so that a built bento carries it. Which bundle is fixed
  when the service starts (``CHURN_API_MODEL_TAG``, default the latest);
  every response names the model version, and promoting a new champion in
  MLflow changes nothing until the next import and restart.
* Configuration comes from ``CHURN_API_*`` environment variables
  (:class:`serving.api.settings.ServiceSettings`), validated once at start; an unknown
  ``CHURN_API_*`` variable is an error, not ignored.
* Start-up: before any worker starts, the settings, the tokens, the audit log
  and the bundle are checked and a warm-up prediction is made; any failure
  stops ``bentoml serve`` with a one-line message and a non-zero exit code.
  Each worker then loads the models, scores the latest feature snapshot and
  compiles the online feature query; ``/readyz`` answers 503 until that is done.
* Errors: a user error (:class:`features.errors.ChurnError`) is its HTTP
  status with its one-line message (a busy or broken score store: 503 with
  ``Retry-After``); anything else is a 500 with a generic message. Logs never
  hold user ids or feature values (:mod:`serving.api.redact`).
* Metrics: ``/metrics`` is the gate's, labelled by route template only
  (:mod:`serving.api.metrics`); BentoML's own, labelled by raw path, are off.
"""

from __future__ import annotations

import datetime as dt
import gc
import logging
import os
import sys
import threading

import bentoml
import pandas as pd
from bentoml.exceptions import BentoMLException

from features.errors import ChurnError
from features.labels import ACTIVATION, CHURN
from features.online import OnlineFeatures
from serving.api import schemas as M
from serving.api.audit import AuditLog
from serving.api.auth import CALLER_KEY, ApiGate
from serving.api.bundle import BundleRef, load_bundle, warm_up
from serving.api.docs import ServicePages
from serving.api.errors import NotFound, http_errors
from serving.api.frames import feature_frame, online_schemas, raw_frames, response_records, unique_ids
from serving.api.redact import install_redaction
from serving.api.scores import PublishedScores, ScoreTable, SnapshotScorer, snapshot_explainer
from serving.api.settings import MODEL_TAG_ENV, ServiceSettings
from serving.batch.scoring import PERCENTILE, finish_scores, score_rows
from serving.batch.snapshots import FeatureSnapshots
from serving.batch.store import ScoreStore
from serving.crm.lists import activation_list, at_risk_list, coupon_list
from serving.defaults import ACTIVATION_MODEL_URI, CHURN_MODEL_URI, DEFAULT_MODEL_TAG
from serving.models import LoadedModel, registry_name

ANONYMOUS = "anonymous"
log = logging.getLogger("churn.service")


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
# BentoML's own metrics label requests by raw path (unbounded); the gate counts by route instead (serving.api.metrics).
@bentoml.service(name="churn_service", workers=1, threads=4, traffic={"timeout": 60}, metrics={"enabled": False})
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
            warm_up(load_bundle(stored))
        except ChurnError as e:
            print(f"churn service: error: {e.message}", file=sys.stderr, flush=True)
            raise SystemExit(e.exit_code) from None

    def __init__(self) -> None:
        install_redaction()
        self.settings = ServiceSettings.from_env()
        self._tokens = self.settings.token_check()
        if self._tokens is None:
            log.warning("CHURN_API_ALLOW_NO_AUTH: serving WITHOUT authentication; every caller is %r", ANONYMOUS)
        self.audit = AuditLog(self.settings.audit_log)
        self.audit.check()
        stored = self.bundle
        self.bundle_tag = str(stored.tag)
        self.models = load_bundle(stored)
        warm_up(self.models)
        self.model_versions = {task: f"{m.name} v{m.version}" for task, m in self.models.items()}
        self.model_header = ", ".join(f"{m.name}={m.version}" for m in self.models.values())
        self.max_body_bytes = self.settings.max_body_bytes
        self.reports_dir = self.settings.reports_dir
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

    # The gate's view of the service (serving.api.auth.Gatekeeper) -----------------------------------
    def caller(self, authorization: str | None) -> str | None:
        return ANONYMOUS if self._tokens is None else self._tokens.caller(authorization)

    def ready(self) -> bool:
        return self._ready.is_set()

    def __is_ready__(self) -> bool:
        return self._ready.is_set()

    # Helpers -------------------------------------------------------------------------------------
    def _model(self, task: str) -> LoadedModel:
        if task not in self.models:
            raise NotFound(f"this service has no {task} model (none was registered when its bundle {self.bundle_tag} was imported)")
        return self.models[task]

    def _list_model_name(self, task: str) -> str:
        if task in self.models:
            return self.models[task].name
        return registry_name(CHURN_MODEL_URI if task == CHURN else ACTIVATION_MODEL_URI)

    def _scored(self, features: pd.DataFrame, loaded: LoadedModel, as_of: str) -> pd.DataFrame:
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
        rows = [row_model(**r) for r in response_records(page, row_model.model_fields)]
        return {**provenance, "generated_at": generated_at, "total": len(frame), "offset": request.offset, "limit": request.limit, "rows": rows}

    # Endpoints -----------------------------------------------------------------------------------
    @bentoml.api(route="/score_users")
    async def score_users(self, request: M.ScoreByIdRequest, /) -> M.ScoreResponse:
        """Scores of users by id, from the latest nightly feature snapshot; unknown ids are `not_found` items."""
        with http_errors():
            loaded = self._model(request.model)
            snapshot = self.scorers[request.model].latest()
            missing = f"not in the {loaded.name} feature snapshot of {snapshot.as_of}"
            items = self._items(request.user_ids, snapshot.table, missing)
            return M.ScoreResponse(model_name=loaded.name, model_version=loaded.version, as_of=snapshot.as_of.isoformat(), results=items)

    @bentoml.api(route="/score_features")
    def score_features(self, request: M.ScoreFeaturesRequest, /) -> M.ScoreResponse:
        """Scores of feature rows given in the request (the columns of `churn features`), at the request's as_of."""
        with http_errors():
            loaded = self._model(request.model)
            unique_ids([r.user_id for r in request.rows], "rows")
            scores = self._scored(feature_frame(request.rows, loaded), loaded, request.as_of)
            items = self._items([r.user_id for r in request.rows], ScoreTable(scores), "")
            return M.ScoreResponse(model_name=loaded.name, model_version=loaded.version, as_of=request.as_of, results=items)

    @bentoml.api(route="/score_raw")
    def score_raw(self, request: M.RawScoreRequest, /) -> M.ScoreResponse:  # type: ignore[valid-type]
        """Scores from users' raw recent rows: features at the request's as_of with the nightly job's definitions."""
        with http_errors():
            loaded = self._model(request.model)
            ids = [u.user_id for u in request.users]
            unique_ids(ids, "users")
            features = self.online.compute(raw_frames(request), request.as_of)
            scores = self._scored(features, loaded, request.as_of) if len(features) else None
            missing = f"no features as of {request.as_of} (signed up later)"
            items = self._items(ids, ScoreTable(scores) if scores is not None else None, missing)
            return M.ScoreResponse(model_name=loaded.name, model_version=loaded.version, as_of=request.as_of, results=items)

    @bentoml.api(route="/lists/at_risk")
    def at_risk(self, request: M.AtRiskRequest, /, ctx: bentoml.Context) -> M.AtRiskResponse:
        """The at-risk list (highest risk first), filtered and paged; every pull is audited."""
        with http_errors():
            name = self._list_model_name(CHURN)
            scores = self.published.scores(name, request.as_of)
            previous = self.published.scores(name, request.filters.new_since) if request.filters.new_since else None
            explain = snapshot_explainer(self.scorers.get(CHURN), scores)
            frame = at_risk_list(scores, request.filters, _now(), previous=previous, explain=explain)
            frame = frame.assign(**{c: None for c in M.AtRiskRow.model_fields if c not in frame.columns})  # new_since columns
            return M.AtRiskResponse(**self._page("lists/at_risk", request, frame, scores, M.AtRiskRow, ctx))

    @bentoml.api(route="/lists/coupons")
    def coupons(self, request: M.CouponListRequest, /, ctx: bentoml.Context) -> M.CouponListResponse:
        """The retention coupon campaign (budget, callbacks, seeded control group), paged; every pull is audited."""
        with http_errors():
            scores = self.published.scores(self._list_model_name(CHURN), request.as_of)
            frame = coupon_list(scores, request.policy, _now(), explain=snapshot_explainer(self.scorers.get(CHURN), scores))
            return M.CouponListResponse(**self._page("lists/coupons", request, frame, scores, M.CouponRow, ctx))

    @bentoml.api(route="/lists/activation")
    def activation(self, request: M.ActivationListRequest, /, ctx: bentoml.Context) -> M.ActivationListResponse:
        """The new-user activation campaign from the activation model's published scores, paged; audited."""
        with http_errors():
            scores = self.published.scores(self._list_model_name(ACTIVATION), request.as_of)
            frame = activation_list(scores, request.policy, _now())
            return M.ActivationListResponse(**self._page("lists/activation", request, frame, scores, M.ActivationRow, ctx))

    @bentoml.api(route="/model_info")
    async def model_info(self) -> M.ModelInfo:
        """The bundle and model versions this service started with, and the snapshot date it scores by id."""
        churn = self.scorers[CHURN].current
        return M.ModelInfo(bundle=self.bundle_tag, models=self.model_versions, as_of=churn.as_of.isoformat() if churn else None)


ChurnService.add_asgi_middleware(ApiGate, keeper=_current_service, routes=frozenset(api.route for api in ChurnService.apis.values()))
# Inside the gate: the docs (open) and the nightly dashboard pages (behind the token), see serving.api.docs.
ChurnService.add_asgi_middleware(
    ServicePages, openapi=lambda: ChurnService.openapi_spec.asdict(), reports_dir=lambda: getattr(_current_service(), "reports_dir", None)
)
