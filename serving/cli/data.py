"""``churn validate``, ``churn features`` and ``churn simulate``: datasets and their point-in-time features."""

from __future__ import annotations

import datetime as dt
import time
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from serving.cli.console import err, out, progress_bar, summary_table
from serving.cli.options import DataOption, Engine, EngineOption


def validate(data: DataOption) -> None:
    """Check a dataset against the data contract and print a summary.

    Prints one line per problem and exits with code 2 if the dataset breaks the contract.
    """
    from features.validation import load_dataset

    summary = load_dataset(data).summary()
    out.print(summary_table(summary))
    out.print(f"[green]ok[/]: {data} follows the data contract")


def features(
    data: DataOption,
    as_of: Annotated[str, typer.Option("--as-of", help="Date (end of that day, UTC) or ISO timestamp; nothing after it is read.")],
    out_file: Annotated[Path, typer.Option("--out", help="Output file, .parquet or .csv: one row per user.")],
    engine: EngineOption = Engine.duckdb,
) -> None:
    """Build the point-in-time feature table of every user signed up by --as-of."""
    from features.asof import parse_as_of
    from features.build import compute_features, write_features
    from features.files import check_destination, write_frame
    from features.validation import load_dataset
    from serving.batch.nightly import contract_tables

    started = time.perf_counter()
    parse_as_of(as_of)
    check_destination(out_file)
    with err.status(f"validating {data}"):
        dataset = load_dataset(data)
    with err.status(f"computing features as of {as_of} on {engine.value}"):
        if engine is Engine.duckdb and out_file.suffix.lower() == ".parquet":
            # Written by DuckDB itself: no result passes through Python (millions of users in a few GB).
            import pyarrow.parquet as pq

            write_features(contract_tables(dataset, engine.value), as_of, out_file)
            meta = pq.read_metadata(out_file)
            users, columns = meta.num_rows, meta.num_columns
        else:
            frame = compute_features(contract_tables(dataset, engine.value), as_of)
            write_frame(frame, out_file)
            users, columns = frame.shape
    seconds = time.perf_counter() - started
    out.print(f"{users:,} users x {columns - 1} features as of {as_of} ({engine.value}) in {seconds:.1f} s -> {out_file}")


def run_simulation(users: int, days: int, start: dt.date, seed: int, out_dir: Path, overwrite: bool):
    """Simulate into ``out_dir`` with a progress bar; (config, result, seconds)."""
    from features.simulator.config import SimulationConfig
    from features.simulator.run import simulate as run

    config = SimulationConfig(users=users, days=days, start=start, seed=seed)
    started = time.perf_counter()
    with progress_bar() as progress:
        task = progress.add_task(f"simulating {users:,} users x {days} days", total=users * days)
        result = run(config, out_dir, overwrite=overwrite, progress=lambda k: progress.advance(task, k))
    return config, result, time.perf_counter() - started


def print_realism(config, result, with_model: bool = True) -> bool:
    """The simulated tables' row counts, the realism checks and the ground truth's dates; whether every check passed.

    with_model: also train LightGBM with and without the activity features (tens of seconds at 20k users).
    """
    from features.simulator.realism import measure

    with err.status("measuring the realism targets" + (" (LightGBM with and without activity features)" if with_model else "")):
        realism = measure(result.out, config.start, config.end, with_model=with_model)
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
    out.print("; ".join(f"{k}: {v}" for k, v in realism.reported.items()))
    truth = ", ".join(f"{k} {v:.3f}" for k, v in realism.truth.items())
    dates = f"{result.truth_dates[0]} .. {result.truth_dates[-1]}" if result.truth_dates else "none (window too short)"
    out.print(f"ground truth in {result.out / 'truth'}: {len(result.truth_dates)} month-ends ({dates}); {truth}")
    return realism.ok


def simulate(
    out_dir: Annotated[Path, typer.Option("--out", help="Directory to write the dataset into.")],
    users: Annotated[int, typer.Option(help="Number of users.")] = 5000,
    days: Annotated[int, typer.Option(help="Days to simulate.")] = 365,
    start: Annotated[dt.datetime, typer.Option(formats=["%Y-%m-%d"], help="First simulated day.")] = dt.datetime(2025, 1, 1),
    seed: Annotated[int, typer.Option(help="Random seed; the same seed gives byte-identical files.")] = 0,
    overwrite: Annotated[bool, typer.Option(help="Replace --out if it holds files.")] = False,
) -> None:
    """Simulate an e-commerce platform: the contract's tables plus ground truth in truth/."""
    config, result, seconds = run_simulation(users, days, start.date(), seed, out_dir, overwrite)
    print_realism(config, result)
    out.print(f"simulated {config.users:,} users over {config.days} days in {seconds:.1f} s -> {result.out}")
