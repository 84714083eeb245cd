"""Reasons on demand: for listed or looked-up users the nightly job did not explain, cached per user and date.

The nightly job explains only the riskiest share of users (exact contributions
cost about 100 predictions, :mod:`serving.batch.scoring`). When a list or a
lookup shows a user without reasons, :class:`ReasonsOnDemand` computes them
from that date's feature snapshot with :func:`serving.batch.scoring.explain_rows`,
the nightly job's own function, so they are the reasons the nightly job would
have given; each (user, date) is computed once per process.
"""

from __future__ import annotations

import datetime as dt
import threading

import numpy as np
import pandas as pd

from features.catalog import USER_ID
from serving.batch.bands import BandCutoffs
from serving.batch.scoring import explain_rows
from serving.columns import PROBABILITY, REASONS
from training.estimator import ChurnClassifier


def _key(user_id: object) -> str:
    return str(user_id)


def unexplained(frame: pd.DataFrame) -> np.ndarray:
    """Positions of the rows of ``frame`` with no reason at all (not explained yet, or nothing to say)."""
    if not len(frame):
        return np.arange(0)
    return np.flatnonzero(frame[list(REASONS)].isna().all(axis=1).to_numpy())


class ReasonsOnDemand:
    """Reasons of the users of one scoring date, from its feature snapshot, computed when first asked for.

    features: the feature snapshot of ``as_of`` (one row per user, ``user_id`` among the columns).
    model: the model that scored that date (the same version). cutoffs: the bands the scores used.
    """

    def __init__(self, features: pd.DataFrame, model: ChurnClassifier, as_of: dt.date, cutoffs: BandCutoffs = BandCutoffs()) -> None:
        self.features, self.model, self.as_of, self.cutoffs = features, model, as_of, cutoffs
        self._positions = {_key(u): i for i, u in enumerate(features[USER_ID].to_numpy())}
        self._cache: dict[tuple[str, dt.date], tuple[str | None, ...]] = {}
        self._lock = threading.Lock()

    def reasons_of(self, user_ids: list, probabilities: np.ndarray) -> list[tuple[str | None, ...]]:
        """The three reason slots (None where there are fewer) of each user; all None for a user not in the snapshot."""
        keys = [_key(u) for u in user_ids]
        with self._lock:
            todo = [i for i, k in enumerate(keys) if (k, self.as_of) not in self._cache and k in self._positions]
        if todo:
            rows = self.features.iloc[[self._positions[keys[i]] for i in todo]]
            said = explain_rows(rows, self.model, np.asarray(probabilities, dtype=float)[todo], self.cutoffs)
            with self._lock:
                for i, words in zip(todo, said):
                    self._cache[(keys[i], self.as_of)] = tuple((words + [None, None, None])[:3])
        empty = (None,) * len(REASONS)
        return [self._cache.get((k, self.as_of), empty) for k in keys]

    def fill(self, frame: pd.DataFrame) -> pd.DataFrame:
        """``frame`` (a list or scores: ``user_id``, ``probability``, the reason columns) with every row's reasons.

        Only rows with no reason at all are computed; ``frame`` is not modified.
        """
        missing = unexplained(frame)
        if not len(missing):
            return frame
        said = self.reasons_of(frame[USER_ID].to_numpy()[missing].tolist(), frame[PROBABILITY].to_numpy(dtype=float)[missing])
        out = frame.copy()
        for slot, name in enumerate(REASONS):
            column = out[name].astype(object).to_numpy(copy=True)
            column[missing] = [words[slot] for words in said]
            out[name] = column
        return out
