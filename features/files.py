"""Writing result frames: whole files or nothing."""

from __future__ import annotations

import os
from pathlib import Path

import pandas as pd

from features.errors import ConfigError

FORMATS = ("parquet", "csv")


def check_destination(path: Path) -> str:
    """The format of output file ``path`` ("parquet" or "csv"); raises ConfigError if it cannot be written."""
    path = Path(path)
    suffix = path.suffix.lstrip(".").lower()
    if suffix not in FORMATS:
        raise ConfigError(f"--out {path}: unknown format {path.suffix!r}; use one of .{', .'.join(FORMATS)}")
    if not path.parent.is_dir():
        raise ConfigError(f"--out {path}: directory {path.parent} does not exist")
    return suffix


def write_frame(frame: pd.DataFrame, path: Path) -> Path:
    """Write ``frame`` to ``path`` (.parquet or .csv) atomically: a reader never sees a partial file."""
    path = Path(path)
    suffix = check_destination(path)
    tmp = path.with_name(f".{path.name}.partial")
    try:
        if suffix == "parquet":
            frame.to_parquet(tmp, index=False)
        else:
            frame.to_csv(tmp, index=False)
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
    return path
