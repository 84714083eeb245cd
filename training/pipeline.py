"""``churn train``: build snapshots, fit, evaluate against baselines and the champion, record in MLflow.

Training rows are (user, as_of) snapshots ending at the last date whose label
window is complete by ``as_of`` ("today"); the most recent snapshot is the
out-of-time validation set, the earlier ones train. Nothing after "today" is
read. No random split anywhere.

This module only wires the steps together: snapshots (:mod:`features.labels`,
:mod:`training.split`), the fit (:mod:`training.estimator`), the evaluation
(:mod:`training.evaluate`) and the MLflow run (:mod:`training.record`).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

import pandas as pd
from mlflow import MlflowClient
from pydantic import BaseModel, ConfigDict, Field

from features.catalog import AS_OF, LABEL
from features.dataset import Dataset
from features.labels import ACTIVATION, CHURN, DEFAULT_HORIZON_DAYS, DEFAULT_LOOKBACK_DAYS, training_set
from training import registry
from training.estimator import ChurnClassifier
from training.evaluate import Reference, champion_metrics, evaluate
from training.record import record_run
from training.split import NotEnoughData, out_of_time_split

MODEL_NAMES = {CHURN: "churn", ACTIVATION: "activation"}
Progress = Callable[[str], None]

__all__ = ["MODEL_NAMES", "NotEnoughData", "Reference", "TaskResult", "TrainConfig", "TrainResult", "train", "train_task"]


class TrainConfig(BaseModel):
    """Everything ``churn train`` needs; validated once and logged as MLflow parameters."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    as_of: dt.date
    horizon_days: int = Field(DEFAULT_HORIZON_DAYS, ge=1, le=365)
    snapshots: int = Field(6, ge=2, le=60, description="snapshots in all, the most recent one validates")
    every_days: int = Field(30, ge=1, le=365)
    lookback_days: int = Field(DEFAULT_LOOKBACK_DAYS, ge=1, le=3650)
    experiment: str = "churn"
    metric: str = Field("roc_auc", pattern="^(roc_auc|pr_auc)$")
    min_class_rows: int = Field(200, ge=1)
    seed: int = 0
    learning_rate: float = Field(0.05, gt=0, le=1)
    num_leaves: int = Field(31, ge=2, le=1024)
    max_rounds: int = Field(2000, ge=10)
    activation: bool = True


@dataclass
class TaskResult:
    task: str
    run_id: str
    version: str
    metrics: dict[str, float]
    baselines: dict[str, dict[str, float]]
    champion_metrics: dict[str, float] | None
    decision: registry.Decision
    validation_date: dt.date
    truth: dict[str, float] = field(default_factory=dict)


@dataclass
class TrainResult:
    results: list[TaskResult]
    skipped: list[str]


def _snapshots(tables: Mapping, config: TrainConfig, task: str, progress: Progress) -> tuple[pd.DataFrame, pd.DataFrame, dt.date]:
    progress(f"{task}: building {config.snapshots} snapshots")
    frame = training_set(
        tables,
        config.as_of,
        task=task,
        snapshots=config.snapshots,
        every_days=config.every_days,
        horizon_days=config.horizon_days if task == CHURN else None,
        lookback_days=config.lookback_days,
        on_snapshot=lambda date: progress(f"{task}: snapshot {date}"),
    )
    return out_of_time_split(frame, task, config.min_class_rows)


def _fit(train: pd.DataFrame, config: TrainConfig) -> ChurnClassifier:
    model = ChurnClassifier(learning_rate=config.learning_rate, num_leaves=config.num_leaves, max_rounds=config.max_rounds, seed=config.seed)
    return model.fit(train, train[LABEL], groups=train[AS_OF])


def _champion(name: str, valid: pd.DataFrame, task: str, progress: Progress) -> tuple[str | None, dict | None]:
    """The champion's version and its metrics on the validation rows; (None, None) when there is none yet."""
    version = registry.alias_version(MlflowClient(), name, registry.CHAMPION)
    if version is None:
        return None, None
    progress(f"{task}: scoring champion version {version} on the same rows")
    return version, champion_metrics(name, version, valid)


def train_task(
    dataset: Dataset,
    tables: Mapping,
    config: TrainConfig,
    task: str,
    progress: Progress = lambda message: None,
    reference: Reference | None = None,
) -> TaskResult:
    """Train, evaluate and register the model of ``task``; see the module docstring.

    reference: probabilities to compare the churn model with (see :func:`train`).
    """
    train, valid, validation_date = _snapshots(tables, config, task, progress)
    progress(f"{task}: fitting on {len(train):,} rows")
    model = _fit(train, config)
    progress(f"{task}: baselines")
    evaluation = evaluate(model, train, valid, seed=config.seed, reference=reference if task == CHURN else None)
    name = MODEL_NAMES[task]
    champion = _champion(name, valid, task, progress)
    progress(f"{task}: logging to MLflow")
    run = record_run(
        task=task, name=name, config=config, dataset=dataset, model=model, train=train, valid=valid,
        validation_date=validation_date, evaluation=evaluation, champion=champion,
    )  # fmt: skip
    return TaskResult(
        task, run.run_id, run.version, evaluation.metrics, evaluation.baselines, champion[1], run.decision, validation_date, evaluation.truth
    )


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
