"""Options several command groups share, defined once: the dataset, the engine, the score store."""

from __future__ import annotations

from enum import Enum
from pathlib import Path
from typing import Annotated

import typer

DataOption = Annotated[Path, typer.Option("--data", help="Dataset: a directory of <table>.parquet/.csv files, or a DuckDB file.")]
StoreOption = Annotated[str, typer.Option(help="Score store: duckdb:///FILE or a SQLAlchemy URL.")]
Multi = list[str] | None


class Engine(str, Enum):
    duckdb = "duckdb"
    spark = "spark"


EngineOption = Annotated[Engine, typer.Option(help="Where to compute: embedded DuckDB or Spark (local mode).")]
