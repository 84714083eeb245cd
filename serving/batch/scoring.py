"""Scoring a population at a date: probabilities, bands, percentiles, reasons and value at risk.

Pure functions over the feature frame and a fitted model; reading the data,
loading the model and writing the scores happen at the edges (the nightly job
and the service). The same functions serve both, so they cannot disagree.

Scoring has two steps so that the row-wise part can run in partitions (Spark's
``mapInPandas``) and only the population-wide part (percentiles, order) runs
once: :func:`score_rows` (per user, any partition) and :func:`finish_scores`
(the whole population). :func:`score_frame` does both.
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


def score_rows(features: pd.DataFrame, model: ChurnClassifier) -> pd.DataFrame:
    """Per-user scores (``ROW_COLUMNS``) for the rows of ``features``, in their order.

    Row-wise only: the result for a user does not depend on the other rows, so
    partitions can be scored separately and concatenated.
    """
    p = model.predict_proba(features)[:, 1]
    said = reasons(model.contributions(features), features)
    padded = [(r + [None, None, None])[:3] for r in said]
    value = features[VALUE_SOURCE].to_numpy(dtype=float) if VALUE_SOURCE in features.columns else np.full(len(features), np.nan)
    # The first known of: the most bought category, the most browsed one (new users have no orders).
    category = pd.Series([None] * len(features), index=features.index, dtype=object)
    for source in CATEGORY_SOURCES:
        category = category.where(category.notna(), _text(features, source))
    return pd.DataFrame(
        {
            USER_ID: features[USER_ID].to_numpy(),
            PROBABILITY: p,
            **{name: [r[i] for r in padded] for i, name in enumerate(REASONS)},
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
) -> pd.DataFrame:
    """The scores table for the users in ``features`` (the feature frame at ``as_of``), highest risk first."""
    return finish_scores(
        score_rows(features, model), as_of=as_of, model_name=model_name, model_version=model_version,
        scored_at=scored_at, cutoffs=cutoffs,
    )  # fmt: skip
