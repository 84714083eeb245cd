"""The one model loader: a classifier from a model directory, with its name and version; clear errors otherwise."""

from __future__ import annotations

import numpy as np
import pytest

from features.errors import ConfigError
from serving.models import LoadedModel, ModelFilesError, load_model, registry_name
from training.estimator import BOOSTER_FILE, ChurnClassifier


@pytest.fixture(scope="module")
def saved(tmp_path_factory):
    rng = np.random.default_rng(0)
    X = rng.normal(size=(200, 3))
    model = ChurnClassifier(max_rounds=20, min_child_samples=5).fit(X, (X[:, 0] > 0).astype(int))
    root = tmp_path_factory.mktemp("model")
    model.save(root / "artifacts" / "model")  # the classifier sits deeper in an MLflow model directory
    return root, model, X


def test_loads_the_classifier_of_a_model_directory(saved):
    root, model, X = saved
    loaded = load_model(root, "churn", 7, "churn v7")
    assert isinstance(loaded, LoadedModel) and (loaded.name, loaded.version) == ("churn", "7")
    np.testing.assert_allclose(loaded.model.predict_proba(X), model.predict_proba(X), rtol=0, atol=1e-12)


def test_a_directory_without_one_loadable_classifier_is_named(saved, tmp_path):
    root, _, _ = saved
    with pytest.raises(ModelFilesError, match=r"^bundle x: holds 0 churn classifiers \(model.json\), expected 1$"):
        load_model(tmp_path, "churn", "1", "bundle x")
    broken = tmp_path / "broken"
    (broken / "model").mkdir(parents=True)
    for name in ("model.json", BOOSTER_FILE):
        (broken / "model" / name).write_text((root / "artifacts" / "model" / name).read_text()[:300])
    with pytest.raises(ModelFilesError, match="churn v2: model.json is not valid JSON"):
        load_model(broken, "churn", "2", "churn v2")


def test_registry_name():
    assert registry_name("models:/churn@champion") == "churn" and registry_name("models:/activation/3") == "activation"
    with pytest.raises(ConfigError, match="expected models:/NAME@ALIAS or models:/NAME/VERSION"):
        registry_name("churn")
