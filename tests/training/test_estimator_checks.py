"""ChurnClassifier keeps scikit-learn's estimator contract: scikit-learn's own checks, and our declared exceptions."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn.exceptions import NotFittedError
from sklearn.utils.estimator_checks import parametrize_with_checks

from training.estimator import ChurnClassifier, ModelInputError


@parametrize_with_checks([ChurnClassifier(max_rounds=30, min_child_samples=5, n_jobs=1)])
def test_scikit_learn_estimator_checks(estimator, check):
    check(estimator)


def test_declared_tags():
    tags = ChurnClassifier().__sklearn_tags__()
    assert tags.input_tags.allow_nan and tags.input_tags.categorical
    assert not tags.classifier_tags.multi_class


def _data(n: int = 200, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, 3))
    return X, (X[:, 0] + 0.3 * rng.normal(size=n) > 0).astype(int)


def test_numpy_input_missing_values_and_string_labels():
    X, y = _data()
    X[::7, 1] = np.nan  # missing values are allowed: LightGBM treats them as missing
    labels = np.where(y == 1, "churned", "stayed")
    model = ChurnClassifier(max_rounds=30, min_child_samples=5).fit(X, labels)
    assert model.n_features_in_ == 3 and model.features_ == ["x0", "x1", "x2"]
    assert list(model.classes_) == ["churned", "stayed"]
    assert set(model.predict(X)) <= {"churned", "stayed"} and model.predict_proba(X).shape == (200, 2)


def test_not_fitted_infinite_and_empty_inputs_are_errors():
    X, y = _data()
    with pytest.raises(NotFittedError):
        ChurnClassifier().predict_proba(X)
    bad = X.copy()
    bad[3, 2] = np.inf
    with pytest.raises(ValueError, match="infinity"):
        ChurnClassifier().fit(bad, y)
    with pytest.raises(ValueError, match="0 sample"):
        ChurnClassifier().fit(X[:0], y[:0])
    with pytest.raises(ValueError, match="Only binary classification is supported"):
        ChurnClassifier().fit(X, np.arange(len(X)) % 3)
    model = ChurnClassifier(max_rounds=30, min_child_samples=5).fit(X, y)
    with pytest.raises(ValueError, match="infinity"):
        model.predict_proba(bad)
    with pytest.raises(ValueError, match="X has 2 features, but ChurnClassifier is expecting 3 features"):
        model.predict_proba(X[:, :2])


def test_frames_are_read_by_column_name_and_infinite_values_refused_by_column():
    X, y = _data()
    frame = pd.DataFrame(X, columns=["a", "b", "c"]).assign(user_id=np.arange(len(X)))
    model = ChurnClassifier(max_rounds=30, min_child_samples=5).fit(frame, y)
    assert model.features_ == ["a", "b", "c"] and list(model.feature_names_in_) == ["a", "b", "c"]
    with pytest.raises(ModelInputError, match="model input column b has an infinite value"):
        model.predict_proba(frame.assign(b=np.inf))
    assert model.predict_proba(frame[["c", "user_id", "b", "a"]]).shape == (200, 2)  # columns by name, in any order
