"""``churn report``: a training run's HTML report (no subcommand), ``churn report nightly``: the CRM team's dashboard,
``churn report retention``: retention curves by signup month, member tier, city tier, region or channel."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from serving.cli import train
from serving.cli.console import err, out
from serving.cli.options import DataOption, StoreOption
from serving.crm.retention import DEFAULT_MONTHS, GROUPINGS, SIGNUP_MONTH
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


def retention_terminal(wide, heading: str) -> Table:
    """The pivoted report as a terminal table: cohort size, then each month's rate in percent."""
    table = Table(title=heading, caption="% of the group's users with a purchase in each 30-day month since signup")
    table.add_column("group", no_wrap=True)
    table.add_column("users", justify="right", no_wrap=True)
    for column in wide.columns[2:]:
        table.add_column(column, justify="right", no_wrap=True)
    for row in wide.itertuples(index=False):
        table.add_row(str(row[0]), f"{int(row[1]):,}", *("" if v != v else f"{100 * v:.0f}" for v in row[2:]))
    return table


def retention_report(
    data: DataOption,
    as_of: Annotated[str, typer.Option("--as-of", help="Read data up to the end of this day (UTC); only months ended by then count.")],
    by: Annotated[str, typer.Option(help=f"Group users by one of: {', '.join(GROUPINGS)}.")] = SIGNUP_MONTH,
    months: Annotated[int, typer.Option(help="Months (30-day periods since signup) in each curve.")] = DEFAULT_MONTHS,
    out_file: Annotated[Path | None, typer.Option("--out", help="Write the long table (group, month, users, retained, rate) to FILE.csv/.json/.parquet.")] = None,
    plot: Annotated[Path | None, typer.Option(help="Draw the curves to FILE.png.")] = None,
) -> None:
    """Share of each group's users with a purchase in each month since signup, with the counts."""
    from features.asof import check_as_of
    from features.errors import ConfigError
    from features.files import LIST_FORMATS, check_destination, write_frame
    from features.validation import load_dataset
    from serving.crm.retention import retention, retention_plot, retention_table, title

    if out_file is not None:
        check_destination(out_file, LIST_FORMATS)
    if plot is not None and plot.suffix.lower() != ".png":
        raise ConfigError(f"--plot {plot}: expected a .png file")
    dataset = load_dataset(data)
    check_as_of(dataset, as_of)
    tables = {name: dataset.table(name) for name in dataset.tables}
    frame = retention(tables, as_of, by=by, months=months)
    heading = title(by, as_of)
    out.print(retention_terminal(retention_table(frame), heading))
    if out_file is not None:
        write_frame(frame, out_file, LIST_FORMATS)
        err.print(f"{len(frame):,} rows -> {out_file}", highlight=False)
    if plot is not None:
        retention_plot(frame, plot, heading)
        err.print(f"plot -> {plot}", highlight=False)
    sys.stdout.flush()
