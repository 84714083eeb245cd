"""``churn train``: build snapshots, backtest the model against every baseline, gate it, record it in MLflow.

Training rows are (user, as_of) snapshots under the marketer's churn definition
(:class:`features.labels.ChurnDefinition`); nothing after ``as_of`` ("today") is
read and nothing is split at random. The most recent snapshot validates (the
activation model pools its latest weekly snapshots, for enough new users). A
rolling-origin backtest (:mod:`training.backtest`) fits the model and every
baseline (:mod:`training.candidates`) again at several past dates. The
promotion gate (:mod:`training.gate`) promotes the new version only when it
beats every baseline on the backtest mean, is calibrated, was validated on
enough users and beats the champion on the same rows; otherwise it is
registered and not promoted, and the report says why. When the champion
cannot score the validation rows, the challenger is registered unpromoted and
training stops with :class:`ChampionError`.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from mlflow import MlflowClient
from pydantic import BaseModel, ConfigDict, Field
from sklearn.metrics import roc_auc_score

from features.catalog import AS_OF, LABEL
from features.dataset import Dataset
from features.errors import ChurnError
from features.labels import ACTIVATION, ACTIVATION_HORIZON_DAYS, CHURN, ChurnDefinition, training_set
from training import candidates, registry
from training.backtest import make_folds, run_backtest, summarize
from training.estimator import ChurnClassifier
from training.evaluate import Reference, champion_metrics, evaluate
from training.gate import GateConfig, GateDecision, absolute_checks, decide
from training.metrics import ece_noise_floor
from training.record import record_run
from training.split import NotEnoughData, pooled_split

MODEL_NAMES = {CHURN: "churn", ACTIVATION: "activation"}
Progress = Callable[[str], None]

__all__ = ["MODEL_NAMES", "ChampionError", "NotEnoughData", "Reference", "TaskResult", "TrainConfig", "TrainResult", "train", "train_task"]


class ChampionError(ChurnError):
    """The champion could not score the validation rows: nothing can be compared, nothing is promoted."""

    exit_code = 5
    http_status = 500


class TrainConfig(BaseModel):
    """Everything ``churn train`` needs; validated once and logged as MLflow parameters."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    as_of: dt.date
    definition: ChurnDefinition = ChurnDefinition()
    snapshots: int = Field(6, ge=2, le=60, description="churn snapshots in all, the most recent one validates")
    every_days: int = Field(30, ge=1, le=365)
    backtest_dates: int = Field(4, ge=1, le=24, description="past dates the backtest validates on (fewer when snapshots allow fewer)")
    activation_snapshots: int = Field(16, ge=3, le=104, description="weekly activation snapshots")
    activation_pool: int = Field(4, ge=1, le=12, description="latest weekly activation snapshots validated together")
    experiment: str = "churn"
    metric: str = Field("roc_auc", pattern="^(roc_auc|pr_auc)$")
    min_class_rows: int = Field(200, ge=1)
    seed: int = 0
    learning_rate: float = Field(0.05, gt=0, le=1)
    num_leaves: int = Field(31, ge=2, le=1024)
    max_rounds: int = Field(2000, ge=10)
    activation: bool = True
    gate: GateConfig = GateConfig()

    @property
    def horizon_days(self) -> int:
        """The churn label window (the definition's horizon)."""
        return self.definition.horizon_days


@dataclass
class TaskResult:
    task: str
    run_id: str
    version: str
    metrics: dict[str, float]
    baselines: dict[str, dict[str, float]]
    champion_metrics: dict[str, float] | None
    decision: GateDecision
    validation_date: dt.date
    truth: dict[str, float] = field(default_factory=dict)
    backtest: pd.DataFrame = field(default_factory=pd.DataFrame)
    summary: pd.DataFrame = field(default_factory=pd.DataFrame)


@dataclass
class TrainResult:
    results: list[TaskResult]
    skipped: list[str]


def _horizon(config: TrainConfig, task: str) -> int:
    return config.horizon_days if task == CHURN else ACTIVATION_HORIZON_DAYS


def _snapshots(tables: Mapping, config: TrainConfig, task: str, progress: Progress) -> pd.DataFrame:
    count, every = (config.snapshots, config.every_days) if task == CHURN else (config.activation_snapshots, 7)
    progress(f"{task}: building {count} snapshots {every} days apart")
    return training_set(
        tables, config.as_of, task=task, snapshots=count, every_days=every, definition=config.definition,
        on_snapshot=lambda date: progress(f"{task}: snapshot {date}"),
    )  # fmt: skip


def make_model(config: TrainConfig, task: str) -> Callable[[], ChurnClassifier]:
    """A builder of the unfitted classifier ``config`` describes (the backtest fits one per date)."""

    def build() -> ChurnClassifier:
        return ChurnClassifier(
            learning_rate=config.learning_rate, num_leaves=config.num_leaves, max_rounds=config.max_rounds, seed=config.seed,
            horizon_days=float(_horizon(config, task)), bgnbd=task == CHURN,
        )  # fmt: skip

    return build


def _backtest(frame: pd.DataFrame, config: TrainConfig, task: str, progress: Progress) -> pd.DataFrame:
    """Every candidate on as many of the last ``backtest_dates`` dates as the snapshots allow (at least the latest one)."""
    build = make_model(config, task)
    dates = sorted(frame[AS_OF].unique())
    horizon = _horizon(config, task)
    trainable = [d for d in dates if sum(e + dt.timedelta(days=horizon) <= d for e in dates) >= 1]
    folds = make_folds(dates, horizon, min(config.backtest_dates, len(trainable)), min_train_snapshots=1)
    if task == CHURN:
        pool = candidates.churn_candidates(build, config.definition, frame, config.seed)
    else:
        pool = candidates.activation_candidates(build, frame, config.seed)
    return run_backtest(frame, folds, pool, progress=lambda message: progress(f"{task}: {message}"))


def _champion(name: str, valid: pd.DataFrame, task: str, progress: Progress) -> tuple[str | None, dict | None]:
    """The champion's version and its metrics on the validation rows; (None, None) when there is none yet."""
    version = registry.alias_version(MlflowClient(), name, registry.CHAMPION)
    if version is None:
        return None, None
    progress(f"{task}: scoring champion version {version} on the same rows")
    return version, champion_metrics(name, version, valid)


def _gate(config: TrainConfig, model: ChurnClassifier, valid: pd.DataFrame, metrics: dict, summary: pd.DataFrame, champion: tuple) -> GateDecision:
    means = summary[summary["metric"] == config.metric].set_index("candidate")["mean"].to_dict()
    y = valid[LABEL].to_numpy()
    p = model.predict_proba(valid)[:, 1]
    positives = int(y.sum())
    checks = absolute_checks(
        config.gate.model_copy(update={"metric": config.metric}),
        backtest_means=means, model=candidates.MODEL, ece=metrics["ece"], ece_floor=ece_noise_floor(p),
        validation_rows=len(valid), validation_positives=positives, validation_negatives=len(valid) - positives,
        auc_before_calibration=float(roc_auc_score(y, model.raw_score(valid))), auc_after_calibration=metrics["roc_auc"],
    )  # fmt: skip
    version, scored = champion
    if scored and "error" in scored:
        reason = f"not promoted: champion v{version} could not score the validation rows ({scored['error']}); training stopped"
        return GateDecision(False, reason, tuple(checks))
    return decide(checks, challenger=metrics[config.metric], champion=(scored or {}).get(config.metric), champion_version=version, metric=config.metric)


def train_task(
    dataset: Dataset,
    tables: Mapping,
    config: TrainConfig,
    task: str,
    progress: Progress = lambda message: None,
    reference: Reference | None = None,
) -> TaskResult:
    """Train, backtest, gate and register the model of ``task``; see the module docstring.

    reference: probabilities to compare the churn model with (see :func:`train`).
    Raises NotEnoughData, and ChampionError (after registering the challenger unpromoted).
    """
    frame = _snapshots(tables, config, task, progress)
    pool = 1 if task == CHURN else config.activation_pool
    train, valid, validation_date = pooled_split(frame, task, config.min_class_rows, pool=pool, horizon_days=_horizon(config, task))
    progress(f"{task}: fitting on {len(train):,} rows")
    model = make_model(config, task)().fit(train, train[LABEL], groups=train[AS_OF])
    backtest = _backtest(frame, config, task, progress)
    summary = summarize(backtest)
    evaluation = evaluate(model, train, valid, seed=config.seed, reference=reference if task == CHURN else None)
    name = MODEL_NAMES[task]
    champion = _champion(name, valid, task, progress)
    decision = _gate(config, model, valid, evaluation.metrics, summary, champion)
    progress(f"{task}: logging to MLflow")
    run = record_run(
        task=task, name=name, config=config, dataset=dataset, model=model, train=train, valid=valid,
        validation_date=validation_date, evaluation=evaluation, champion=champion, decision=decision,
        backtest=backtest, summary=summary, definition=config.definition if task == CHURN else None,
    )  # fmt: skip
    if champion[1] and "error" in champion[1]:
        raise ChampionError(
            f"{name}: champion v{champion[0]} could not score the validation rows ({champion[1]['error']}); "
            f"challenger v{run.version} registered, not promoted; fix or roll back the champion and train again"
        )
    return TaskResult(
        task, run.run_id, run.version, evaluation.metrics, evaluation.baselines, champion[1], decision, validation_date,
        evaluation.truth, backtest, summary,
    )  # fmt: skip


def train(
    dataset: Dataset, config: TrainConfig, progress: Progress = lambda message: None, *, reference: Reference | None = None
) -> TrainResult:
    """Train the churn model, and the activation model when its population is large enough.

    reference: optional source of reference probabilities, ``reference(as_of)`` -> a frame of
    ``user_id`` and ``p_churn`` for the validation date, or None. On simulated data the caller
    passes the simulator's ground truth (:func:`features.simulator.ground_truth.churn_truth`
    bound to the dataset's folder and the horizon); the run then records how close the model
    comes to the best possible one.
    """
    tables = {name: dataset.table(name) for name in dataset.tables}
    results = [train_task(dataset, tables, config, CHURN, progress, reference)]
    skipped: list[str] = []
    if config.activation:
        try:
            results.append(train_task(dataset, tables, config, ACTIVATION, progress))
        except NotEnoughData as e:
            skipped.append(f"activation model skipped: {e.message}")
    return TrainResult(results, skipped)


def backtest_margins(summary: pd.DataFrame, metric: str = "roc_auc") -> dict[str, float]:
    """Mean ``metric`` of the model minus each baseline's, over the backtest dates."""
    means = summary[summary["metric"] == metric].set_index("candidate")["mean"]
    return {c: float(means[candidates.MODEL] - v) for c, v in means.items() if c != candidates.MODEL and np.isfinite(v)}
