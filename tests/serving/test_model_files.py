"""Damaged model files are refused before LightGBM reads them (LightGBM aborts the process on some of them).

Every case is a real damaged copy of a saved classifier with categorical splits; each call returning an error at
all shows the process survived. The last test shows what the checks prevent: LightGBM itself, given the same
file in a process of its own, dies.
"""

from __future__ import annotations

import shutil
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest

from serving.model_files import ModelFilesError, check_model_files
from serving.models import load_model
from training.estimator import BOOSTER_FILE, META_FILE, ChurnClassifier


@pytest.fixture(scope="module")
def saved(tmp_path_factory):
    rng = np.random.default_rng(1)
    n = 3000
    spend = np.where(rng.random(n) < 0.3, np.nan, rng.exponential(size=n))  # missing values: LightGBM writes inf thresholds
    X = pd.DataFrame({"a": rng.normal(size=n), "spend": spend, "tier": pd.Categorical(rng.choice(["gold", "silver", "bronze"], n))})
    y = ((X["a"] > 0) | (X["tier"] == "gold") | X["spend"].isna()).astype(int)
    model = ChurnClassifier(max_rounds=30, min_child_samples=5).fit(X, y)
    root = tmp_path_factory.mktemp("model")
    return model.save(root / "model")


def _copy(saved, tmp_path):
    target = tmp_path / "model"
    shutil.copytree(saved, target)
    return target


def test_a_whole_model_passes(saved):
    check_model_files(saved, "churn v1")
    assert load_model(saved.parent, "churn", "1", "churn v1").model.features_ == ["a", "spend", "tier"]


def test_lightgbms_own_infinite_thresholds_pass(tmp_path):
    import lightgbm as lgb

    from serving.model_files import check_booster

    rng = np.random.default_rng(0)
    n = 3000
    X = pd.DataFrame({"a": rng.normal(size=n), "b": np.where(rng.random(n) < 0.3, np.nan, rng.exponential(size=n)),
                      "c": pd.Categorical(rng.choice(list("pqrstu"), n))})  # fmt: skip
    X.loc[rng.random(n) < 0.2, "c"] = np.nan
    y = ((X["a"] > 0) | (X["c"] == "p") | X["b"].isna()).astype(int)
    booster = lgb.train({"objective": "binary", "verbose": -1, "min_data_in_leaf": 5}, lgb.Dataset(X, y), num_boost_round=80)
    (tmp_path / BOOSTER_FILE).write_text(booster.model_to_string())
    thresholds = [line.removeprefix("threshold=").split() for line in booster.model_to_string().splitlines() if line.startswith("threshold=")]
    assert any("inf" in values for values in thresholds)
    check_booster(tmp_path, "m", 3)


@pytest.mark.parametrize("share", [1 / 3, 1 / 2, 0.9, 0.999])
def test_a_booster_cut_short_is_one_line(saved, tmp_path, share):
    model = _copy(saved, tmp_path)
    text = (model / BOOSTER_FILE).read_text()
    (model / BOOSTER_FILE).write_text(text[: int(len(text) * share)])
    with pytest.raises(ModelFilesError, match=r"^churn v1: booster.txt (ends or is damaged in tree \d+ of \d+|lacks its end of parameters|has a damaged last line).*; the file may be cut short$") as e:
        load_model(model.parent, "churn", "1", "churn v1")
    assert e.value.exit_code == 3 and "\n" not in e.value.message


def test_a_model_json_cut_short_or_missing_files_are_named(saved, tmp_path):
    model = _copy(saved, tmp_path)
    meta = (model / META_FILE).read_text()
    (model / META_FILE).write_text(meta[: len(meta) // 2])
    with pytest.raises(ModelFilesError, match=r"^m: model.json is not valid JSON \(line \d+: .*\); the file may be cut short$"):
        check_model_files(model, "m")
    (model / META_FILE).write_text(meta)
    (model / BOOSTER_FILE).unlink()
    with pytest.raises(ModelFilesError, match=r"^m: booster.txt is missing$"):
        load_model(model.parent, "churn", "1", "m")


def test_garbage_inside_the_booster_is_refused(saved, tmp_path):
    model = _copy(saved, tmp_path)
    raw = (model / BOOSTER_FILE).read_bytes()
    middle = len(raw) // 2
    (model / BOOSTER_FILE).write_bytes(raw[:middle] + b"\xff" * 400 + raw[middle + 400 :])  # same size: tree_sizes still add up
    with pytest.raises(ModelFilesError, match=r"^m: booster.txt is damaged \(a byte that is not text at offset \d+\)$"):
        check_model_files(model, "m")
    text = raw.decode()
    (model / BOOSTER_FILE).write_text(text.replace("leaf_value=", "leaf_value=nan ", 1))
    with pytest.raises(ModelFilesError, match=r"tree 0: leaf_value does not hold \d+ finite numbers"):
        check_model_files(model, "m")
    (model / META_FILE).write_text('{"features": ["a"], "params": {}, "categories": {}, "calibration": {"x": [0], "y": [1]}}')
    (model / BOOSTER_FILE).write_bytes(raw)
    with pytest.raises(ModelFilesError, match=r"booster.txt names 3 features, model.json 1"):
        check_model_files(model, "m")


def test_without_the_checks_lightgbm_kills_the_process(saved, tmp_path):
    model = _copy(saved, tmp_path)
    text = (model / BOOSTER_FILE).read_text()
    (model / BOOSTER_FILE).write_text(text[: len(text) // 3])
    code = f"import lightgbm as lgb; lgb.Booster(model_str=open({str(model / BOOSTER_FILE)!r}).read())"
    died = subprocess.run([sys.executable, "-c", code], capture_output=True, timeout=120)
    assert died.returncode < 0 or died.returncode == 134, died.returncode  # SIGABRT, not an exception
