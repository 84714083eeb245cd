"""One training run in MLflow: settings, provenance, metrics, plots, the registered model, the promotion, the report.

:func:`record_run` starts and ends its own MLflow run; during training it is the
only code that writes to the tracking store or the registry.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

import mlflow
import numpy as np
import pandas as pd
from mlflow import MlflowClient
from pydantic import BaseModel

from features.catalog import AS_OF
from features.dataset import Dataset
from training import plots, registry, tracking
from training.estimator import ChurnClassifier
from training.evaluate import Evaluation
from training.gate import GateDecision, quality_grade
from training.report import write_report

CONTRIBUTION_ROWS = 2000  # validation rows whose contributions are summarised in the plots


@dataclass(frozen=True)
class RecordedRun:
    run_id: str
    version: str
    decision: GateDecision


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


def record_run(
    *,
    task: str,
    name: str,
    config: BaseModel,
    dataset: Dataset,
    model: ChurnClassifier,
    train: pd.DataFrame,
    valid: pd.DataFrame,
    validation_date: dt.date,
    evaluation: Evaluation,
    champion: tuple[str | None, dict | None],
    decision: GateDecision,
    backtest: pd.DataFrame,
    summary: pd.DataFrame,
    definition=None,
) -> RecordedRun:
    """Log the run, register the model as ``name``'s challenger, promote it when ``decision`` says so, attach the report.

    config: the validated training config (its fields become ``config.*`` parameters; it has
    ``as_of``, ``experiment`` and ``metric``). champion: the current champion's version and its
    metrics on ``valid`` (``{"error": ...}`` when it could not score them), or (None, None).
    decision: the promotion gate's (:mod:`training.gate`); backtest, summary: per-date metrics of
    every candidate and their mean and spread (:mod:`training.backtest`); definition: the churn
    definition saved beside the model as task.json (None for activation).
    """
    client = MlflowClient()
    with mlflow.start_run(experiment_id=tracking.experiment_id(config.experiment), run_name=f"{task}-{config.as_of}") as run:
        _log_evaluation(config, task, dataset, model, train, valid, validation_date, evaluation, champion[1])
        _log_backtest(backtest, summary, decision)
        with tempfile.TemporaryDirectory() as tmp:
            pictures = _log_plots(model, valid, evaluation, Path(tmp))
            pictures["backtest"] = plots.backtest_plot(backtest, Path(tmp) / "backtest.png")
            mlflow.log_artifact(str(pictures["backtest"]), "plots")
            version = registry.log_model(model, train, name, definition=definition)
            client.set_registered_model_alias(name, registry.CHALLENGER, version)
            if decision.promoted:
                registry.set_champion(client, name, version)
            mlflow.set_tags({"promotion": decision.reason, "model_version": version, "model_name": name})
            report = write_report(
                Path(tmp) / "report.html",
                task=task,
                run_id=run.info.run_id,
                version=version,
                config=config,
                validation_date=validation_date,
                metrics=evaluation.metrics,
                baselines=evaluation.baselines,
                champion=champion,
                decision=decision,
                segments=evaluation.segments,
                truth=evaluation.truth,
                pictures=pictures,
                rows=(len(train), len(valid)),
                summary=summary,
                definition=definition,
                calibration_auc=model.calibration_auc_,
            )
            mlflow.log_artifact(str(report))
    return RecordedRun(run.info.run_id, version, decision)


def _log_evaluation(config, task, dataset, model, train, valid, validation_date, evaluation: Evaluation, champion_metrics) -> None:
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
    mlflow.log_metrics(_flat("valid", evaluation.metrics))
    for b, m in evaluation.baselines.items():
        mlflow.log_metrics(_flat(f"baseline_{b}", m))
    for seg, m in evaluation.segments.items():
        mlflow.log_metrics(_flat(f"segment.{_safe(seg.replace('=', '.'))}", m))
    if evaluation.truth:
        mlflow.log_metrics(evaluation.truth)
    before, after = model.calibration_auc_
    mlflow.log_metrics(_flat("calibration", {"held_back_roc_auc_before": before, "held_back_roc_auc_after": after}))
    score, _ = quality_grade(evaluation.metrics.get("roc_auc", float("nan")))
    mlflow.log_metrics(_flat("quality", {"grade": score}))
    if champion_metrics and "error" not in champion_metrics:
        mlflow.log_metrics(_flat("champion", champion_metrics))


def _log_plots(model: ChurnClassifier, valid: pd.DataFrame, evaluation: Evaluation, out: Path) -> dict[str, Path]:
    y, p = evaluation.y, evaluation.p
    shown = valid.head(CONTRIBUTION_ROWS)
    curves = {
        "model": p,
        "logistic regression": evaluation.baseline_scores["logistic"],
        "days since last order": evaluation.baseline_scores["recency"],
    }
    pictures = {
        "calibration": plots.calibration_plot(y, p, out / "calibration.png"),
        "gain_lift": plots.gain_and_lift_plot(y, curves, out / "gain_lift.png"),
        "importance": plots.importance_plot(model.feature_importance(), out / "importance.png"),
        "contributions": plots.contribution_summary_plot(model.contributions(shown), shown.join(model.derived(shown)), out / "contributions.png"),
    }
    for picture in pictures.values():
        mlflow.log_artifact(str(picture), "plots")
    return pictures


def _log_backtest(backtest: pd.DataFrame, summary: pd.DataFrame, decision: GateDecision) -> None:
    """Backtest means and spreads as ``backtest.<candidate>.<metric>_mean|_std``, the per-date table, the gate's checks."""
    for row in summary.itertuples():
        mlflow.log_metrics(_flat(f"backtest.{_safe(row.candidate)}", {f"{row.metric}_mean": row.mean, f"{row.metric}_std": row.std}))
    mlflow.log_text(backtest.round(4).to_csv(index=False), "backtest.csv")
    mlflow.log_dict({"promoted": decision.promoted, "reason": decision.reason,
                     "checks": [{"name": c.name, "passed": c.passed, "detail": c.detail} for c in decision.checks]}, "gate.json")  # fmt: skip
    mlflow.set_tags({f"gate.{_safe(c.name)}": ("passed" if c.passed else "failed") for c in decision.checks})


def _safe(name: str) -> str:
    return "".join(ch if ch.isalnum() or ch in "._-" else "_" for ch in name)


def _flat(prefix: str, metrics: dict[str, float]) -> dict[str, float]:
    return {f"{prefix}.{k}": float(v) for k, v in metrics.items() if isinstance(v, (int, float)) and np.isfinite(v)}
