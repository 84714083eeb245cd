"""Writing result frames: whole files or nothing, and CSV that a spreadsheet opens as data.

CSV cells that a spreadsheet would run as a formula (text starting with ``=``,
``+``, ``-``, ``@``, a tab or a carriage return) are written with a leading
``'``, which spreadsheets show as text; numbers, and text that is a plain
number such as ``-5`` or ``+1.5``, are written as they are (see
:func:`spreadsheet_safe`). Parquet and JSON keep every value as it is.

A file is written under a temporary name in its directory and renamed into
place, so a reader sees the previous file or the new one, never a part. The
temporary file is removed when writing fails or is interrupted; one left by a
writer that was killed is removed by the next write to the same path.
"""

from __future__ import annotations

import os
import re
import secrets
from pathlib import Path

import pandas as pd

from features.errors import ConfigError

FORMATS = ("parquet", "csv")
LIST_FORMATS = ("csv", "parquet", "json")
PARTIAL_SUFFIX = ".partial"
# What a spreadsheet takes as the start of a formula (tab and carriage return hide one).
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
FORMULA_ESCAPE = "'"
_PLAIN_NUMBER = re.compile(r"[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?")


def check_destination(path: Path, formats: tuple[str, ...] = FORMATS) -> str:
    """The format of output file ``path`` (its suffix, one of ``formats``); raises ConfigError if it cannot be written."""
    path = Path(path)
    suffix = path.suffix.lstrip(".").lower()
    if suffix not in formats:
        raise ConfigError(f"--out {path}: unknown format {path.suffix!r}; use one of .{', .'.join(formats)}")
    if not path.parent.is_dir():
        raise ConfigError(f"--out {path}: directory {path.parent} does not exist")
    return suffix


def spreadsheet_safe(frame: pd.DataFrame) -> pd.DataFrame:
    """``frame`` with each text cell that starts like a formula prefixed with ``'``; ``frame`` is not modified.

    Only text columns (object, string, category) change, and only their cells
    starting with one of FORMULA_STARTS that are not a plain number (``-5``,
    ``+1.5e3`` stay). Numeric, boolean and date columns are returned as they are.
    """
    changed = {}
    for name in frame.columns:
        column = frame[name]
        if isinstance(column.dtype, pd.CategoricalDtype):
            categories = column.cat.categories
            if categories.dtype == object or pd.api.types.is_string_dtype(categories.dtype):
                escaped = _escaped(pd.Series(categories, dtype=object))
                if escaped is not None:
                    changed[name] = column.cat.rename_categories(list(escaped))
        elif column.dtype == object or pd.api.types.is_string_dtype(column.dtype):
            escaped = _escaped(column)
            if escaped is not None:
                changed[name] = escaped
    return frame.assign(**changed) if changed else frame


def _escaped(values: pd.Series) -> pd.Series | None:
    """``values`` with formula-like text escaped, or None when no cell needs it."""
    text = values.map(lambda v: isinstance(v, str) and v.startswith(FORMULA_STARTS) and not _PLAIN_NUMBER.fullmatch(v))
    risky = text.astype(bool)
    if not risky.any():
        return None
    out = values.astype(object).copy()
    out[risky] = FORMULA_ESCAPE + values[risky].astype(str)
    return out


def frame_text(frame: pd.DataFrame, fmt: str) -> str:
    """``frame`` as CSV (formula-like cells escaped) or as JSON records (ISO dates, UTC), for a file or standard output."""
    if fmt == "csv":
        return spreadsheet_safe(frame).to_csv(index=False)
    if fmt == "json":
        return frame.to_json(orient="records", date_format="iso", date_unit="s", indent=1) + "\n"
    raise ConfigError(f"--format {fmt}: text output is csv or json")


def write_frame(frame: pd.DataFrame, path: Path, formats: tuple[str, ...] = FORMATS) -> Path:
    """Write ``frame`` to ``path`` (format from its suffix) atomically: a reader never sees a partial file.

    The temporary file (``.<name>.<pid>.<random>.partial`` beside ``path``) is
    removed if writing fails or is interrupted; the previous file at ``path``
    is then left as it was. Returns ``path``.
    """
    path = Path(path)
    suffix = check_destination(path, formats)
    remove_stale_partials(path)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}{PARTIAL_SUFFIX}")
    try:
        # O_EXCL: a name of our own, never another writer's file; mode 0o666 less the umask, as open() gives.
        with os.fdopen(os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666), "wb") as file:
            if suffix == "parquet":
                frame.to_parquet(file, index=False)
            elif suffix == "csv":
                spreadsheet_safe(frame).to_csv(file, index=False, encoding="utf-8")  # written as it is rendered
            else:
                file.write(frame_text(frame, suffix).encode())
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return path


def remove_stale_partials(path: Path) -> list[Path]:
    """Remove the temporary files of writes to ``path`` whose writing process no longer runs; returns them.

    A process killed while writing cannot remove its own temporary file; the
    process id in the name tells whether its writer still runs on this machine.
    """
    path = Path(path)
    removed = []
    for candidate in path.parent.glob(f".{path.name}.*{PARTIAL_SUFFIX}"):
        parts = candidate.name[len(path.name) + 2 : -len(PARTIAL_SUFFIX)].split(".")
        if len(parts) != 2 or not parts[0].isdigit() or _running(int(parts[0])):
            continue
        candidate.unlink(missing_ok=True)
        removed.append(candidate)
    return removed


def _running(pid: int) -> bool:
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # another user's process
        return True
    return True
