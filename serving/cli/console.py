"""Where the commands write: results on standard output, messages and progress on standard error."""

from __future__ import annotations

from pathlib import Path

from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn
from rich.table import Table

out = Console(soft_wrap=True)  # paths and one-line summaries must not be wrapped
err = Console(stderr=True)


def error(line: str) -> None:
    """One line on standard error, prefixed ``error:``."""
    err.print(f"[bold red]error:[/] {line}", highlight=False, soft_wrap=True)


def progress_bar() -> Progress:
    """A progress bar on standard error (kept when done)."""
    return Progress(
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        TextColumn("{task.percentage:>3.0f}%"),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
        console=err,
        transient=False,
    )


def summary_table(summary) -> Table:
    """A dataset's :class:`features.validation` summary: users, span, and per table its file, rows, first and last row."""
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
