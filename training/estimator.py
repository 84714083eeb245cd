"""The churn / activation classifier: LightGBM plus probability calibration, scikit-learn style.

``fit`` holds back the latest training snapshot (rows of the largest ``as_of``
in ``groups``) for early stopping and calibration, so nothing is split at
random and the calibration data is later in time than the trees' data.
The fitted model is plain data: the booster in LightGBM's text format, the
feature list, the training categories and the isotonic calibration's
breakpoints. :meth:`save` / :meth:`load` write and read them as text and
JSON; no pickle.
"""

from __future__ import annotations

import json
from pathlib import Path

import lightgbm as lgb
import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.isotonic import IsotonicRegression
from sklearn.utils.validation import check_is_fitted

from features.catalog import AS_OF, LABEL, USER_ID
from features.errors import ChurnError
from training import drift

BOOSTER_FILE = "booster.txt"
META_FILE = "model.json"
NOT_FEATURES = (USER_ID, AS_OF, LABEL)
HELD_BACK_SHARE = 0.2  # when there is a single snapshot: the last rows, in order


class ModelInputError(ChurnError):
    """A frame given to a fitted model lacks columns or has wrong types."""

    exit_code = 2
    http_status = 400


class ChurnClassifier(ClassifierMixin, BaseEstimator):
    """Gradient-boosted trees with isotonic calibration.

    Parameters are LightGBM's (``num_leaves``, ``learning_rate``...), plus
    ``max_rounds`` and ``early_stopping_rounds``. Learned attributes end in
    ``_``: ``features_``, ``categories_``, ``booster_``, ``calibration_``,
    ``best_iteration_`` and ``reference_`` (the profile of the latest training
    snapshot, for population stability checks, :mod:`training.drift`).
    """

    def __init__(
        self,
        *,
        num_leaves: int = 31,
        learning_rate: float = 0.05,
        max_rounds: int = 2000,
        early_stopping_rounds: int = 50,
        min_child_samples: int = 50,
        feature_fraction: float = 0.9,
        reg_lambda: float = 1.0,
        seed: int = 0,
        n_jobs: int = 2,
    ) -> None:
        self.num_leaves = num_leaves
        self.learning_rate = learning_rate
        self.max_rounds = max_rounds
        self.early_stopping_rounds = early_stopping_rounds
        self.min_child_samples = min_child_samples
        self.feature_fraction = feature_fraction
        self.reg_lambda = reg_lambda
        self.seed = seed
        self.n_jobs = n_jobs

    def _params(self) -> dict:
        return {
            "objective": "binary",
            "num_leaves": self.num_leaves,
            "learning_rate": self.learning_rate,
            "min_child_samples": self.min_child_samples,
            "feature_fraction": self.feature_fraction,
            "lambda_l2": self.reg_lambda,
            "seed": self.seed,
            "num_threads": self.n_jobs,
            "deterministic": True,
            "force_row_wise": True,
            "verbose": -1,
        }

    def fit(self, X: pd.DataFrame, y: np.ndarray | pd.Series, groups: np.ndarray | pd.Series | None = None) -> ChurnClassifier:
        """Fit on feature frame ``X`` (id, as_of and label columns are ignored) and labels ``y``.

        groups: the snapshot date of each row; the latest one is held back for
        early stopping and calibration. Without it, the last 20 % of rows are.
        """
        y = np.asarray(y, dtype=int)
        self.features_ = [c for c in X.columns if c not in NOT_FEATURES]
        self.categories_ = {
            c: [str(v) for v in X[c].cat.categories] for c in self.features_ if isinstance(X[c].dtype, pd.CategoricalDtype)
        }
        if groups is not None and len(np.unique(np.asarray(groups))) >= 2:
            g = np.asarray(groups)
            held = g == np.max(g)
        else:
            held = np.arange(len(X)) >= int(len(X) * (1 - HELD_BACK_SHARE))
        matrix = self.matrix(X)
        train = lgb.Dataset(matrix[~held], y[~held], categorical_feature=list(self.categories_) or "auto", free_raw_data=False)
        valid = lgb.Dataset(matrix[held], y[held], reference=train)
        self.booster_ = lgb.train(
            self._params(),
            train,
            num_boost_round=self.max_rounds,
            valid_sets=[valid],
            callbacks=[lgb.early_stopping(self.early_stopping_rounds, verbose=False)],
        )
        self.best_iteration_ = int(self.booster_.best_iteration or self.booster_.current_iteration())
        raw = self.booster_.predict(matrix[held], num_iteration=self.best_iteration_)
        iso = IsotonicRegression(out_of_bounds="clip", y_min=0.0, y_max=1.0).fit(raw, y[held])
        self.calibration_ = (iso.X_thresholds_.tolist(), iso.y_thresholds_.tolist())
        self.classes_ = np.array([0, 1])
        # What the training rows looked like, for the nightly job's population stability checks.
        # The held-back rows are the latest snapshot: the population as it was just before "today".
        latest = X[held]
        self.reference_ = drift.profile(self.matrix(latest), list(self.categories_), self.predict_proba(latest)[:, 1])
        return self

    def matrix(self, X: pd.DataFrame) -> pd.DataFrame:
        """``X`` as the model's input: its features in order, categories with the training levels."""
        missing = [c for c in getattr(self, "features_", []) if c not in X.columns]
        if missing:
            raise ModelInputError(f"model input lacks column {', '.join(missing)}")
        out = {}
        for c in self.features_:
            col = X[c]
            if c in self.categories_:
                values = col.astype("object").where(col.notna(), None)
                values = values.map(lambda v: None if v is None else str(v))
                known = values.where(values.isin(self.categories_[c]), None)  # unseen levels -> missing
                out[c] = pd.Categorical(known, categories=self.categories_[c])
            else:
                try:
                    out[c] = pd.to_numeric(col, errors="raise").astype("float64")
                except (TypeError, ValueError):
                    raise ModelInputError(f"model input column {c} is not numeric") from None
        return pd.DataFrame(out, index=X.index)

    def raw_score(self, X: pd.DataFrame) -> np.ndarray:
        """Uncalibrated booster probabilities."""
        check_is_fitted(self, "booster_")
        return self.booster_.predict(self.matrix(X), num_iteration=self.best_iteration_)

    def predict_proba(self, X: pd.DataFrame) -> np.ndarray:
        """Calibrated probabilities, shape (n, 2): column 1 is P(label = 1)."""
        xs, ys = self.calibration_
        p = np.interp(self.raw_score(X), xs, ys)
        return np.column_stack([1.0 - p, p])

    def predict(self, X: pd.DataFrame) -> np.ndarray:
        return (self.predict_proba(X)[:, 1] >= 0.5).astype(int)

    def contributions(self, X: pd.DataFrame) -> pd.DataFrame:
        """Per-row feature contributions in log-odds (LightGBM ``pred_contrib``) and the ``baseline`` column."""
        check_is_fitted(self, "booster_")
        values = self.booster_.predict(self.matrix(X), num_iteration=self.best_iteration_, pred_contrib=True)
        return pd.DataFrame(values, columns=[*self.features_, "baseline"], index=X.index)

    def feature_importance(self) -> pd.Series:
        """Total gain per feature, largest first."""
        check_is_fitted(self, "booster_")
        gain = self.booster_.feature_importance(importance_type="gain", iteration=self.best_iteration_)
        return pd.Series(gain, index=self.features_).sort_values(ascending=False)

    def save(self, directory: Path) -> Path:
        """Write the fitted model as text (booster) and JSON (everything else)."""
        check_is_fitted(self, "booster_")
        directory = Path(directory)
        directory.mkdir(parents=True, exist_ok=True)
        (directory / BOOSTER_FILE).write_text(self.booster_.model_to_string(num_iteration=self.best_iteration_))
        meta = {
            "params": self.get_params(),
            "features": self.features_,
            "categories": self.categories_,
            "calibration": {"x": self.calibration_[0], "y": self.calibration_[1]},
            "best_iteration": self.best_iteration_,
            "reference": getattr(self, "reference_", None),
        }
        (directory / META_FILE).write_text(json.dumps(meta, indent=1))
        return directory

    @classmethod
    def load(cls, directory: Path) -> ChurnClassifier:
        """Read a model written by :meth:`save`."""
        directory = Path(directory)
        meta = json.loads((directory / META_FILE).read_text())
        model = cls(**meta["params"])
        model.features_ = meta["features"]
        model.categories_ = meta["categories"]
        model.calibration_ = (meta["calibration"]["x"], meta["calibration"]["y"])
        model.booster_ = lgb.Booster(model_str=(directory / BOOSTER_FILE).read_text())
        model.best_iteration_ = int(model.booster_.current_iteration())
        model.reference_ = meta.get("reference")  # None for models saved before profiles were recorded
        model.classes_ = np.array([0, 1])
        return model
