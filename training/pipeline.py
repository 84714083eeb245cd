"""``churn train``: build snapshots, fit, evaluate against baselines and the champion, log to MLflow.

Training rows are (user, as_of) snapshots ending at the last date whose label
window is complete by ``as_of`` ("today"); the most recent snapshot is the
out-of-time validation set, the earlier ones train. Nothing after "today" is
read. No random split anywhere.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import subprocess
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import mlflow
import numpy as np
import pandas as pd
from mlflow import MlflowClient
from pydantic import BaseModel, ConfigDict, Field

from features.catalog import AS_OF, LABEL, USER_ID
from features.dataset import Dataset
from features.errors import ChurnError
from features.labels import ACTIVATION, CHURN, DEFAULT_HORIZON_DAYS, DEFAULT_LOOKBACK_DAYS, training_set
from training import baselines, plots, registry
from training.estimator import ChurnClassifier
from training.metrics import binary_metrics, segment_metrics

MODEL_NAMES = {CHURN: "churn", ACTIVATION: "activation"}
NEW_CUSTOMER_DAYS = 90


class NotEnoughData(ChurnError):
    """Too few positive or negative examples to train or validate."""

    exit_code = 2
    http_status = 422


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


def data_fingerprint(dataset: Dataset) -> str:
    """SHA-256 over the dataset's files (names and contents)."""
    digest = hashlib.sha256()
    for name in dataset.tables:
        path = Path(dataset.files[name].split(":")[0]) if dataset.formats.get(name) == "duckdb" else Path(dataset.files[name])
        digest.update(name.encode())
        with open(path, "rb") as handle:
            for block in iter(lambda: handle.read(1 << 20), b""):
                digest.update(block)
    return digest.hexdigest()[:16]


def code_version() -> str:
    """The git commit of the code, or the package version outside a checkout."""
    try:
        rev = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True, check=True, cwd=Path(__file__).parent)
        return rev.stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        from importlib.metadata import version

        return version("churn-retention")


def _check_counts(frame: pd.DataFrame, what: str, minimum: int) -> None:
    positives = int(frame[LABEL].sum())
    negatives = int(len(frame) - positives)
    if positives < minimum or negatives < minimum:
        raise NotEnoughData(
            f"{what}: {positives} positive and {negatives} negative examples; at least {minimum} of each are needed "
            "(use more users, more --snapshots, or a later --as-of)"
        )


def _segments(frame: pd.DataFrame) -> dict[str, pd.Series]:
    out = {}
    for column in ("member_tier", "city_tier"):
        if column in frame.columns:
            out[column] = frame[column]
    if "days_since_first_order" in frame.columns:
        tenure = frame["days_since_first_order"]
        out["customer"] = np.where(tenure.isna(), "no purchase", np.where(tenure < NEW_CUSTOMER_DAYS, "new", "long-standing"))
    return out


def truth_metrics(dataset: Dataset, valid: pd.DataFrame, p: np.ndarray) -> dict[str, float]:
    """Model vs the simulator's true probabilities on the same users and date, when the dataset has them."""
    from features.simulator.run import AS_OF as TRUTH_AS_OF
    from features.simulator.run import P_CHURN, TRUTH_CHURN, TRUTH_DIR

    path = Path(dataset.path) / TRUTH_DIR / f"{TRUTH_CHURN}.parquet"
    if not path.exists():
        return {}
    date = valid[AS_OF].iloc[0]
    truth = pd.read_parquet(path, filters=[(TRUTH_AS_OF, "=", date)])
    if truth.empty:
        return {}
    joined = valid[[USER_ID, LABEL]].assign(p=p).merge(truth[[USER_ID, P_CHURN]], on=USER_ID, how="inner")
    if len(joined) < len(valid) * 0.99:
        return {}
    best = binary_metrics(joined[LABEL], joined[P_CHURN])
    model = binary_metrics(joined[LABEL], joined["p"])
    return {
        "truth_roc_auc": best["roc_auc"],
        "model_roc_auc": model["roc_auc"],
        "auc_ratio_to_truth": model["roc_auc"] / best["roc_auc"],
        "truth_ece": best["ece"],
    }


def train_task(
    dataset: Dataset,
    tables: dict,
    config: TrainConfig,
    task: str,
    progress: Callable[[str], None] = lambda message: None,
) -> TaskResult:
    """Train, evaluate and register the model of ``task``; see the module docstring."""
    horizon = config.horizon_days if task == CHURN else None
    progress(f"{task}: building {config.snapshots} snapshots")
    frame = training_set(
        tables,
        config.as_of,
        task=task,
        snapshots=config.snapshots,
        every_days=config.every_days,
        horizon_days=horizon,
        lookback_days=config.lookback_days,
        on_snapshot=lambda date: progress(f"{task}: snapshot {date}"),
    )
    validation_date = frame[AS_OF].max()
    train = frame[frame[AS_OF] < validation_date].reset_index(drop=True)
    valid = frame[frame[AS_OF] == validation_date].reset_index(drop=True)
    _check_counts(train, f"{task} training snapshots", config.min_class_rows)
    _check_counts(valid, f"{task} validation snapshot {validation_date}", max(20, config.min_class_rows // 10))

    progress(f"{task}: fitting on {len(train):,} rows")
    model = ChurnClassifier(
        learning_rate=config.learning_rate, num_leaves=config.num_leaves, max_rounds=config.max_rounds, seed=config.seed
    ).fit(train, train[LABEL], groups=train[AS_OF])
    y = valid[LABEL].to_numpy()
    p = model.predict_proba(valid)[:, 1]
    metrics = binary_metrics(y, p)
    progress(f"{task}: baselines")
    recency = baselines.recency_score(valid)
    logistic = baselines.logistic_score(baselines.logistic_baseline(train, train[LABEL].to_numpy(), config.seed), valid)
    base = {"recency": binary_metrics(y, recency, probabilities=False), "logistic": binary_metrics(y, logistic)}
    segments = segment_metrics(y, p, _segments(valid))
    truth = truth_metrics(dataset, valid, p) if task == CHURN else {}

    name = MODEL_NAMES[task]
    client = MlflowClient()
    champion = registry.alias_version(client, name, registry.CHAMPION)  # None when there is no model yet
    champion_metrics = None
    if champion is not None:
        progress(f"{task}: scoring champion version {champion} on the same rows")
        try:
            champion_p = np.asarray(registry.load_version(name, champion).predict(registry.as_strings(valid)), dtype=float)
            champion_metrics = binary_metrics(y, champion_p)
        except Exception as e:  # an incompatible champion (other features) cannot be compared
            champion_metrics = {"error": str(e).splitlines()[0][:200]}

    progress(f"{task}: logging to MLflow")
    from training import tracking

    with mlflow.start_run(experiment_id=tracking.experiment_id(config.experiment), run_name=f"{task}-{config.as_of}") as run:
        mlflow.log_params({f"config.{k}": v for k, v in config.model_dump(mode="json").items()})
        mlflow.log_params(
            {
                "task": task,
                "train_dates": ",".join(str(d) for d in sorted(train[AS_OF].unique())),
                "validation_date": str(validation_date),
                "features": len(model.features_),
                "data_fingerprint": data_fingerprint(dataset),
                "code_version": code_version(),
                "best_iteration": model.best_iteration_,
                "train_rows": len(train),
                "validation_rows": len(valid),
            }
        )
        mlflow.log_dict({"features": model.features_, "categories": model.categories_}, "features.json")
        mlflow.log_metrics(_flat("valid", metrics))
        for b, m in base.items():
            mlflow.log_metrics(_flat(f"baseline_{b}", m))
        for seg, m in segments.items():
            mlflow.log_metrics(_flat(f"segment.{_safe(seg.replace('=', '.'))}", m))
        if truth:
            mlflow.log_metrics(truth)
        if champion_metrics and "error" not in champion_metrics:
            mlflow.log_metrics(_flat("champion", champion_metrics))
        with tempfile.TemporaryDirectory() as tmp:
            out = Path(tmp)
            contrib = model.contributions(valid.head(2000))
            pictures = {
                "calibration": plots.calibration_plot(y, p, out / "calibration.png"),
                "gain_lift": plots.gain_and_lift_plot(y, {"model": p, "logistic regression": logistic, "days since last order": recency}, out / "gain_lift.png"),
                "importance": plots.importance_plot(model.feature_importance(), out / "importance.png"),
                "contributions": plots.contribution_summary_plot(contrib, valid.head(2000), out / "contributions.png"),
            }
            for picture in pictures.values():
                mlflow.log_artifact(str(picture), "plots")
            version = registry.log_model(model, train, name)
            client.set_registered_model_alias(name, registry.CHALLENGER, version)
            champion_score = champion_metrics.get(config.metric) if champion_metrics and "error" not in champion_metrics else None
            decision = registry.decide(metrics[config.metric], champion_score, config.metric)
            if champion_metrics and "error" in champion_metrics:
                decision = registry.Decision(True, f"champion version {champion} could not score these rows ({champion_metrics['error']}); challenger promoted")
            if decision.promoted:
                registry.set_champion(client, name, version)
            mlflow.set_tags({"promotion": decision.reason, "model_version": version, "model_name": name})
            from training.report import write_report

            report = write_report(
                out / "report.html",
                task=task,
                run_id=run.info.run_id,
                version=version,
                config=config,
                validation_date=validation_date,
                metrics=metrics,
                baselines=base,
                champion=(champion, champion_metrics),
                decision=decision,
                segments=segments,
                truth=truth,
                pictures=pictures,
                rows=(len(train), len(valid)),
            )
            mlflow.log_artifact(str(report))
    return TaskResult(task, run.info.run_id, version, metrics, base, champion_metrics, decision, validation_date, truth)


def _safe(name: str) -> str:
    return "".join(ch if ch.isalnum() or ch in "._-" else "_" for ch in name)


def _flat(prefix: str, metrics: dict[str, float]) -> dict[str, float]:
    return {f"{prefix}.{k}": float(v) for k, v in metrics.items() if isinstance(v, (int, float)) and np.isfinite(v)}


def train(dataset: Dataset, config: TrainConfig, progress: Callable[[str], None] = lambda message: None) -> TrainResult:
    """Train the churn model, and the activation model when its population is large enough."""
    tables = {name: dataset.table(name) for name in dataset.tables}
    results = [train_task(dataset, tables, config, CHURN, progress)]
    skipped: list[str] = []
    if config.activation:
        try:
            results.append(train_task(dataset, tables, config, ACTIVATION, progress))
        except NotEnoughData as e:
            skipped.append(f"activation model skipped: {e.message}")
    return TrainResult(results, skipped)
