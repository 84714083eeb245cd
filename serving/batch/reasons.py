"""Reasons in words: what moves a user's churn risk the way their score points, said as a CRM analyst would.

Input: the model's per-user contributions (log-odds, :meth:`ChurnClassifier.contributions`),
the user's feature values, and the direction of each row: ``risk`` rows (a
medium or high score) get the features that push the risk up, said as risks;
``keep`` rows (a low score) get the features that hold it down, said as what
keeps the user (:mod:`serving.batch.themes`). A user gets at most one reason
per theme, never the same words twice, and only features with a template.

Built for many users: the contributions are ranked for all rows at once with
numpy, then the walk down each row's ranking runs one rank at a time over all
rows still looking for a reason, and each template words every user that
reached it in one call over plain values (no pandas row per user).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import pandas as pd

from serving.batch.themes import RISK, TEMPLATES, THEMES, Template, covers, template

BASELINE = "baseline"  # the contributions' intercept column: never a reason
CHUNK_ROWS = 1 << 17  # rows ranked together; bounds the memory of the ranking (8 bytes per contribution)

__all__ = ["BASELINE", "RISK", "TEMPLATES", "Reason", "explained", "reasons", "template"]


@dataclass(frozen=True)
class Reason:
    """One reason of one user: its words, its theme, whether it is said as a risk, and the feature behind it."""

    text: str
    theme: str
    risk: bool
    feature: str


def _num(value: object) -> float | None:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return None
    try:
        out = float(value)
    except (TypeError, ValueError):
        return None
    return None if math.isnan(out) else out


class _Values:
    """The feature frame's values for a template, picked by row position, as plain Python values."""

    def __init__(self, features: pd.DataFrame) -> None:
        self._features = features
        self._columns: dict[str, np.ndarray | pd.api.extensions.ExtensionArray | None] = {}

    def _column(self, name: str):
        if name not in self._columns:
            column = self._features[name] if name in self._features.columns else None
            self._columns[name] = None if column is None else column.to_numpy() if isinstance(column.dtype, np.dtype) else column.array
        return self._columns[name]

    def numbers(self, name: str, rows: np.ndarray) -> list[float | None]:
        column = self._column(name)
        if column is None:
            return [None] * len(rows)
        if isinstance(column, np.ndarray) and column.dtype.kind in "iubf":
            return [None if v != v else v for v in column[rows].astype(np.float64).tolist()]  # v != v: NaN
        return [_num(v) for v in list(column.take(rows) if not isinstance(column, np.ndarray) else column[rows])]

    def raw(self, name: str, rows: np.ndarray) -> list:
        column = self._column(name)
        if column is None:
            return [None] * len(rows)
        picked = column[rows] if isinstance(column, np.ndarray) else column.take(rows)
        return [None if v is None or (isinstance(v, float) and v != v) or v is pd.NA else str(v) for v in list(picked)]

    def say(self, t: Template, rows: np.ndarray, risk: np.ndarray) -> list[str | None]:
        pick = self.numbers if t.numbers else self.raw
        return [t.say(bool(r), *values) for r, *values in zip(risk.tolist(), *(pick(name, rows) for name in t.reads))]


def _strongest_first(weights: np.ndarray) -> np.ndarray:
    """Per row, the column positions by decreasing weight (ties: column order), missing weights last."""
    filled = np.where(np.isnan(weights), -np.inf, weights)
    return np.argsort(-filled, axis=1, kind="stable")


def _walk(
    weights: np.ndarray, first_row: int, templates: list[Template | None], theme: np.ndarray, risk: np.ndarray,
    values: _Values, top: int,
) -> list[list[tuple[str, int]]]:  # fmt: skip
    """(text, column) reasons for rows ``first_row, ...``; ``weights`` signed so that larger = in the row's direction.

    Goes down the ranking one rank at a time for every row still looking for a
    reason: a row stops at its first weight <= 0 (or missing) or when it has
    ``top`` reasons; a feature whose theme the row already has, without a
    template, or whose words are nothing or already said, passes to the next rank.
    """
    themes = {name: i for i, name in enumerate(THEMES)}
    n, m = weights.shape
    order = _strongest_first(weights)
    out: list[list[tuple[str, int]]] = [[] for _ in range(n)]
    said: list[set[str]] = [set() for _ in range(n)]
    used = np.zeros((n, len(THEMES) + 1), dtype=bool)
    count = np.zeros(n, dtype=np.int64)
    looking = np.arange(n) if top > 0 else np.arange(0)
    for rank in range(m):
        if not len(looking):
            break
        column = order[looking, rank]
        strong = weights[looking, column] > 0  # NaN compares False: the walk ends there
        looking, column = looking[strong], column[strong]
        fresh = ~used[looking, theme[column]]
        rows, column = looking[fresh], column[fresh]
        by_feature = np.argsort(column, kind="stable")
        present, starts = np.unique(column[by_feature], return_index=True)
        for c, at in zip(present.tolist(), np.split(rows[by_feature], starts[1:])):
            t = templates[c]
            if t is None:
                continue
            for r, text in zip(at.tolist(), values.say(t, at + first_row, risk[at])):
                if not text or text in said[r]:
                    continue
                spoken = [themes[name] for name in covers(text, t.theme)]
                if used[r, spoken].any():
                    continue  # a joint reason whose other theme was already said
                out[r].append((text, c))
                said[r].add(text)
                used[r, spoken] = True
                count[r] += 1
        looking = looking[count[looking] < top]
    return out


def explained(contributions: pd.DataFrame, features: pd.DataFrame, risk: np.ndarray | pd.Series | bool = RISK, top: int = 3) -> list[list[Reason]]:
    """For each row, up to ``top`` :class:`Reason` objects, strongest first, in the direction of its score.

    contributions: per-row log-odds contributions (columns = features, plus ``baseline``).
    features: the same rows' feature values (rows matched by index label); derived model inputs
        (:meth:`ChurnClassifier.derived`) may be columns here too.
    risk: per row (or one for all), True for a medium or high score (reasons that raise the risk,
        said as risks), False for a low score (reasons that hold it down, said as what keeps the user).
    """
    columns = [c for c in contributions.columns if c != BASELINE]
    if not features.index.equals(contributions.index):
        features = features.loc[contributions.index]
    templates = [template(name) for name in columns]
    themes = {name: i for i, name in enumerate(THEMES)}
    theme = np.array([themes[t.theme] if t is not None else len(THEMES) for t in templates], dtype=np.int64)
    direction = np.broadcast_to(np.asarray(risk, dtype=bool), (len(contributions),))
    raw = contributions[columns].to_numpy(dtype=np.float64, na_value=np.nan) if columns else np.zeros((len(contributions), 0))
    values = _Values(features)
    out: list[list[Reason]] = []
    for start in range(0, len(raw), CHUNK_ROWS):
        part = raw[start : start + CHUNK_ROWS]
        sign = np.where(direction[start : start + CHUNK_ROWS], 1.0, -1.0)[:, None]
        walked = _walk(part * sign, start, templates, theme, direction[start : start + CHUNK_ROWS], values, top)
        for row, r in zip(walked, direction[start : start + CHUNK_ROWS].tolist()):
            out.append([Reason(text, templates[c].theme, r, columns[c]) for text, c in row])
    return out


def reasons(contributions: pd.DataFrame, features: pd.DataFrame, risk: np.ndarray | pd.Series | bool = RISK, top: int = 3) -> list[list[str]]:
    """The words of :func:`explained`: for each row, up to ``top`` reasons, strongest first."""
    return [[r.text for r in row] for row in explained(contributions, features, risk, top)]
