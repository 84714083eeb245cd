"""Scoring a population at a date: probabilities, bands, percentiles, reasons and value at risk.

Pure functions over the feature frame and a fitted model; reading the data,
loading the model and writing the scores happen at the edges (the nightly job
and the service). The same functions serve both, so they cannot disagree.

Scoring has two steps so that the row-wise part can run in partitions (Spark's
``mapInPandas``) and only the population-wide part (percentiles, order) runs
once: :func:`score_rows` (per user, any partition) and :func:`finish_scores`
(the whole population). :func:`score_frame` does both.

Reasons cost far more than probabilities (exact TreeSHAP, LightGBM's
``pred_contrib``, is about 100 times a ``predict``), and they are read only
for the users who land on a list or are looked up. So the nightly scores carry
reasons for the riskiest share of users (``NIGHTLY_EXPLAIN_SHARE``); the others
get them on demand when a list or a lookup shows them
(:mod:`serving.batch.contributions`), with the same function,
:func:`explain_rows`, so a reason does not depend on when it was computed.
"""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd

from features.asof import AsOf, as_of_date
from features.catalog import USER_ID
from serving.batch.bands import BandCutoffs, percentile, risk_band
from serving.columns import (
    AS_OF,
    BAND,
    CATEGORY_SOURCES,
    MODEL_NAME,
    MODEL_VERSION,
    PERCENTILE,
    PROBABILITY,
    REASONS,
    ROW_COLUMNS,
    SCORE_COLUMNS,
    SCORED_AT,
    SEGMENTS,
    TOP_CATEGORY,
    VALUE_AT_RISK,
    VALUE_SOURCE,
)
from serving.batch.reasons import reasons
from training.estimator import ChurnClassifier


def _text(features: pd.DataFrame, name: str) -> pd.Series:
    """A profile or category column as text (None when absent or missing)."""
    if name not in features.columns:
        return pd.Series([None] * len(features), index=features.index, dtype=object)
    col = features[name]
    return col.astype(object).where(col.notna(), None).map(lambda v: None if v is None else str(v))


def model_inputs(features: pd.DataFrame, model: ChurnClassifier) -> pd.DataFrame:
    """``features`` with the model's derived inputs (``model.derived``, when the model has any) as extra columns."""
    derived = getattr(model, "derived", None)
    if derived is None:
        return features
    extra = derived(features)
    if extra is None or not len(extra.columns):
        return features
    extra = pd.DataFrame(extra).set_axis(features.index)
    return pd.concat([features, extra[[c for c in extra.columns if c not in features.columns]]], axis=1)


def explain_rows(features: pd.DataFrame, model: ChurnClassifier, p: np.ndarray, cutoffs: BandCutoffs = BandCutoffs()) -> list[list[str]]:
    """Up to three reasons per row of ``features`` (probabilities ``p``), in the direction of the score.

    A user scored from ``cutoffs.medium`` up gets what raises the risk; a
    lower-scored one what keeps them (or nothing). Exact contributions
    (:meth:`ChurnClassifier.contributions`) of these rows only.
    """
    if not len(features):
        return []
    return reasons(model.contributions(features), model_inputs(features, model), risk=np.asarray(p) >= cutoffs.medium)


NIGHTLY_EXPLAIN_SHARE = 0.02  # the riskiest share of users the nightly job explains; lists explain the rest on demand


def riskiest(p: np.ndarray, share: float) -> np.ndarray:
    """Positions of the riskiest ``ceil(share * len(p))`` rows, in row order (ties: the earlier row first)."""
    p = np.asarray(p, dtype=float)
    if share >= 1:
        return np.arange(len(p))
    k = int(np.ceil(max(share, 0.0) * len(p)))
    return np.sort(np.argsort(-p, kind="stable")[:k])


def score_rows(
    features: pd.DataFrame,
    model: ChurnClassifier,
    *,
    cutoffs: BandCutoffs = BandCutoffs(),
    explain_from: float = 0.0,
    explain_share: float = 1.0,
) -> pd.DataFrame:
    """Per-user scores (``ROW_COLUMNS``) for the rows of ``features``, in their order.

    Reasons are computed for the riskiest ``explain_share`` of these rows
    (:func:`riskiest`) scored from ``explain_from`` up (defaults: everyone); the others
    have none yet (:mod:`serving.batch.contributions` adds them when a list or a
    lookup needs them). Scored in partitions, the share is each partition's.
    Row-wise otherwise: a user's probability and segments do not depend on the other rows.
    """
    p = model.predict_proba(features)[:, 1]
    top = riskiest(p, explain_share)
    chosen = top[p[top] >= explain_from]
    slots = [np.full(len(features), None, dtype=object) for _ in REASONS]  # reason columns, empty unless explained
    said = explain_rows(features.iloc[chosen], model, p[chosen], cutoffs)
    for i, column in enumerate(slots):
        column[chosen] = [words[i] if i < len(words) else None for words in said]
    value = features[VALUE_SOURCE].to_numpy(dtype=float) if VALUE_SOURCE in features.columns else np.full(len(features), np.nan)
    # The first known of: the most bought category, the most browsed one (new users have no orders).
    category = pd.Series([None] * len(features), index=features.index, dtype=object)
    for source in CATEGORY_SOURCES:
        category = category.where(category.notna(), _text(features, source))
    return pd.DataFrame(
        {
            USER_ID: features[USER_ID].to_numpy(),
            PROBABILITY: p,
            **dict(zip(REASONS, slots)),
            VALUE_AT_RISK: value,
            **{name: _text(features, name).to_numpy() for name in SEGMENTS},
            TOP_CATEGORY: category.to_numpy(),
        }
    )


def finish_scores(
    rows: pd.DataFrame,
    *,
    as_of: AsOf,
    model_name: str,
    model_version: str,
    scored_at: dt.datetime,
    cutoffs: BandCutoffs = BandCutoffs(),
) -> pd.DataFrame:
    """The scores table (``SCORE_COLUMNS``) from the whole population's :func:`score_rows`, highest risk first.

    scored_at: when the job ran (recorded, never used to compute anything).
    """
    rows = rows.sort_values([PROBABILITY, USER_ID], ascending=[False, True], kind="stable", ignore_index=True)
    p = rows[PROBABILITY].to_numpy(dtype=float)
    out = rows.assign(
        **{
            AS_OF: as_of_date(as_of),
            BAND: risk_band(p, cutoffs),
            PERCENTILE: percentile(p),
            MODEL_NAME: model_name,
            MODEL_VERSION: str(model_version),
            SCORED_AT: pd.Timestamp(scored_at),
        }
    )
    return out[list(SCORE_COLUMNS)]


def score_frame(
    features: pd.DataFrame,
    model: ChurnClassifier,
    *,
    as_of: AsOf,
    model_name: str,
    model_version: str,
    scored_at: dt.datetime,
    cutoffs: BandCutoffs = BandCutoffs(),
    explain_share: float = 1.0,
) -> pd.DataFrame:
    """The scores table for the users in ``features`` (the feature frame at ``as_of``), highest risk first.

    explain_share: the riskiest share of users that get their reasons now (see :func:`score_rows`).
    """
    return finish_scores(
        score_rows(features, model, cutoffs=cutoffs, explain_share=explain_share), as_of=as_of, model_name=model_name, model_version=model_version,
        scored_at=scored_at, cutoffs=cutoffs,
    )  # fmt: skip
