"""The nightly feature snapshots: the feature table each scoring run used, kept for the API.

The service scores a user by id from the latest snapshot, so that its answer
for a user and date is the nightly job's answer (same features, same model
code). One Parquet file per model and as-of date:
``<directory>/<model_name>/as_of=YYYY-MM-DD.parquet``, written atomically (a
reader sees the previous file or the whole new one). Rerunning a date replaces
its file.
"""

from __future__ import annotations

import datetime as dt
import re
from pathlib import Path

import pandas as pd

from features.errors import ConfigError
from features.files import write_frame

_FILE = re.compile(r"^as_of=(\d{4}-\d{2}-\d{2})\.parquet$")


class FeatureSnapshots:
    """Feature tables by model and as-of date under ``directory``."""

    def __init__(self, directory: Path | str) -> None:
        self.directory = Path(directory)

    def path(self, model_name: str, as_of: dt.date) -> Path:
        return self.directory / model_name / f"as_of={as_of.isoformat()}.parquet"

    def write(self, model_name: str, as_of: dt.date, features: pd.DataFrame) -> Path:
        """Store ``features`` (``user_id`` plus feature columns) as the snapshot of ``model_name`` at ``as_of``."""
        target = self.path(model_name, as_of)
        target.parent.mkdir(parents=True, exist_ok=True)
        return write_frame(features, target)

    def dates(self, model_name: str) -> list[dt.date]:
        """The as-of dates with a snapshot, oldest first."""
        folder = self.directory / model_name
        if not folder.is_dir():
            return []
        found = (_FILE.match(p.name) for p in folder.iterdir())
        return sorted(dt.date.fromisoformat(m.group(1)) for m in found if m)

    def read(self, model_name: str, as_of: dt.date) -> pd.DataFrame:
        path = self.path(model_name, as_of)
        if not path.exists():
            known = ", ".join(d.isoformat() for d in self.dates(model_name)[-5:]) or "none"
            raise ConfigError(f"no {model_name} feature snapshot as of {as_of} in {self.directory}; latest: {known}")
        return pd.read_parquet(path)

    def latest(self, model_name: str) -> tuple[dt.date, pd.DataFrame]:
        """The newest snapshot of ``model_name`` and its date; ConfigError if there is none."""
        dates = self.dates(model_name)
        if not dates:
            raise ConfigError(f"no {model_name} feature snapshot in {self.directory}: run `churn score` first")
        return dates[-1], self.read(model_name, dates[-1])
