"""Uplift: the change in an outcome's probability that a treatment causes, learnt from randomized campaigns.

:class:`UpliftClassifier` works on any feature table (numbers, and pandas ``category`` columns), not only
this project's: ``fit(X, treatment, y)`` with ``treatment`` 0/1 (or labels, one of them the control) and
``y`` 0/1; ``predict(X)`` returns the estimated P(y = 1 | treated) - P(y = 1 | control) per row, one
column per treatment arm when there are several. Learners, all on LightGBM:

* ``t``: one outcome model per arm; the effect is the difference of their predictions;
* ``s``: one outcome model with the arm as a feature;
* ``x``: the X-learner (Kunzel et al., PNAS 2019): T-learner outcome models, then models of the imputed
  individual effects in each group, blended by the arm's share;
* ``transformed``: a regression of the transformed outcome y (w - e) / (e (1 - e)), whose expectation is
  the effect (Athey & Imbens 2015).

Randomized data is assumed (the arm does not depend on X): each arm's propensity is its share of the
rows it is compared on. The fitted model is plain data (booster text and JSON), like the churn model.
"""

from __future__ import annotations

import json
from pathlib import Path

import lightgbm as lgb
import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator
from sklearn.utils.validation import check_is_fitted

from features.errors import ChurnError

LEARNERS = ("t", "s", "x", "transformed")
META_FILE = "uplift.json"
ARM_FEATURE = "__arm__"


class UpliftInputError(ChurnError):
    """Input an uplift model cannot learn from or score."""

    exit_code = 2
    http_status = 400


class UpliftClassifier(BaseEstimator):
    """Treatment effects on a binary outcome; see the module docstring.

    learner: one of ``t``, ``s``, ``x``, ``transformed``.
    control: the control arm's label in ``treatment`` (default: 0 for numbers and booleans, "control" for text).
    min_rows_per_arm: fewer treated or control rows than this is an error (effects would be noise).
    Other parameters are LightGBM's. Learned: ``arms_`` (treatment labels other than the control, sorted),
    ``control_``, ``propensity_`` (each arm's share against the control), ``feature_names_in_``,
    ``n_features_in_``, ``boosters_``.
    """

    def __init__(
        self,
        *,
        learner: str = "x",
        control=None,
        n_estimators: int = 200,
        learning_rate: float = 0.05,
        num_leaves: int = 15,
        min_child_samples: int = 100,
        reg_lambda: float = 1.0,
        min_rows_per_arm: int = 50,
        seed: int = 0,
        n_jobs: int = 2,
    ) -> None:
        self.learner = learner
        self.control = control
        self.n_estimators = n_estimators
        self.learning_rate = learning_rate
        self.num_leaves = num_leaves
        self.min_child_samples = min_child_samples
        self.reg_lambda = reg_lambda
        self.min_rows_per_arm = min_rows_per_arm
        self.seed = seed
        self.n_jobs = n_jobs

    # ---- fitting -------------------------------------------------------------------------------
    def fit(self, X, treatment, y) -> UpliftClassifier:
        """Learn each arm's effect on P(y = 1) from rows ``X``, their arm ``treatment`` and outcome ``y`` (0/1)."""
        if self.learner not in LEARNERS:
            raise UpliftInputError(f"learner {self.learner!r} is not one of {', '.join(LEARNERS)}")
        frame = self._frame(X, fitting=True)
        arm = np.asarray(treatment)
        outcome = np.asarray(y)
        if len(arm) != len(frame) or len(outcome) != len(frame):
            raise UpliftInputError(f"X has {len(frame)} rows but treatment has {len(arm)} and y {len(outcome)}")
        if len(frame) == 0:
            raise UpliftInputError("no rows to learn from")
        if pd.isna(outcome).any() or not np.isin(outcome, (0, 1)).all():
            raise UpliftInputError("y must be 0 or 1 in every row")
        outcome = outcome.astype(float)
        self.control_ = self._control_label(arm)
        labels = sorted({v for v in arm.tolist() if v != self.control_}, key=str)
        if not labels:
            raise UpliftInputError(f"treatment holds only the control {self.control_!r}; nothing to compare")
        self.arms_ = labels
        is_control = arm == self.control_
        for label in [self.control_, *labels]:
            count = int((arm == label).sum())
            if count < self.min_rows_per_arm:
                raise UpliftInputError(f"treatment {label!r} has {count} rows; at least {self.min_rows_per_arm} are needed")
        self.propensity_ = {str(k): float((arm == k).sum() / ((arm == k) | is_control).sum()) for k in labels}
        self.boosters_: dict[str, lgb.Booster] = {}
        if self.learner == "s":
            self._fit_s(frame, arm, outcome)
        else:
            control_model = self._booster(frame[is_control], outcome[is_control], "binary")
            self.boosters_["outcome:control"] = control_model
            for k in labels:
                treated = arm == k
                if self.learner == "t":
                    self.boosters_[f"outcome:{k}"] = self._booster(frame[treated], outcome[treated], "binary")
                elif self.learner == "x":
                    self._fit_x(frame, outcome, treated, is_control, k, control_model)
                else:
                    both = treated | is_control
                    e = self.propensity_[str(k)]
                    z = outcome[both] * (treated[both] - e) / (e * (1.0 - e))
                    self.boosters_[f"effect:{k}"] = self._booster(frame[both], z, "regression")
        return self

    def _fit_s(self, frame: pd.DataFrame, arm: np.ndarray, outcome: np.ndarray) -> None:
        codes = np.zeros(len(arm))
        for index, k in enumerate(self.arms_, start=1):
            codes[arm == k] = index
        self.boosters_["outcome:all"] = self._booster(frame.assign(**{ARM_FEATURE: codes}), outcome, "binary")

    def _fit_x(self, frame, outcome, treated, is_control, k, control_model) -> None:
        treated_model = self._booster(frame[treated], outcome[treated], "binary")
        self.boosters_[f"outcome:{k}"] = treated_model
        # Imputed individual effects: the treated's outcome against the control model, and the treated
        # model against the controls' outcome; a model of each, blended by the arm's share.
        d_treated = outcome[treated] - control_model.predict(frame[treated])
        d_control = treated_model.predict(frame[is_control]) - outcome[is_control]
        self.boosters_[f"effect_treated:{k}"] = self._booster(frame[treated], d_treated, "regression")
        self.boosters_[f"effect_control:{k}"] = self._booster(frame[is_control], d_control, "regression")

    def _booster(self, X: pd.DataFrame, target: np.ndarray, objective: str) -> lgb.Booster:
        params = {
            "objective": objective,
            "learning_rate": self.learning_rate,
            "num_leaves": self.num_leaves,
            "min_child_samples": self.min_child_samples,
            "lambda_l2": self.reg_lambda,
            "seed": self.seed,
            "num_threads": self.n_jobs,
            "deterministic": True,
            "force_row_wise": True,
            "verbose": -1,
        }
        data = lgb.Dataset(X, target, free_raw_data=True)
        return lgb.train(params, data, num_boost_round=self.n_estimators)

    # ---- input ---------------------------------------------------------------------------------
    def _control_label(self, arm: np.ndarray):
        present = list(dict.fromkeys(arm.tolist()))
        if self.control is not None:
            wanted = self.control
        elif arm.dtype.kind in "biuf":
            wanted = 0
        else:
            wanted = "control"
        if wanted not in present:
            shown = ", ".join(repr(v) for v in sorted(present, key=str)[:10])
            raise UpliftInputError(f"control {wanted!r} is not among the treatment labels ({shown}); pass control=")
        return wanted

    def _frame(self, X, *, fitting: bool) -> pd.DataFrame:
        if isinstance(X, pd.DataFrame):
            frame = X.reset_index(drop=True)
        else:
            values = np.asarray(X)
            if values.ndim != 2:
                raise UpliftInputError(f"X must be two-dimensional; got shape {values.shape}")
            frame = pd.DataFrame(values, columns=[f"x{i}" for i in range(values.shape[1])])
        for c in frame.columns:
            if isinstance(frame[c].dtype, pd.CategoricalDtype):
                continue
            try:
                frame[c] = pd.to_numeric(frame[c], errors="raise").astype("float64")
            except (TypeError, ValueError):
                raise UpliftInputError(f"X column {c} is neither numeric nor a pandas category") from None
            if np.isinf(frame[c].to_numpy()).any():
                raise UpliftInputError(f"X column {c} holds infinite values")
        if fitting:
            self.feature_names_in_ = [str(c) for c in frame.columns]
            self.n_features_in_ = len(self.feature_names_in_)
            self.categories_ = {str(c): list(frame[c].cat.categories) for c in frame.columns if isinstance(frame[c].dtype, pd.CategoricalDtype)}
            return frame
        missing = [c for c in self.feature_names_in_ if c not in frame.columns]
        if missing:
            raise UpliftInputError(f"X lacks column {', '.join(missing)}")
        frame = frame[self.feature_names_in_]
        for c, levels in self.categories_.items():
            frame[c] = pd.Categorical(frame[c].astype("object").where(frame[c].isin(levels), None), categories=levels)
        return frame

    # ---- prediction ----------------------------------------------------------------------------
    def predict(self, X) -> np.ndarray:
        """Estimated change in P(y = 1) of each arm against the control: shape (n,) for one arm, (n, arms) otherwise."""
        effects = self.effects(X)
        return effects[:, 0] if effects.shape[1] == 1 else effects

    def effects(self, X) -> np.ndarray:
        """Estimated change in P(y = 1) of each arm against the control, always shape (n, arms)."""
        check_is_fitted(self, "boosters_")
        frame = self._frame(X, fitting=False)
        if len(frame) == 0:
            return np.zeros((0, len(self.arms_)))
        columns = []
        for index, k in enumerate(self.arms_, start=1):
            if self.learner == "s":
                model = self.boosters_["outcome:all"]
                treated = model.predict(frame.assign(**{ARM_FEATURE: float(index)}))
                control = model.predict(frame.assign(**{ARM_FEATURE: 0.0}))
                columns.append(treated - control)
            elif self.learner == "t":
                columns.append(self.boosters_[f"outcome:{k}"].predict(frame) - self.boosters_["outcome:control"].predict(frame))
            elif self.learner == "x":
                g = self.propensity_[str(k)]
                from_control = self.boosters_[f"effect_control:{k}"].predict(frame)
                from_treated = self.boosters_[f"effect_treated:{k}"].predict(frame)
                columns.append(g * from_control + (1.0 - g) * from_treated)
            else:
                columns.append(self.boosters_[f"effect:{k}"].predict(frame))
        return np.clip(np.column_stack(columns), -1.0, 1.0)

    # ---- persistence ---------------------------------------------------------------------------
    def save(self, directory: Path) -> Path:
        """Write the fitted model as JSON holding each booster's text: no pickle."""
        check_is_fitted(self, "boosters_")
        directory = Path(directory)
        directory.mkdir(parents=True, exist_ok=True)
        meta = {
            "params": self.get_params(),
            "control": self.control_,
            "arms": self.arms_,
            "propensity": self.propensity_,
            "features": self.feature_names_in_,
            "categories": {c: [str(v) for v in levels] for c, levels in self.categories_.items()},
            "boosters": {name: b.model_to_string() for name, b in self.boosters_.items()},
        }
        (directory / META_FILE).write_text(json.dumps(meta))
        return directory

    @classmethod
    def load(cls, directory: Path) -> UpliftClassifier:
        """Read a model written by :meth:`save`."""
        meta = json.loads((Path(directory) / META_FILE).read_text())
        model = cls(**meta["params"])
        model.control_ = meta["control"]
        model.arms_ = meta["arms"]
        model.propensity_ = meta["propensity"]
        model.feature_names_in_ = meta["features"]
        model.n_features_in_ = len(model.feature_names_in_)
        model.categories_ = meta["categories"]
        model.boosters_ = {name: lgb.Booster(model_str=text) for name, text in meta["boosters"].items()}
        return model


def qini_curve(y: np.ndarray, treated: np.ndarray, score: np.ndarray, points: int = 101) -> pd.DataFrame:
    """The Qini curve (Radcliffe 2007): targeting the highest scores first, at each share of users the
    incremental positives Y_t - Y_c N_t / N_c, per user of the whole population.

    y: outcome 0/1; treated: True for treated rows (False: control); score: the estimated effect.
    Returns columns ``share`` and ``qini`` (incremental positives / n), ``uplift`` (the treated-minus-control
    rate difference among the targeted).
    """
    y, treated, score = np.asarray(y, dtype=float), np.asarray(treated, dtype=bool), np.asarray(score, dtype=float)
    order = np.argsort(-score, kind="stable")
    y, treated = y[order], treated[order]
    n_t, n_c = np.cumsum(treated), np.cumsum(~treated)
    y_t, y_c = np.cumsum(y * treated), np.cumsum(y * ~treated)
    with np.errstate(divide="ignore", invalid="ignore"):
        qini = np.where(n_c > 0, y_t - y_c * n_t / n_c, y_t) / len(y)
        uplift = np.where((n_t > 0) & (n_c > 0), y_t / n_t - y_c / n_c, np.nan)
    idx = np.unique(np.linspace(0, len(y) - 1, min(points, len(y))).astype(int))
    return pd.DataFrame({"share": np.r_[0.0, (idx + 1) / len(y)], "qini": np.r_[0.0, qini[idx]], "uplift": np.r_[np.nan, uplift[idx]]})


def qini_area(y: np.ndarray, treated: np.ndarray, score: np.ndarray) -> float:
    """Area between the Qini curve and the random-targeting line (incremental positives per user, integrated
    over the share targeted); 0 for a random score, higher is better."""
    curve = qini_curve(y, treated, score, points=1001)
    random = curve["share"] * curve["qini"].iloc[-1]
    return float(np.trapezoid(curve["qini"] - random, curve["share"]))


def uplift_at_top(y: np.ndarray, treated: np.ndarray, score: np.ndarray, share: float) -> float:
    """Treated-minus-control outcome rate among the ``share`` of rows with the highest scores."""
    y, treated, score = np.asarray(y, dtype=float), np.asarray(treated, dtype=bool), np.asarray(score, dtype=float)
    k = max(1, int(np.ceil(share * len(y))))
    top = np.argsort(-score, kind="stable")[:k]
    t, c = treated[top], ~treated[top]
    if t.sum() == 0 or c.sum() == 0:
        return float("nan")
    return float(y[top][t].mean() - y[top][c].mean())
