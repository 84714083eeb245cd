"""Population stability: how far today's features and scores have moved from the training data.

At fit time the model records a *profile* of its training rows: for each
numeric feature (and for the score) the decile edges and the share of rows in
each bin plus the share missing; for each categorical feature the share of each
training category, of unseen values and of missing ones. At scoring time the
same bins are filled with today's rows and compared with the population
stability index,

    PSI = sum over bins of (actual - expected) x ln(actual / expected),

with shares floored at ``FLOOR`` so that an empty bin does not give infinity.
Rules of thumb used by the nightly job: under 0.1 stable, 0.1-0.25 worth a
look (warn), over 0.25 the population has changed (fail). With few rows the
index is mostly noise (about (bins - 1) / rows when nothing changed), so
populations under ``MIN_ROWS`` are not checked.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import pandas as pd

BINS = 10
FLOOR = 1e-4
MIN_ROWS = 500
SCORE = "score"
NUMERIC, CATEGORY = "numeric", "category"


def _numeric_profile(values: np.ndarray) -> dict:
    present = values[~np.isnan(values)]
    edges = np.unique(np.quantile(present, np.linspace(0, 1, BINS + 1)[1:-1])) if len(present) else np.array([])
    profile = {"kind": NUMERIC, "edges": edges.tolist()}
    profile["shares"] = _numeric_shares(profile, values).tolist()
    return profile


def _numeric_shares(profile: Mapping, values: np.ndarray) -> np.ndarray:
    """Shares of ``values`` in the profile's bins, the last one being "missing"."""
    edges = np.asarray(profile["edges"], dtype=float)
    missing = np.isnan(values)
    bins = np.searchsorted(edges, values[~missing], side="right")
    counts = np.bincount(bins, minlength=len(edges) + 1).astype(float)
    counts = np.append(counts, missing.sum())
    return counts / max(len(values), 1)


def _category_profile(values: pd.Series) -> dict:
    text = values.astype(object).where(values.notna(), None)
    levels = sorted({str(v) for v in text if v is not None})
    profile = {"kind": CATEGORY, "levels": levels}
    profile["shares"] = _category_shares(profile, values).tolist()
    return profile


def _category_shares(profile: Mapping, values: pd.Series) -> np.ndarray:
    """Shares of each training level, then unseen values, then missing."""
    text = values.astype(object).where(values.notna(), None).map(lambda v: None if v is None else str(v))
    levels = profile["levels"]
    counts = [float((text == level).sum()) for level in levels]
    missing = float(text.isna().sum())
    unseen = len(text) - sum(counts) - missing
    return np.array([*counts, unseen, missing]) / max(len(text), 1)


def _as_float(values: pd.Series | np.ndarray) -> np.ndarray:
    return pd.to_numeric(pd.Series(values), errors="coerce").to_numpy(dtype=float)


def profile(features: pd.DataFrame, categorical: list[str] | tuple[str, ...], score: np.ndarray) -> dict:
    """The reference profile of training rows: every column of ``features`` and the model's ``score``."""
    columns = {
        name: _category_profile(features[name]) if name in categorical else _numeric_profile(_as_float(features[name]))
        for name in features.columns
    }
    return {"features": columns, SCORE: _numeric_profile(_as_float(score)), "rows": len(features)}


def psi(expected: np.ndarray, actual: np.ndarray) -> float:
    """Population stability index between two share vectors over the same bins."""
    e = np.maximum(np.asarray(expected, dtype=float), FLOOR)
    a = np.maximum(np.asarray(actual, dtype=float), FLOOR)
    return float(np.sum((a - e) * np.log(a / e)))


def _shares(column_profile: Mapping, values) -> np.ndarray:
    if column_profile["kind"] == CATEGORY:
        return _category_shares(column_profile, pd.Series(values))
    return _numeric_shares(column_profile, _as_float(values))


def stability(reference: Mapping, features: pd.DataFrame, score: np.ndarray) -> dict[str, float]:
    """PSI of each profiled feature present in ``features`` and of the score (key ``"score"``) against ``reference``."""
    out = {
        name: psi(column["shares"], _shares(column, features[name]))
        for name, column in reference["features"].items()
        if name in features.columns
    }
    out[SCORE] = psi(reference[SCORE]["shares"], _shares(reference[SCORE], score))
    return out
