"""The nightly scoring job: validate, build features, score, check, publish.

For each model (churn on the churn population; activation on the new users who
have not ordered, when an activation model is registered) the job computes the
features at ``as_of``, scores them, and runs the checks. Only when every check
of every model passes does it publish anything: the feature snapshots (for the
API), then each model's scores in one transaction (see :mod:`serving.batch.store`),
then the optional Parquet export. A failed check publishes nothing.

Before any work the score store must be usable (exit 5 busy, 6 broken or
unreachable), the export path writable, the dataset must follow the data
contract (exit 2) and ``as_of`` must lie within the data's dates (exit 2,
:func:`features.asof.check_as_of`): no flag publishes scores computed from
data that ends before ``as_of``.

A model whose population is empty at ``as_of`` (a night without new users) is
not scored and nothing is published for it; the summary line says so. When
every population is empty nothing is published at all (NothingPublished, exit 7).
Every model of the night is published in one transaction.

Checks (:mod:`serving.batch.checks`; stored with the run, in the store's runs table):
* the dataset follows the data contract (exit 2, before anything else);
* row count: the scored users did not drop by more than ``max_drop`` (default
  20 %) against the previous published run of the same model (exit 4);
* drift: the population stability index of every feature and of the score
  against the model's training rows (:mod:`training.drift`); over ``psi_warn``
  (0.1) warns, over ``psi_fail`` (0.25) fails (exit 4) unless ``allow_drift``.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

import pandas as pd
from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from features.asof import as_of_date, check_as_of, parse_as_of
from features.build import compute_features
from features.catalog import USER_ID
from features.errors import ChurnError
from features.files import check_destination, write_frame
from features.labels import ACTIVATION, CHURN, ORDERS_ONLY, activation_population, churn_population
from features.validation import load_dataset
from serving.batch.bands import BandCutoffs
from serving.batch.checks import ALLOWED, FAIL, WARN, drift_check, row_count_check
from serving.batch.scoring import BAND, NIGHTLY_EXPLAIN_SHARE, PROBABILITY, finish_scores, score_rows
from serving.batch.snapshots import FeatureSnapshots
from serving.batch.store import ScoreStore
from serving.defaults import ACTIVATION_MODEL_URI, CHURN_MODEL_URI, DEFAULT_FEATURES_DIR, DEFAULT_STORE
from serving.errors import NothingPublished
from serving.models import LoadedModel, load_registered
from training.registry import RegistryError

DEFAULT_MODELS = {CHURN: CHURN_MODEL_URI, ACTIVATION: ACTIVATION_MODEL_URI}
POPULATIONS = {CHURN: churn_population, ACTIVATION: activation_population}
# Features whose distribution moves with the calendar, not with the users: customer tenure grows
# with the platform's age, and the days since the last coupon follow the campaign calendar.
# Their PSI is computed and stored with the run, but does not warn or fail.
DRIFT_IGNORED = ("days_since_first_order", "days_since_last_coupon")


class CheckFailed(ChurnError):
    """A pre-publication check failed: nothing was published."""

    exit_code = 4
    http_status = 409


class NightlyConfig(BaseModel):
    """Everything one nightly run needs; validated once by the CLI (or a test) and passed down."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    data: Path
    as_of: str = Field(description="score as of the end of this day (UTC), or an exact timestamp")
    store: str = DEFAULT_STORE
    features_dir: Path = DEFAULT_FEATURES_DIR
    churn_model: str = DEFAULT_MODELS[CHURN]
    activation_model: str | None = Field(DEFAULT_MODELS[ACTIVATION], description="None: do not score new users")
    engine: Literal["duckdb", "spark"] = "duckdb"
    cutoffs: BandCutoffs = BandCutoffs()
    max_drop: float = Field(0.2, ge=0, le=1)
    psi_warn: float = Field(0.1, gt=0)
    psi_fail: float = Field(0.25, gt=0)
    allow_drift: bool = False
    drift_ignore: tuple[str, ...] = DRIFT_IGNORED
    export: Path | None = Field(None, description="also write the published scores to this Parquet file")

    @field_validator("as_of")
    @classmethod
    def _parses(cls, value: str) -> str:
        parse_as_of(value)
        return value

    @model_validator(mode="after")
    def _ordered(self) -> NightlyConfig:
        if not self.psi_warn < self.psi_fail:
            raise ValueError(f"psi_warn {self.psi_warn} must be below psi_fail {self.psi_fail}")
        if self.export is not None and self.export.suffix != ".parquet":
            raise ValueError(f"export {self.export}: expected a .parquet file")
        return self


@dataclass(frozen=True)
class ModelRun:
    """One model's scores at the date, and its checks."""

    task: str
    model: LoadedModel
    features: pd.DataFrame
    scores: pd.DataFrame
    checks: dict

    @property
    def failed(self) -> list[str]:
        return [c["message"] for c in self.checks.values() if isinstance(c, dict) and c.get("status") == FAIL]


@dataclass(frozen=True)
class NightlySummary:
    as_of: dt.date
    runs: list[ModelRun]
    notes: list[str] = field(default_factory=list)

    def line(self) -> str:
        """One line for the log: what was scored, how many high risk, any warnings."""
        parts = []
        for run in self.runs:
            high = int((run.scores[BAND] == "high").sum())
            parts.append(f"{run.task} v{run.model.version}: {len(run.scores):,} users ({high:,} high)")
        warnings = [c["message"] for run in self.runs for c in run.checks.values() if c.get("status") in (WARN, ALLOWED)]
        said = "; ".join(parts + self.notes + [f"warning: {w}" for w in warnings])
        return f"as of {self.as_of}: {said}"


def _load_models(config: NightlyConfig, notes: list[str]) -> dict[str, LoadedModel]:
    models = {CHURN: load_registered(config.churn_model)}
    if config.activation_model:
        try:
            models[ACTIVATION] = load_registered(config.activation_model)
        except RegistryError:
            if config.activation_model != DEFAULT_MODELS[ACTIVATION]:
                raise  # asked for by name: its absence is an error
            notes.append(f"no activation model at {config.activation_model}: new users not scored")
    return models


def contract_tables(dataset, engine: str) -> dict:
    """The dataset's contract tables on ``engine`` ("duckdb", or "spark": a local session reading the same files)."""
    if engine == "duckdb":
        return {name: dataset.table(name) for name in dataset.tables}
    from features.spark import local_session, spark_tables

    return spark_tables(dataset, local_session())


def _features_and_rows(tables: dict, config: NightlyConfig, task: str, model: LoadedModel) -> tuple[pd.DataFrame, pd.DataFrame | None]:
    """The population's features and score rows; rows None when the population is empty (nothing to score)."""
    if task == CHURN:  # the population the model was trained for (saved before definitions: every recent buyer, as then)
        population = churn_population(tables, config.as_of, model.definition or ORDERS_ONLY)
    else:
        population = POPULATIONS[task](tables, config.as_of)
    features = compute_features(tables, config.as_of, users=population)
    if not len(features):
        return features, None
    if config.engine == "duckdb":
        return features, score_rows(features, model.model, cutoffs=config.cutoffs, explain_share=NIGHTLY_EXPLAIN_SHARE)
    from serving.batch.spark_scoring import spark_score_rows

    return features, spark_score_rows(tables, config.as_of, population, model.model, cutoffs=config.cutoffs, explain_share=NIGHTLY_EXPLAIN_SHARE)


def run_nightly(
    config: NightlyConfig,
    *,
    scored_at: dt.datetime,
    progress: Callable[[str], None] = lambda message: None,
) -> NightlySummary:
    """Score the churn (and activation) population at ``config.as_of``; publish only if every check passes.

    scored_at: when the job runs (recorded with the scores, never used in a computation).
    Raises CheckFailed (exit 4) naming the failed checks; nothing is written then.
    """
    store = ScoreStore(config.store)
    store.check()  # before any work: a broken or unreachable store must not surface after it
    day = as_of_date(config.as_of)
    if config.export is not None:
        check_destination(config.export)  # before any work: a bad path must not surface after publishing
    progress(f"validating {config.data}")
    dataset = load_dataset(config.data)
    check_as_of(dataset, config.as_of)
    notes: list[str] = []
    progress("loading models")
    models = _load_models(config, notes)
    tables = contract_tables(dataset, config.engine)
    runs: list[ModelRun] = []
    for task, loaded in models.items():
        progress(f"{task}: features and scores as of {day} ({config.engine})")
        features, rows = _features_and_rows(tables, config, task, loaded)
        if rows is None:
            notes.append(f"{task}: no users to score as of {day}, nothing published for {loaded.name}")
            continue
        scores = finish_scores(
            rows, as_of=config.as_of, model_name=loaded.name, model_version=loaded.version, scored_at=scored_at, cutoffs=config.cutoffs
        )
        previous_runs = store.runs(loaded.name)
        earlier = previous_runs[pd.to_datetime(previous_runs["as_of"]).dt.date != day]
        previous = int(earlier["rows"].iloc[0]) if len(earlier) else None
        score = rows.set_index(USER_ID)[PROBABILITY].reindex(features[USER_ID]).to_numpy()
        checks = {
            "row_count": row_count_check(len(scores), previous, config.max_drop),
            "drift": drift_check(loaded, features, score, psi_warn=config.psi_warn, psi_fail=config.psi_fail,
                                 allow_drift=config.allow_drift, ignore=config.drift_ignore),  # fmt: skip
        }
        runs.append(ModelRun(task, loaded, features, scores, checks))
    failed = [message for run in runs for message in run.failed]
    if failed:
        hint = " (--allow-drift publishes despite drift)" if any("stability" in m for m in failed) else ""
        raise CheckFailed(f"check failed: {'; '.join(failed)}; nothing published{hint}")
    if not runs:
        raise NothingPublished(f"as of {day}: {'; '.join(notes)}; nothing published")
    progress("publishing")
    snapshots = FeatureSnapshots(config.features_dir)
    for run in runs:
        snapshots.write(run.model.name, day, run.features)
    store.publish_night([(run.scores, run.checks) for run in runs])
    if config.export is not None:
        write_frame(pd.concat([run.scores for run in runs], ignore_index=True), config.export)
    return NightlySummary(day, runs, notes)
