"""Scoring a population at a date: probabilities, bands, percentiles, reasons and value at risk.

A pure function over the feature frame and a fitted model; reading the data,
loading the model and writing the scores happen at the edges (the nightly job
and the service). The same function serves both, so they cannot disagree.
"""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd

from features.asof import AsOf, as_of_date
from features.catalog import AS_OF, USER_ID
from serving.bands import BandCutoffs, percentile, risk_band
from serving.reasons import reasons
from training.estimator import ChurnClassifier

PROBABILITY = "probability"
BAND = "risk_band"
PERCENTILE = "percentile"
REASONS = ("reason_1", "reason_2", "reason_3")
VALUE_AT_RISK = "value_at_risk"
VALUE_SOURCE = "spend_90d"  # value at risk: what the user spent in the last 90 days
MODEL_NAME = "model_name"
MODEL_VERSION = "model_version"
SCORED_AT = "scored_at"
SCORE_COLUMNS = (USER_ID, AS_OF, PROBABILITY, BAND, PERCENTILE, *REASONS, VALUE_AT_RISK, MODEL_NAME, MODEL_VERSION, SCORED_AT)


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
    """The scores table for the users in ``features`` (one row each, highest risk first).

    features: the feature frame at ``as_of`` (``user_id`` plus the model's features).
    scored_at: when the job ran (recorded, never used to compute anything).
    """
    p = model.predict_proba(features)[:, 1]
    said = reasons(model.contributions(features), features)
    padded = [(r + [None, None, None])[:3] for r in said]
    value = features[VALUE_SOURCE].to_numpy(dtype=float) if VALUE_SOURCE in features.columns else np.full(len(features), np.nan)
    out = pd.DataFrame(
        {
            USER_ID: features[USER_ID].to_numpy(),
            AS_OF: as_of_date(as_of),
            PROBABILITY: p,
            BAND: risk_band(p, cutoffs),
            PERCENTILE: percentile(p),
            **{name: [r[i] for r in padded] for i, name in enumerate(REASONS)},
            VALUE_AT_RISK: value,
            MODEL_NAME: model_name,
            MODEL_VERSION: str(model_version),
            SCORED_AT: pd.Timestamp(scored_at),
        }
    )
    return out.sort_values([PROBABILITY, USER_ID], ascending=[False, True], kind="stable", ignore_index=True)
