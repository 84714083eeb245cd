"""The backtest's candidates: the model and the baselines a data scientist would reach for, all fitted on the same rows.

Churn (label 1 = the churn event does not happen):

* ``recency``: days since the last purchase, alone (no fit);
* ``logistic``: a logistic regression on the model's features (:mod:`training.baselines`);
* ``rfm_lightgbm``: the same calibrated LightGBM on seven RFM columns only, without BG/NBD inputs;
* ``bgnbd``: BG/NBD fitted on the training rows' latest snapshot; the score is its P(no purchase in the
  horizon) (a probability when churn means no order); ``bgnbd_expected``: fewer expected purchases in the
  horizon = more risk, a ranking. (1 - P(alive) alone ranks backwards on a population of recent buyers:
  BG/NBD deems every one-time buyer alive, and they are the likeliest to lapse.)

Activation (label 1 = a first purchase): ``visit_recency`` (days since the last event: the fewer, the
likelier) and ``logistic``.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from features.catalog import AS_OF, LABEL
from features.labels import EVENT_ORDER, ChurnDefinition
from training import baselines
from training import derived as D
from training.backtest import Candidate, Scorer
from training.btyd import BetaGeoModel
from training.estimator import ChurnClassifier

MODEL = "model"
RECENCY = "recency"
LOGISTIC = "logistic"
RFM_LIGHTGBM = "rfm_lightgbm"
BGNBD = "bgnbd"
BGNBD_EXPECTED = "bgnbd_expected"
VISIT_RECENCY = "visit_recency"
RFM_COLUMNS = (
    "days_since_last_order", "days_since_first_order", "orders_all", "purchase_days_all", "orders_90d", "spend_all", "avg_order_value",
)  # fmt: skip
LABELS = {
    MODEL: "this model",
    RECENCY: "days since last order",
    LOGISTIC: "logistic regression",
    RFM_LIGHTGBM: "LightGBM on RFM columns",
    BGNBD: "BG/NBD P(no purchase)",
    BGNBD_EXPECTED: "BG/NBD expected purchases",
    VISIT_RECENCY: "days since last visit",
}


def _latest(train: pd.DataFrame) -> pd.DataFrame:
    return train[train[AS_OF] == train[AS_OF].max()]


def _model(make: callable) -> callable:
    def fit(train: pd.DataFrame) -> Scorer:
        model = make().fit(train, train[LABEL], groups=train[AS_OF])
        return lambda frame: model.predict_proba(frame)[:, 1]

    return fit


def _logistic(seed: int) -> callable:
    def fit(train: pd.DataFrame) -> Scorer:
        model = baselines.logistic_baseline(train, train[LABEL].to_numpy(), seed)
        return lambda frame: baselines.logistic_score(model, frame)

    return fit


def _bgnbd(horizon_days: int, *, expected: bool) -> callable:
    def fit(train: pd.DataFrame) -> Scorer:
        summary, _ = D.rfm(_latest(train))
        model = BetaGeoModel(horizon_days=horizon_days, penalizer=D.PENALIZER).fit(summary)

        def score(frame: pd.DataFrame) -> np.ndarray:
            rows, known = D.rfm(frame)
            out = np.full(len(frame), 1.0)  # never bought: the most at risk
            if known.any():
                out[known] = -model.expected_purchases(rows, horizon_days) if expected else model.p_no_purchase(rows, horizon_days)
            return out

        return score

    return fit


def _rfm_frame(frame: pd.DataFrame) -> pd.DataFrame:
    return frame[[c for c in frame.columns if c in (*RFM_COLUMNS, AS_OF, LABEL)]]


def _rfm_lightgbm(make: callable) -> callable:
    inner = _model(make)

    def fit(train: pd.DataFrame) -> Scorer:
        score = inner(_rfm_frame(train))
        return lambda frame: score(_rfm_frame(frame))

    return fit


def _visit_recency(train: pd.DataFrame) -> Scorer:
    def score(frame: pd.DataFrame) -> np.ndarray:
        days = pd.to_numeric(frame["days_since_last_event"], errors="coerce").to_numpy(dtype=float)
        return -np.where(np.isnan(days), np.nanmax(days, initial=0.0) + 1.0, days)

    return score


def churn_candidates(make_model: callable, definition: ChurnDefinition, frame: pd.DataFrame, seed: int = 0) -> list[Candidate]:
    """The model (``make_model()`` builds an unfitted :class:`ChurnClassifier`) and every churn baseline ``frame`` allows."""
    out = [Candidate(MODEL, _model(make_model)), Candidate(RECENCY, lambda train: baselines.recency_score, probabilities=False)]
    out.append(Candidate(LOGISTIC, _logistic(seed)))
    if all(c in frame.columns for c in RFM_COLUMNS):
        out.append(Candidate(RFM_LIGHTGBM, _rfm_lightgbm(lambda: ChurnClassifier(**{**make_model().get_params(), "bgnbd": False}))))
    if D.available(frame):
        out.append(Candidate(BGNBD, _bgnbd(definition.horizon_days, expected=False), probabilities=definition.event == EVENT_ORDER))
        out.append(Candidate(BGNBD_EXPECTED, _bgnbd(definition.horizon_days, expected=True), probabilities=False))
    return out


def activation_candidates(make_model: callable, frame: pd.DataFrame, seed: int = 0) -> list[Candidate]:
    """The activation model and its baselines: days since the last visit, logistic regression."""
    out = [Candidate(MODEL, _model(make_model)), Candidate(LOGISTIC, _logistic(seed))]
    if "days_since_last_event" in frame.columns:
        out.insert(1, Candidate(VISIT_RECENCY, _visit_recency, probabilities=False))
    return out
