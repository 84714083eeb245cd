"""The nightly dashboard: read what the nightly job published for a date, write ``nightly-DATE.html``.

``write_nightly_report`` is the whole job: :func:`serving.reports.sources.load_inputs`
(score store, lists, registry, dataset), :func:`serving.reports.page.nightly_page`
(pure), then an atomic write. ``as_of`` is the scoring date the page is about.
"""

from __future__ import annotations

import datetime as dt
import os
import tempfile
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, field_validator

from features.asof import as_of_date, parse_as_of
from serving.batch.bands import BandCutoffs
from serving.defaults import DEFAULT_REPORTS_DIR, DEFAULT_STORE

DEFAULT_LISTS_DIR = Path("data/lists")


class DashboardConfig(BaseModel):
    """Where the dashboard of one date reads from and writes to; validated once and passed down."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    as_of: str = Field(description="the scoring date (a published churn run)")
    store: str = DEFAULT_STORE
    lists_dir: Path = DEFAULT_LISTS_DIR
    data: Path | None = Field(None, description="the dataset, for the campaign readouts; None: no readouts")
    out_dir: Path = DEFAULT_REPORTS_DIR
    registry: bool = Field(True, description="read the model's quality from the MLflow registry")
    cutoffs: BandCutoffs = BandCutoffs()

    @field_validator("as_of")
    @classmethod
    def _parses(cls, value: str) -> str:
        parse_as_of(value)
        return value

    @property
    def day(self) -> dt.date:
        return as_of_date(self.as_of)


def report_path(out_dir: Path, day: dt.date) -> Path:
    """Where the dashboard of ``day`` is written: ``OUT/nightly-DATE.html``."""
    return Path(out_dir) / f"nightly-{day.isoformat()}.html"


def render_nightly_report(config: DashboardConfig) -> str:
    """The dashboard of ``config.as_of`` as HTML text (reads the store, lists, registry and dataset)."""
    from serving.reports.page import nightly_page
    from serving.reports.sources import load_inputs

    inputs = load_inputs(config.day, config.store, config.lists_dir, config.data, config.registry)
    return nightly_page(inputs, config.cutoffs)


def write_nightly_report(config: DashboardConfig) -> Path:
    """Write the dashboard of ``config.as_of`` to ``OUT/nightly-DATE.html`` atomically; its path."""
    text = render_nightly_report(config)
    path = report_path(config.out_dir, config.day)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(text)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path
