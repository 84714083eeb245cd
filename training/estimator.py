"""The churn / activation classifier: LightGBM plus probability calibration, scikit-learn style.

``fit`` holds back the latest training snapshot (rows of the largest ``as_of``
in ``groups``) for early stopping and calibration, so nothing is split at
random and the calibration data is later in time than the trees' data.
Calibration is a beta map (:mod:`training.calibration`): monotone, so it keeps
the ranking, and never 0 or 1. Besides the features it is given, the model
computes derived inputs itself (:mod:`training.derived`: BG/NBD's P(alive)
and expected purchases, from a BG/NBD fitted on the training rows), so
``predict_proba`` and ``contributions`` take the plain feature frame;
:meth:`derived` shows their values. Small data gets stronger regularisation
(``min_child_samples="auto"`` grows with the rows, ``max_depth`` caps trees).
The fitted model is plain data: the booster in LightGBM's text format, the
feature list, the training categories, the calibration and BG/NBD parameters.
:meth:`save` / :meth:`load` write and read them as text and JSON; no pickle.
Models saved with isotonic calibration (breakpoints) still load.

It keeps scikit-learn's estimator contract (``check_estimator`` passes, see
tests/training/test_estimator_checks.py): a DataFrame is read by column name
(categories as categories; ``user_id``, ``as_of`` and ``label`` ignored), any
other 2-D array as numbers in columns ``x0, x1, ...``. Missing values (NaN)
are allowed, as LightGBM handles them; infinite values, empty data, a target
of more or fewer than two classes are errors; every method but ``fit`` needs
a fitted model (``NotFittedError``). ``__sklearn_tags__`` declares this.
"""

from __future__ import annotations

import json
from pathlib import Path

import lightgbm as lgb
import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.utils.multiclass import type_of_target
from sklearn.utils.validation import check_array, check_is_fitted, column_or_1d

from features.catalog import AS_OF, LABEL, USER_ID
from features.errors import ChurnError
from sklearn.metrics import roc_auc_score

from training import derived as D
from training import drift
from training.calibration import apply_beta, fit_beta

BOOSTER_FILE = "booster.txt"
META_FILE = "model.json"
NOT_FEATURES = (USER_ID, AS_OF, LABEL)
HELD_BACK_SHARE = 0.2  # when there is a single snapshot: the last rows, in order
AUTO = "auto"
AUTO_MIN_CHILD = (20, 200, 50)  # "auto" min_child_samples: training rows / 50, between 20 and 200


class ModelInputError(ChurnError, ValueError):
    """A frame given to a fitted model lacks columns, has wrong types or infinite values."""

    exit_code = 2
    http_status = 400


class ChurnClassifier(ClassifierMixin, BaseEstimator):
    """Gradient-boosted trees with beta calibration and BG/NBD inputs.

    Parameters are LightGBM's (``num_leaves``, ``learning_rate``, ``max_depth``...), plus
    ``max_rounds``, ``early_stopping_rounds``, ``min_child_samples`` (a number, or "auto":
    training rows / 50 between 20 and 200), ``bgnbd`` (compute the BG/NBD inputs when the
    frame has purchase histories) and ``horizon_days`` (their expected-purchases window).
    Learned attributes end in ``_``: ``features_`` (the columns read), ``inputs_`` (those
    plus the derived ones, the booster's inputs), ``categories_``, ``booster_``,
    ``calibration_``, ``calibration_auc_`` (ROC-AUC on the held-back rows before and after
    calibrating), ``bgnbd_`` (BG/NBD parameters or None), ``best_iteration_`` and
    ``reference_`` (the profile of the latest training snapshot, :mod:`training.drift`).
    """

    def __init__(
        self,
        *,
        num_leaves: int = 31,
        learning_rate: float = 0.05,
        max_rounds: int = 2000,
        early_stopping_rounds: int = 50,
        min_child_samples: int | str = AUTO,
        max_depth: int = 6,
        feature_fraction: float = 0.9,
        reg_lambda: float = 1.0,
        bgnbd: bool = True,
        horizon_days: float = 30.0,
        seed: int = 0,
        n_jobs: int = 2,
    ) -> None:
        self.num_leaves = num_leaves
        self.learning_rate = learning_rate
        self.max_rounds = max_rounds
        self.early_stopping_rounds = early_stopping_rounds
        self.min_child_samples = min_child_samples
        self.max_depth = max_depth
        self.bgnbd = bgnbd
        self.horizon_days = horizon_days
        self.feature_fraction = feature_fraction
        self.reg_lambda = reg_lambda
        self.seed = seed
        self.n_jobs = n_jobs

    def min_child_rows(self, rows: int) -> int:
        """``min_child_samples`` for ``rows`` training rows (resolves "auto")."""
        if self.min_child_samples != AUTO:
            return int(self.min_child_samples)
        low, high, per = AUTO_MIN_CHILD
        return int(min(high, max(low, rows // per)))

    def _params(self, rows: int) -> dict:
        return {
            "objective": "binary",
            "num_leaves": self.num_leaves,
            "max_depth": self.max_depth,
            "learning_rate": self.learning_rate,
            "min_child_samples": self.min_child_rows(rows),
            "feature_fraction": self.feature_fraction,
            "lambda_l2": self.reg_lambda,
            "seed": self.seed,
            "num_threads": self.n_jobs,
            "deterministic": True,
            "force_row_wise": True,
            "verbose": -1,
        }

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.allow_nan = True  # LightGBM treats NaN as missing; infinite values are refused
        tags.input_tags.categorical = True  # pandas category columns of a DataFrame
        tags.classifier_tags.multi_class = False  # churn, activation: one event happens or not
        return tags

    def fit(self, X: pd.DataFrame | np.ndarray, y: np.ndarray | pd.Series, groups: np.ndarray | pd.Series | None = None) -> ChurnClassifier:
        """Fit on feature frame ``X`` (id, as_of and label columns are ignored) and labels ``y`` (two classes).

        groups: the snapshot date of each row; the latest one is held back for
        early stopping and calibration. Without it, the last 20 % of rows are.
        """
        frame = self._frame(X, fitting=True)
        y = self._binary_target(y, len(frame))
        self.features_ = [c for c in frame.columns if c not in NOT_FEATURES]
        if not self.features_:
            raise ValueError(f"0 feature(s) (shape={frame.shape}) while a minimum of 1 is required: X holds only {', '.join(frame.columns)}")
        self.categories_ = {
            c: [str(v) for v in frame[c].cat.categories] for c in self.features_ if isinstance(frame[c].dtype, pd.CategoricalDtype)
        }
        self.n_features_in_ = len(self.features_)
        if isinstance(X, pd.DataFrame):
            self.feature_names_in_ = np.asarray(self.features_, dtype=object)
        if groups is not None and len(np.unique(np.asarray(groups))) >= 2:
            g = np.asarray(groups)
            held = g == np.max(g)
        else:
            held = np.arange(len(frame)) >= int(len(frame) * (1 - HELD_BACK_SHARE))
        self.bgnbd_ = None
        fitted = frame[~held]
        if self.bgnbd and D.available(fitted):
            latest = fitted if groups is None or held.all() else fitted[np.asarray(groups)[~held] == np.max(np.asarray(groups)[~held])]
            self.bgnbd_ = D.fit_bgnbd(latest if D.available(latest) else fitted, self.horizon_days)
        self.inputs_ = [*self.features_, *(D.DERIVED if self.bgnbd_ else ())]
        matrix = self.matrix(frame)
        train = lgb.Dataset(matrix[~held], y[~held], categorical_feature=list(self.categories_) or "auto", free_raw_data=False)
        valid = lgb.Dataset(matrix[held], y[held], reference=train)
        self.booster_ = lgb.train(
            self._params(int((~held).sum())),
            train,
            num_boost_round=self.max_rounds,
            valid_sets=[valid],
            callbacks=[lgb.early_stopping(self.early_stopping_rounds, verbose=False)],
        )
        self.best_iteration_ = int(self.booster_.best_iteration or self.booster_.current_iteration())
        raw = self.booster_.predict(matrix[held], num_iteration=self.best_iteration_)
        both = len(np.unique(y[held])) == 2
        if both:
            self.calibration_ = fit_beta(raw, y[held])
        else:  # one class held back: the constant (clipped) rate
            self.calibration_ = (0.0, 0.0, float(np.log(np.clip(y[held].mean(), 1e-4, 1 - 1e-4) / np.clip(1 - y[held].mean(), 1e-4, 1))))
        calibrated = apply_beta(raw, self.calibration_)
        self.calibration_auc_ = (
            (float(roc_auc_score(y[held], raw)), float(roc_auc_score(y[held], calibrated))) if both else (float("nan"), float("nan"))
        )
        # What the training rows looked like, for the nightly job's population stability checks.
        # The held-back rows are the latest snapshot: the population as it was just before "today".
        latest = frame[held]
        self.reference_ = drift.profile(self.matrix(latest), list(self.categories_), self.predict_proba(latest)[:, 1])
        return self

    def _binary_target(self, y, rows: int) -> np.ndarray:
        """``y`` as 0/1 (1: the larger of its two classes, kept in ``classes_``); ValueError for any other target."""
        if y is None:
            raise ValueError(f"{type(self).__name__} requires y to be passed, but the target y is None")
        y = column_or_1d(y, warn=True)
        if len(y) != rows:
            raise ValueError(f"X has {rows} rows but y has {len(y)} labels: one label per row is needed")
        kind = type_of_target(y, input_name="y", raise_unknown=True)  # continuous, NaN or infinite targets raise here
        if kind not in ("binary", "multiclass"):
            raise ValueError(f"Unknown label type: {kind}; churn labels are two classes such as 0 and 1")
        classes = np.unique(y)
        if len(classes) != 2:
            raise ValueError(
                f"Only binary classification is supported. The type of the target is {kind}: "
                f"{len(classes)} class{'es' if len(classes) != 1 else ''} in y, two are needed"
            )
        self.classes_ = classes
        return (y == classes[1]).astype(int)

    def _frame(self, X, fitting: bool = False) -> pd.DataFrame:
        """``X`` as a DataFrame: a frame as it is, any other input a 2-D numeric array in columns x0, x1, ...

        Raises ValueError for an empty frame to fit on; for empty, sparse, complex, non-numeric or
        infinite array input; and, after fitting, for an array with another number of columns than
        the model was fitted on.
        """
        if isinstance(X, pd.DataFrame):
            if fitting and len(X) == 0:
                raise ValueError(f"Found array with 0 sample(s) (shape={X.shape}) while a minimum of 1 is required.")
            return X
        array = check_array(X, ensure_all_finite="allow-nan", dtype="numeric", ensure_min_samples=1, ensure_min_features=1)
        if not fitting:
            check_is_fitted(self, "booster_")
            if array.shape[1] != self.n_features_in_:
                raise ValueError(
                    f"X has {array.shape[1]} features, but {type(self).__name__} is expecting {self.n_features_in_} features as input."
                )
        names = self.features_ if not fitting else [f"x{i}" for i in range(array.shape[1])]
        return pd.DataFrame(array, columns=names)

    def matrix(self, X: pd.DataFrame | np.ndarray) -> pd.DataFrame:
        """``X`` as the model's input: its features in order, categories with the training levels, numbers as float64.

        Raises ModelInputError for a missing column, a non-numeric one or an infinite value.
        """
        check_is_fitted(self, "features_")
        X = self._frame(X) if not isinstance(X, pd.DataFrame) else X
        missing = [c for c in self.features_ if c not in X.columns]
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
                if np.isinf(out[c].to_numpy()).any():
                    raise ModelInputError(f"model input column {c} has an infinite value; allowed: finite numbers, or NaN for missing")
        frame = pd.DataFrame(out, index=X.index)
        if getattr(self, "bgnbd_", None):
            frame = pd.concat([frame, D.derived_inputs(frame, self.bgnbd_, self.horizon_days)], axis=1)
        return frame

    def derived(self, X: pd.DataFrame) -> pd.DataFrame:
        """The derived inputs' values for the rows of ``X`` (same index): ``bgnbd_p_alive``, ``bgnbd_expected_purchases``;
        no columns when the model computes none (fitted without purchase histories, or with ``bgnbd=False``)."""
        check_is_fitted(self, "booster_")
        matrix = self.matrix(X)
        return matrix[[c for c in self.inputs_ if c not in self.features_]]

    def raw_score(self, X: pd.DataFrame | np.ndarray) -> np.ndarray:
        """Uncalibrated booster probabilities."""
        check_is_fitted(self, "booster_")
        return self.booster_.predict(self.matrix(X), num_iteration=self.best_iteration_)

    def predict_proba(self, X: pd.DataFrame | np.ndarray) -> np.ndarray:
        """Calibrated probabilities, shape (n, 2): column 1 is P(label = ``classes_[1]``), 1 = churned or activated."""
        check_is_fitted(self, "booster_")
        raw = self.raw_score(X)
        if isinstance(self.calibration_, dict):  # a model saved with isotonic calibration (breakpoints)
            p = np.interp(raw, self.calibration_["x"], self.calibration_["y"])
        else:
            p = apply_beta(raw, self.calibration_)
        return np.column_stack([1.0 - p, p])

    def predict(self, X: pd.DataFrame | np.ndarray) -> np.ndarray:
        """The more likely class of each row (``classes_[1]`` from a probability of 0.5)."""
        positive = self.predict_proba(X)[:, 1] >= 0.5
        return self.classes_[positive.astype(int)]

    def contributions(self, X: pd.DataFrame) -> pd.DataFrame:
        """Per-row feature contributions in log-odds (LightGBM ``pred_contrib``) and the ``baseline`` column."""
        check_is_fitted(self, "booster_")
        matrix = self.matrix(X)
        values = self.booster_.predict(matrix, num_iteration=self.best_iteration_, pred_contrib=True)
        return pd.DataFrame(values, columns=[*self.inputs_, "baseline"], index=matrix.index)

    def feature_importance(self) -> pd.Series:
        """Total gain per feature, largest first."""
        check_is_fitted(self, "booster_")
        gain = self.booster_.feature_importance(importance_type="gain", iteration=self.best_iteration_)
        return pd.Series(gain, index=self.inputs_).sort_values(ascending=False)

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
            "calibration": self.calibration_ if isinstance(self.calibration_, dict) else {"beta": list(self.calibration_)},
            "calibration_auc": list(getattr(self, "calibration_auc_", (None, None))),
            "bgnbd": getattr(self, "bgnbd_", None),
            "inputs": self.inputs_,
            "best_iteration": self.best_iteration_,
            "reference": getattr(self, "reference_", None),
            "classes": self.classes_.tolist(),
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
        calibration = meta["calibration"]
        model.calibration_ = tuple(calibration["beta"]) if "beta" in calibration else {"x": calibration["x"], "y": calibration["y"]}
        model.calibration_auc_ = tuple(meta.get("calibration_auc", (None, None)))
        model.bgnbd_ = meta.get("bgnbd")  # None for models saved before BG/NBD inputs
        model.inputs_ = meta.get("inputs", model.features_)
        model.booster_ = lgb.Booster(model_str=(directory / BOOSTER_FILE).read_text())
        model.best_iteration_ = int(model.booster_.current_iteration())
        model.reference_ = meta.get("reference")  # None for models saved before profiles were recorded
        model.classes_ = np.array(meta.get("classes", [0, 1]))  # 0/1 for models saved before classes were recorded
        model.n_features_in_ = len(model.features_)
        return model
