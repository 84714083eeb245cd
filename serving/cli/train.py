"""``churn train``, ``churn report``, ``churn promote`` and ``churn rollback``: models in the MLflow registry."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from features.definition import DEFAULT_HORIZON_DAYS, DEFAULT_LOOKBACK_DAYS, DEFAULT_SESSION_DAYS, EVENT_ORDER, definition_from
from serving.cli.console import err, out
from serving.cli.options import DataOption
from serving.cli.tracking import use_mlflow
from training.gate import quality_grade

ModelNameOption = Annotated[str, typer.Option(help="Registered model: churn or activation.")]


def simulated_truth(data: Path, horizon_days: int):
    """The training's reference: the simulator's true churn probabilities in ``data`` (None where it has none, e.g. real data)."""
    from functools import partial

    from features.simulator.ground_truth import churn_truth

    return partial(churn_truth, data, horizon_days=horizon_days)


def train(
    data: DataOption,
    as_of: Annotated[str, typer.Option("--as-of", help="Today: nothing after this date is read; every label window ends by it.")],
    horizon_days: Annotated[int, typer.Option(help="Churn label window in days.")] = DEFAULT_HORIZON_DAYS,
    order_days: Annotated[int, typer.Option(help="Population: a paid order in the last N days.")] = DEFAULT_LOOKBACK_DAYS,
    session_days: Annotated[int, typer.Option(help="Population: and a session in the last M days (0: no session needed, orders-only data).")] = DEFAULT_SESSION_DAYS,
    churn_event: Annotated[str, typer.Option(help="Churn is no 'order' or no 'session' in the horizon.")] = EVENT_ORDER,
    snapshots: Annotated[int, typer.Option(help="Snapshots in all; the most recent validates, the others train.")] = 6,
    every_days: Annotated[int, typer.Option(help="Days between snapshots.")] = 30,
    backtest_dates: Annotated[int, typer.Option(help="Past dates the backtest refits and judges every candidate on.")] = 4,
    experiment: Annotated[str, typer.Option(help="MLflow experiment.")] = "churn",
    seed: Annotated[int, typer.Option(help="Random seed of LightGBM.")] = 0,
    activation: Annotated[bool, typer.Option(help="Also train the new-user activation model.")] = True,
) -> None:
    """Train the churn (and activation) model, backtest it against every baseline, gate it, register it in MLflow."""
    from features.asof import as_of_date
    from features.validation import load_dataset
    from training.pipeline import TrainConfig, backtest_margins
    from training.pipeline import train as run_training

    started = time.perf_counter()
    definition = definition_from(order_days=order_days, session_days=session_days or None, event=churn_event, horizon_days=horizon_days)
    config = TrainConfig(
        as_of=as_of_date(as_of), definition=definition, snapshots=snapshots, every_days=every_days, backtest_dates=backtest_dates,
        experiment=experiment, seed=seed, activation=activation,
    )  # fmt: skip
    uri = use_mlflow()
    with err.status(f"validating {data}") as status:
        dataset = load_dataset(data)
        result = run_training(dataset, config, progress=status.update, reference=simulated_truth(data, config.horizon_days))
    out.print(f"churn: {definition.describe()}")
    for r in result.results:
        out.print(backtest_table(r))
    table = Table(title=f"trained as of {config.as_of}: the latest validation date")
    for col in ("model", "version", "validated on", "ROC-AUC", "PR-AUC", "ECE", "grade", "worst margin (backtest)"):
        table.add_column(col, justify="right")
    for r in result.results:
        margins = backtest_margins(r.summary)
        worst = min(margins, key=margins.get) if margins else None
        score, word = quality_grade(r.metrics["roc_auc"])
        table.add_row(
            r.task, r.version, str(r.validation_date), f"{r.metrics['roc_auc']:.4f}", f"{r.metrics['pr_auc']:.4f}",
            f"{r.metrics['ece']:.4f}", f"{score:.0f} ({word})", f"{margins[worst]:+.4f} vs {worst}" if worst else "",
        )  # fmt: skip
    out.print(table)
    for r in result.results:
        out.print(f"{r.task} v{r.version}: {r.decision.reason}")
    for r in result.results:
        if r.truth:
            out.print(
                f"{r.task}: ROC-AUC {r.truth['model_roc_auc']:.4f} vs best possible {r.truth['truth_roc_auc']:.4f} "
                f"(ratio {r.truth['auc_ratio_to_truth']:.3f}, target >= 0.97)"
            )
    for line in result.skipped:
        out.print(line)
    out.print(f"MLflow: {uri} (browse: mlflow ui --backend-store-uri {uri})")
    out.print(f"trained in {time.perf_counter() - started:.0f} s; report: churn report --run-id {result.results[0].run_id}")


def backtest_table(result) -> Table:
    """Mean ± spread over the backtest dates of ROC-AUC, PR-AUC, log loss and ECE, one row per candidate."""
    from training.candidates import LABELS, MODEL

    summary = result.summary
    dates = int(summary["count"].max()) if len(summary) else 0
    table = Table(title=f"{result.task}: backtest over {dates} dates (mean ± std)")
    table.add_column("candidate")
    metrics = [m for m in ("roc_auc", "pr_auc", "log_loss", "ece") if m in set(summary["metric"])]
    for m in metrics:
        table.add_column(m.replace("_", " "), justify="right")
    by = summary.set_index(["candidate", "metric"])
    for name in dict.fromkeys([MODEL, *summary["candidate"]]):
        cells = []
        for m in metrics:
            mean, std = (by.loc[(name, m), "mean"], by.loc[(name, m), "std"]) if (name, m) in by.index else (float("nan"), float("nan"))
            cells.append("" if mean != mean else f"{mean:.4f} ± {0.0 if std != std else std:.4f}")
        table.add_row(LABELS.get(name, name), *cells)
    return table


def download_report(run_id: str, out_dir: Path) -> Path:
    """The HTML report of training run ``run_id``, copied to ``out_dir/<run_id>/report.html``."""
    import mlflow
    from mlflow.exceptions import MlflowException

    from training.registry import RegistryError

    try:
        (out_dir / run_id).mkdir(parents=True, exist_ok=True)
        local = mlflow.artifacts.download_artifacts(run_id=run_id, artifact_path="report.html", dst_path=str(out_dir / run_id))
    except MlflowException:
        raise RegistryError(f"run {run_id} has no report (is it a training run?)") from None
    return Path(local).resolve()


def report(
    run_id: Annotated[str | None, typer.Option("--run-id", help="MLflow run; default: the latest run of the experiment.")] = None,
    experiment: Annotated[str, typer.Option(help="MLflow experiment to look in.")] = "churn",
    out_dir: Annotated[Path, typer.Option("--out", help="Directory for the HTML report.")] = Path("data/reports"),
) -> None:
    """Write a training run's HTML report and print its path."""
    from mlflow import MlflowClient

    from training.registry import RegistryError

    use_mlflow()
    if run_id is None:
        client = MlflowClient()
        found = client.get_experiment_by_name(experiment)
        runs = client.search_runs([found.experiment_id], order_by=["attributes.start_time DESC"], max_results=1) if found else []
        if not runs:
            raise RegistryError(f"experiment {experiment} has no runs; train first")
        run_id = runs[0].info.run_id
    out.print(download_report(run_id, out_dir))


def promote(
    model: ModelNameOption = "churn",
    version: Annotated[str | None, typer.Option(help="Version to promote; default: the challenger.")] = None,
) -> None:
    """Make a version (default: the challenger) the champion."""
    from training.registry import promote as do_promote

    use_mlflow()
    out.print(do_promote(model, version))


def rollback(model: ModelNameOption = "churn") -> None:
    """Move the champion back to the previous champion."""
    from training.registry import rollback as do_rollback

    use_mlflow()
    out.print(do_rollback(model))
