"""The ``churn`` command-line tool: a thin layer over the library functions.

Expected errors (:class:`features.errors.ChurnError`) become one line per
problem on stderr and the error's exit code; nothing is written when a command
fails. Exit codes: 0 success, 1 unexpected failure, 2 bad input (options or a
dataset that breaks the data contract).
"""

from __future__ import annotations

import datetime as dt
import sys
import time
from enum import Enum
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from features.errors import ChurnError

app = typer.Typer(
    name="churn",
    help="Churn prediction and retention: simulate and validate datasets, build point-in-time features.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
out = Console()
err = Console(stderr=True)

DataOption = Annotated[Path, typer.Option("--data", help="Dataset: a directory of <table>.parquet/.csv files, or a DuckDB file.")]


def _fail(error: ChurnError) -> typer.Exit:
    for line in error.lines():
        err.print(f"[bold red]error:[/] {line}", highlight=False, soft_wrap=True)
    return typer.Exit(error.exit_code)


def _progress():
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn

    return Progress(
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        TextColumn("{task.percentage:>3.0f}%"),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
        console=err,
        transient=False,
    )


def _summary_table(summary) -> Table:
    users = f"{summary.users:,} users" if summary.users is not None else "users"
    span = f", {summary.first:%Y-%m-%d} .. {summary.last:%Y-%m-%d} (UTC)" if summary.first and summary.last else ""
    table = Table(title=f"{summary.path}: {users}{span}")
    table.add_column("table")
    table.add_column("file")
    table.add_column("rows", justify="right")
    table.add_column("first")
    table.add_column("last")
    for row in summary.tables:
        table.add_row(
            row.name,
            Path(row.file).name,
            f"{row.rows:,}",
            f"{row.first:%Y-%m-%d %H:%M}" if row.first is not None else "",
            f"{row.last:%Y-%m-%d %H:%M}" if row.last is not None else "",
        )
    return table


@app.command()
def validate(data: DataOption) -> None:
    """Check a dataset against the data contract and print a summary.

    Prints one line per problem and exits with code 2 if the dataset breaks the contract.
    """
    from features.validation import load_dataset

    try:
        dataset = load_dataset(data)
        summary = dataset.summary()
    except ChurnError as e:
        raise _fail(e) from None
    out.print(_summary_table(summary))
    out.print(f"[green]ok[/]: {data} follows the data contract")


class Engine(str, Enum):
    duckdb = "duckdb"
    spark = "spark"


def _tables(dataset, engine: Engine):
    """Contract tables on the chosen engine (Spark reads the same Parquet files)."""
    if engine is Engine.duckdb:
        return {name: dataset.table(name) for name in dataset.tables}
    from features.spark import local_session, spark_tables

    return spark_tables(dataset, local_session())


@app.command()
def features(
    data: DataOption,
    as_of: Annotated[str, typer.Option("--as-of", help="Date (end of that day, UTC) or ISO timestamp; nothing after it is read.")],
    out_file: Annotated[Path, typer.Option("--out", help="Output file, .parquet or .csv: one row per user.")],
    engine: Annotated[Engine, typer.Option(help="Where to compute: embedded DuckDB or Spark (local mode).")] = Engine.duckdb,
) -> None:
    """Build the point-in-time feature table of every user signed up by --as-of."""
    from features.asof import parse_as_of
    from features.build import compute_features
    from features.files import check_destination, write_frame
    from features.validation import load_dataset

    started = time.perf_counter()
    try:
        parse_as_of(as_of)
        check_destination(out_file)
        with err.status(f"validating {data}"):
            dataset = load_dataset(data)
        with err.status(f"computing features as of {as_of} on {engine.value}"):
            frame = compute_features(_tables(dataset, engine), as_of)
        write_frame(frame, out_file)
    except ChurnError as e:
        raise _fail(e) from None
    seconds = time.perf_counter() - started
    out.print(f"{len(frame):,} users x {frame.shape[1] - 1} features as of {as_of} ({engine.value}) in {seconds:.1f} s -> {out_file}")


def _simulate(users: int, days: int, start: dt.date, seed: int, out_dir: Path, overwrite: bool):
    from pydantic import ValidationError

    from features.errors import ConfigError
    from features.simulator.config import SimulationConfig
    from features.simulator.run import simulate

    try:
        config = SimulationConfig(users=users, days=days, start=start, seed=seed)
    except ValidationError as e:
        first = e.errors()[0]
        raise ConfigError(f"--{first['loc'][0]}: {first['msg']} (got {first.get('input')!r})") from None
    started = time.perf_counter()
    with _progress() as progress:
        task = progress.add_task(f"simulating {users:,} users x {days} days", total=users * days)
        result = simulate(config, out_dir, overwrite=overwrite, progress=lambda k: progress.advance(task, k))
    return config, result, time.perf_counter() - started


def _print_realism(config, result) -> bool:
    from features.simulator.realism import measure

    realism = measure(result.out, config.start, config.end)
    counts = Table(title=f"simulated dataset in {result.out}")
    counts.add_column("table")
    counts.add_column("rows", justify="right")
    for name, rows in realism.counts.items():
        counts.add_row(name, f"{rows:,}")
    out.print(counts)
    checks = Table(title="realism targets")
    checks.add_column("check")
    checks.add_column("measured")
    checks.add_column("target")
    checks.add_column("")
    for c in realism.checks:
        checks.add_row(c.name, c.value, c.target, "[green]ok[/]" if c.ok else "[red]missed[/]")
    out.print(checks)
    truth = ", ".join(f"{k} {v:.3f}" for k, v in realism.truth.items())
    dates = f"{result.truth_dates[0]} .. {result.truth_dates[-1]}" if result.truth_dates else "none (window too short)"
    out.print(f"ground truth in {result.out / 'truth'}: {len(result.truth_dates)} month-ends ({dates}); {truth}")
    return realism.ok


@app.command()
def simulate(
    out_dir: Annotated[Path, typer.Option("--out", help="Directory to write the dataset into.")],
    users: Annotated[int, typer.Option(help="Number of users.")] = 5000,
    days: Annotated[int, typer.Option(help="Days to simulate.")] = 365,
    start: Annotated[dt.datetime, typer.Option(formats=["%Y-%m-%d"], help="First simulated day.")] = dt.datetime(2025, 1, 1),
    seed: Annotated[int, typer.Option(help="Random seed; the same seed gives byte-identical files.")] = 0,
    overwrite: Annotated[bool, typer.Option(help="Replace --out if it holds files.")] = False,
) -> None:
    """Simulate an e-commerce platform: the contract's tables plus ground truth in truth/."""
    try:
        config, result, seconds = _simulate(users, days, start.date(), seed, out_dir, overwrite)
        _print_realism(config, result)
    except ChurnError as e:
        raise _fail(e) from None
    out.print(f"simulated {config.users:,} users over {config.days} days in {seconds:.1f} s -> {result.out}")


@app.command()
def demo(
    data: Annotated[Path, typer.Option("--data", help="Where the demo dataset lives.")] = Path("data/demo"),
    users: Annotated[int, typer.Option(help="Users in the demo dataset.")] = 20000,
    days: Annotated[int, typer.Option(help="Days in the demo dataset.")] = 365,
    seed: Annotated[int, typer.Option(help="Random seed.")] = 0,
) -> None:
    """The main job on embedded defaults: simulate a dataset (reused if it exists), validate it, summarise it."""
    from features.simulator.config import DEFAULT_START, SimulationConfig
    from features.simulator.run import MANIFEST
    from features.validation import load_dataset

    try:
        wanted = SimulationConfig(users=users, days=days, start=DEFAULT_START, seed=seed)
        manifest = data / MANIFEST
        if manifest.exists() and _same_config(manifest, wanted):
            out.print(f"reusing the simulated dataset in {data} (delete it to simulate again)")
        else:
            config, result, seconds = _simulate(users, days, DEFAULT_START, seed, data, overwrite=True)
            _print_realism(config, result)
            out.print(f"simulated {users:,} users over {days} days in {seconds:.1f} s")
        dataset = load_dataset(data)
        out.print(_summary_table(dataset.summary()))
    except ChurnError as e:
        raise _fail(e) from None
    out.print(f"next: .venv/bin/churn validate --data {data}")


def _same_config(manifest: Path, wanted) -> bool:
    import json

    try:
        recorded = json.loads(manifest.read_text())["config"]
    except (OSError, ValueError, KeyError):
        return False
    return recorded == json.loads(wanted.model_dump_json())


def main() -> None:
    """Entry point of the ``churn`` script."""
    try:
        app()
    except KeyboardInterrupt:
        err.print("interrupted")
        sys.exit(130)
