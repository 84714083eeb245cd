"""``churn report``: a training run's HTML report (no subcommand), or ``churn report nightly``: the CRM team's dashboard."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from serving.cli import train
from serving.cli.console import out
from serving.cli.options import StoreOption
from serving.defaults import DEFAULT_REPORTS_DIR, DEFAULT_STORE

REPORTS_DIR = DEFAULT_REPORTS_DIR


def training(
    ctx: typer.Context,
    run_id: Annotated[str | None, typer.Option("--run-id", help="MLflow run; default: the latest run of the experiment.")] = None,
    experiment: Annotated[str, typer.Option(help="MLflow experiment to look in.")] = "churn",
    out_dir: Annotated[Path, typer.Option("--out", help="Directory for the HTML report.")] = REPORTS_DIR,
) -> None:
    """Write a training run's HTML report and print its path; `churn report nightly` writes the nightly dashboard."""
    if ctx.invoked_subcommand is None:
        train.report(run_id=run_id, experiment=experiment, out_dir=out_dir)


def nightly(
    as_of: Annotated[str, typer.Option("--as-of", help="The scoring date whose published scores the page shows.")],
    store: StoreOption = DEFAULT_STORE,
    data: Annotated[Path | None, typer.Option("--data", help="The dataset, for the campaign readouts (none: no readouts).")] = None,
    lists_dir: Annotated[Path, typer.Option("--lists", help="Where the date's lists were written (at-risk-DATE.csv, coupons-DATE.csv).")] = Path("data/lists"),
    out_dir: Annotated[Path, typer.Option("--out", help="Directory of the page (nightly-DATE.html).")] = REPORTS_DIR,
    registry: Annotated[bool, typer.Option(help="Read the model's quality grade from the MLflow registry.")] = True,
) -> None:
    """Write the nightly dashboard of a scoring date: one self-contained HTML page; prints its path."""
    from serving.cli.tracking import use_mlflow
    from serving.reports.dashboard import DashboardConfig, write_nightly_report

    config = DashboardConfig(as_of=as_of, store=store, data=data, lists_dir=lists_dir, out_dir=out_dir, registry=registry)
    if registry:
        use_mlflow()
    out.print(str(write_nightly_report(config).resolve()), highlight=False, soft_wrap=True)
