"""Scores ready to answer with: the latest nightly snapshot scored whole, and published scores for the lists.

:class:`SnapshotScorer` scores the latest feature snapshot of a model once (so
by-id answers and percentiles are the population's, as in the nightly job),
with reasons for the riskiest share as the nightly job gives them and, for any
other user looked up, reasons computed on first request and cached per user
and date (:class:`serving.batch.contributions.ReasonsOnDemand`); it looks for a
newer snapshot in the background; :class:`PublishedScores` reads the
score store for the lists and keeps the last few (model, date, run) in memory.
"""

from __future__ import annotations

import datetime as dt
import logging
import threading
import time
from collections import OrderedDict
from dataclasses import dataclass

import pandas as pd

from features.catalog import USER_ID
from features.errors import ChurnError
from serving.api import schemas as M
from serving.api.errors import NotFound
from serving.api.frames import user_key
from serving.batch.bands import BandCutoffs
from serving.batch.contributions import ReasonsOnDemand
from serving.batch.scoring import NIGHTLY_EXPLAIN_SHARE, score_frame
from serving.columns import PROBABILITY, REASONS
from serving.batch.snapshots import FeatureSnapshots
from serving.batch.store import ScoreStore
from serving.models import LoadedModel

log = logging.getLogger("churn.service")
SCORE_OUT = [name for name in M.ScoreItem.model_fields if name not in (USER_ID, "status", "detail")]


class ScoreTable:
    """Scores ready to answer with: positions by user id (as text) and each response column as plain Python values.

    Built once per scored frame, so that a lookup costs dictionary accesses, not pandas calls
    (answering one user from a DataFrame costs milliseconds; from here, microseconds).
    """

    def __init__(self, scores: pd.DataFrame, explain: ReasonsOnDemand | None = None) -> None:
        self.positions = {user_key(u): i for i, u in enumerate(scores[USER_ID].to_numpy())}
        self.columns = {name: plain_column(scores[name]) for name in SCORE_OUT}
        self.ids = scores[USER_ID].to_numpy()
        self.explain = explain

    def get(self, user_id: object) -> dict | None:
        """The user's answer; a user without reasons gets them from ``explain`` (computed once, then cached)."""
        i = self.positions.get(user_key(user_id))
        if i is None:
            return None
        found = {name: values[i] for name, values in self.columns.items()}
        if self.explain is not None and all(found.get(name) is None for name in REASONS):
            said = self.explain.reasons_of([self.ids[i]], [found[PROBABILITY]])[0]
            found.update(zip(REASONS, said))
        return found


def plain_column(column: pd.Series) -> list:
    """A column as Python values, missing as None."""
    return column.astype(object).where(column.notna(), None).tolist()


@dataclass(frozen=True)
class SnapshotScores:
    """The whole snapshot of one date, scored with the service's model."""

    as_of: dt.date
    written: float  # the snapshot file's modification time: a rerun of the same date is read again
    table: ScoreTable


class SnapshotScorer:
    """The latest feature snapshot of one model, scored whole (so percentiles are the population's).

    A newer snapshot (the next night's, or a rerun of the same night) is
    looked for at most every ``poll_seconds`` and scored in the background;
    until it is ready the previous one answers.
    """

    def __init__(self, snapshots: FeatureSnapshots, model: LoadedModel, cutoffs: BandCutoffs, poll_seconds: float) -> None:
        self.snapshots, self.model, self.cutoffs, self.poll_seconds = snapshots, model, cutoffs, poll_seconds
        self.current: SnapshotScores | None = None
        self._checked = 0.0
        self._lock = threading.Lock()
        self._loading = False

    def load_latest(self) -> None:
        """Score the newest snapshot if it is newer than the current one (synchronous)."""
        self._checked = time.monotonic()
        dates = self.snapshots.dates(self.model.name)
        if not dates:
            return
        written = self.snapshots.path(self.model.name, dates[-1]).stat().st_mtime
        if self.current is not None and (self.current.as_of, self.current.written) >= (dates[-1], written):
            return
        features = self.snapshots.read(self.model.name, dates[-1])
        scored_at = dt.datetime.now(dt.UTC).replace(tzinfo=None, microsecond=0)
        scores = score_frame(
            features, self.model.model, as_of=dates[-1], model_name=self.model.name, model_version=self.model.version,
            scored_at=scored_at, cutoffs=self.cutoffs, explain_share=NIGHTLY_EXPLAIN_SHARE,
        )  # fmt: skip
        explain = ReasonsOnDemand(features, self.model.model, dates[-1], self.cutoffs)
        self.current = SnapshotScores(dates[-1], written, ScoreTable(scores, explain))

    def latest(self) -> SnapshotScores:
        """The current scores; starts a background look for a newer snapshot when it is time."""
        if time.monotonic() - self._checked >= self.poll_seconds:
            with self._lock:
                start = not self._loading
                self._loading = True
                self._checked = time.monotonic()
            if start:
                threading.Thread(target=self._refresh, daemon=True, name="churn-snapshot").start()
        if self.current is None:
            raise NotFound(f"no {self.model.name} feature snapshot in {self.snapshots.directory}: run `churn score` first")
        return self.current

    def _refresh(self) -> None:
        try:
            self.load_latest()
        except Exception as e:  # keep serving the previous snapshot
            log.error("scoring the newest %s feature snapshot failed: %s", self.model.name, type(e).__name__)
        finally:
            self._loading = False


def snapshot_explainer(scorer: SnapshotScorer | None, scores: pd.DataFrame):
    """A list's ``explain`` from the scorer's current snapshot when the scores are of its date and model version, else None."""
    current = scorer.current if scorer is not None else None
    if current is None or current.table.explain is None or not len(scores):
        return None
    first = scores.iloc[0]
    if pd.Timestamp(first["as_of"]).date() != current.as_of or str(first["model_version"]) != str(scorer.model.version):
        return None
    return current.table.explain.fill


# Published scores for the lists ----------------------------------------------------------------
class PublishedScores:
    """Scores read from the store, cached per (model, as_of, run); a rerun of a date is read again."""

    def __init__(self, store: ScoreStore, keep: int = 4) -> None:
        self.store, self.keep = store, keep
        self._cache: OrderedDict[tuple, pd.DataFrame] = OrderedDict()
        self._lock = threading.Lock()

    def _read(self, what, *args):
        """The store's answer; its faults arrive as ChurnErrors (StoreBusy 503, DependencyError 503), logged once here."""
        try:
            return what(*args)
        except ChurnError as e:
            if e.http_status == 503:
                log.warning("score store unavailable: %s", type(e).__name__)
            raise

    def scores(self, model_name: str, as_of: dt.date | None) -> pd.DataFrame:
        runs = self._read(self.store.runs, model_name)
        if not len(runs):
            raise NotFound(f"no published {model_name} scores in the score store: run `churn score` first")
        dates = pd.to_datetime(runs["as_of"]).dt.date
        chosen = runs[dates == as_of] if as_of is not None else runs.head(1)
        if not len(chosen):
            latest = ", ".join(d.isoformat() for d in dates.head(5))
            raise NotFound(f"no published {model_name} scores as of {as_of}; latest: {latest}")
        run = chosen.iloc[0]
        day = pd.Timestamp(run["as_of"]).date()
        key = (model_name, day, str(run["scored_at"]), str(run["model_version"]))
        with self._lock:
            if key in self._cache:
                self._cache.move_to_end(key)
                return self._cache[key]
        frame = self._read(self.store.read, model_name, day)
        if not len(frame):
            raise NotFound(f"no published {model_name} scores as of {day}")
        with self._lock:
            self._cache[key] = frame
            while len(self._cache) > self.keep:
                self._cache.popitem(last=False)
        return frame
