"""What a CRM analyst would do by hand, evaluated beside the model on the same rows.

* recency: rank users by days since their last purchase (never bought = most at risk);
* logistic regression on the same features (median-imputed, standardised, one-hot categories).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from sklearn.compose import ColumnTransformer
from sklearn.impute import SimpleImputer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler

from training.estimator import NOT_FEATURES

RECENCY = "days_since_last_order"


def recency_score(frame: pd.DataFrame) -> np.ndarray:
    """Days since the last purchase as a risk score (users who never bought score highest)."""
    days = frame[RECENCY].to_numpy(dtype=float)
    return np.where(np.isnan(days), np.nanmax(days, initial=0.0) + 1.0, days)


def logistic_baseline(train: pd.DataFrame, y: np.ndarray, seed: int = 0) -> Pipeline:
    """A fitted logistic regression on the model's features."""
    # A column with no observed value (no new user has a main category yet) carries nothing.
    features = [c for c in train.columns if c not in NOT_FEATURES and train[c].notna().any()]
    categorical = [c for c in features if isinstance(train[c].dtype, pd.CategoricalDtype)]
    numeric = [c for c in features if c not in categorical]
    prepare = ColumnTransformer(
        [
            ("num", make_pipeline(SimpleImputer(strategy="median", keep_empty_features=True), StandardScaler()), numeric),
            ("cat", make_pipeline(SimpleImputer(strategy="constant", fill_value="missing"), OneHotEncoder(handle_unknown="ignore")), categorical),
        ]
    )
    model = make_pipeline(prepare, LogisticRegression(max_iter=2000, C=1.0, random_state=seed))
    return model.fit(_as_objects(train[features], categorical), y)


def logistic_score(model: Pipeline, frame: pd.DataFrame) -> np.ndarray:
    prepare = model.steps[0][1]
    columns = [c for _, _, cols in prepare.transformers for c in cols]
    categorical = [c for c in columns if isinstance(frame[c].dtype, pd.CategoricalDtype)]
    numeric = [c for c in columns if c not in categorical]
    clean = _as_objects(frame[columns], categorical)
    clean[numeric] = clean[numeric].astype(float).clip(-1e12, 1e12)
    return model.predict_proba(clean)[:, 1]


def _as_objects(frame: pd.DataFrame, categorical: list[str]) -> pd.DataFrame:
    out = frame.copy()
    for c in categorical:
        out[c] = out[c].astype("object").where(out[c].notna(), np.nan)
    numeric = [c for c in out.columns if c not in categorical]
    out[numeric] = out[numeric].astype(float).replace([np.inf, -np.inf], np.nan).clip(-1e12, 1e12)
    return out
