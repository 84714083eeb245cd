"""Writing result frames: whole files or nothing."""

from __future__ import annotations

import os
from pathlib import Path

import pandas as pd

from features.errors import ConfigError

FORMATS = ("parquet", "csv")
LIST_FORMATS = ("csv", "parquet", "json")


def check_destination(path: Path, formats: tuple[str, ...] = FORMATS) -> str:
    """The format of output file ``path`` (its suffix, one of ``formats``); raises ConfigError if it cannot be written."""
    path = Path(path)
    suffix = path.suffix.lstrip(".").lower()
    if suffix not in formats:
        raise ConfigError(f"--out {path}: unknown format {path.suffix!r}; use one of .{', .'.join(formats)}")
    if not path.parent.is_dir():
        raise ConfigError(f"--out {path}: directory {path.parent} does not exist")
    return suffix


def frame_text(frame: pd.DataFrame, fmt: str) -> str:
    """``frame`` as CSV or as JSON records (ISO dates, UTC), for a file or standard output."""
    if fmt == "csv":
        return frame.to_csv(index=False)
    if fmt == "json":
        return frame.to_json(orient="records", date_format="iso", date_unit="s", indent=1) + "\n"
    raise ConfigError(f"--format {fmt}: text output is csv or json")


def write_frame(frame: pd.DataFrame, path: Path, formats: tuple[str, ...] = FORMATS) -> Path:
    """Write ``frame`` to ``path`` (format from its suffix) atomically: a reader never sees a partial file."""
    path = Path(path)
    suffix = check_destination(path, formats)
    tmp = path.with_name(f".{path.name}.partial")
    try:
        if suffix == "parquet":
            frame.to_parquet(tmp, index=False)
        else:
            tmp.write_text(frame_text(frame, suffix))
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
    return path
