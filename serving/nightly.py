"""The nightly scoring job: validate, build features, score, check, publish.

Checks before publishing (a failed check publishes nothing):
* the dataset follows the data contract (exit 2);
* the number of scored users did not drop by more than ``max_drop`` (default
  20 %) against the previous published run of the same model (exit 4).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass

from features.asof import as_of_date
from features.build import compute_features
from features.errors import ChurnError
from features.labels import churn_population
from features.validation import load_dataset
from serving.bands import BandCutoffs
from serving.models import load_registered
from serving.scoring import BAND, score_frame
from serving.store import ScoreStore

DEFAULT_MAX_DROP = 0.2


class CheckFailed(ChurnError):
    """A pre-publication check failed: nothing was published."""

    exit_code = 4
    http_status = 409


@dataclass(frozen=True)
class ScoringSummary:
    rows: int
    as_of: dt.date
    model: str
    version: str
    high: int
    checks: dict


def row_count_check(rows: int, previous: int | None, max_drop: float) -> tuple[bool, str]:
    """Whether ``rows`` is acceptable after a previous run of ``previous`` rows."""
    if previous is None or previous == 0:
        return True, f"{rows} rows (no previous run)"
    drop = 1 - rows / previous
    ok = drop <= max_drop
    return ok, f"{rows} rows vs {previous} in the previous run ({-drop:+.0%}; a drop over {max_drop:.0%} fails)"


def run_nightly(
    data: str,
    as_of: str,
    model_uri: str,
    store_url: str,
    *,
    scored_at: dt.datetime,
    cutoffs: BandCutoffs = BandCutoffs(),
    max_drop: float = DEFAULT_MAX_DROP,
    progress: Callable[[str], None] = lambda message: None,
) -> ScoringSummary:
    """Score the churn population at ``as_of`` with ``model_uri`` and publish to ``store_url``."""
    store = ScoreStore(store_url)
    day = as_of_date(as_of)
    progress(f"validating {data}")
    dataset = load_dataset(data)
    progress(f"loading {model_uri}")
    loaded = load_registered(model_uri)
    tables = {name: dataset.table(name) for name in dataset.tables}
    progress(f"building features as of {day}")
    features = compute_features(tables, as_of, users=churn_population(tables, as_of))
    progress(f"scoring {len(features):,} users")
    scores = score_frame(features, loaded.model, as_of=as_of, model_name=loaded.name, model_version=loaded.version, scored_at=scored_at, cutoffs=cutoffs)
    runs = store.runs(loaded.name)
    earlier = runs[runs["as_of"].astype(str) != str(day)]
    previous = int(earlier["rows"].iloc[0]) if len(earlier) else None
    ok, said = row_count_check(len(scores), previous, max_drop)
    checks = {"row_count": said}
    if not ok:
        raise CheckFailed(f"row count check failed: {said}; nothing published")
    progress("publishing")
    store.publish(scores, checks=checks)
    return ScoringSummary(len(scores), day, loaded.name, loaded.version, int((scores[BAND] == "high").sum()), checks)
