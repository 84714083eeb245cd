"""The churn classifier: calibrated, reproducible, saved as text, sensible in behaviour."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from features.labels import training_set
from features.simulator.config import SimulationConfig
from features.simulator.run import simulate
from features.validation import load_dataset
from training.estimator import BOOSTER_FILE, META_FILE, ChurnClassifier, ModelInputError
from training.metrics import binary_metrics


@pytest.fixture(scope="module")
def split(tmp_path_factory):
    out = simulate(SimulationConfig(users=3000, days=300, seed=4), tmp_path_factory.mktemp("train") / "data").out
    ds = load_dataset(out)
    frame = training_set({n: ds.table(n) for n in ds.tables}, "2025-10-27", snapshots=5, every_days=30)
    last = frame["as_of"].max()
    return frame[frame["as_of"] < last].reset_index(drop=True), frame[frame["as_of"] == last].reset_index(drop=True)


@pytest.fixture(scope="module")
def model(split):
    train, _ = split
    return ChurnClassifier(max_rounds=300).fit(train, train["label"], groups=train["as_of"])


def test_out_of_time_quality_and_calibration(model, split):
    _, valid = split
    p = model.predict_proba(valid)[:, 1]
    m = binary_metrics(valid["label"], p)
    assert m["roc_auc"] > 0.9
    assert m["ece"] < 0.05
    assert p.min() >= 0 and p.max() <= 1
    assert model.predict(valid).tolist() == (p >= 0.5).astype(int).tolist()


def test_same_seed_same_model(model, split):
    train, valid = split
    again = ChurnClassifier(max_rounds=300).fit(train, train["label"], groups=train["as_of"])
    assert again.booster_.model_to_string() == model.booster_.model_to_string()
    np.testing.assert_array_equal(again.predict_proba(valid), model.predict_proba(valid))


def test_save_and_load_as_text(model, split, tmp_path):
    _, valid = split
    model.save(tmp_path / "m")
    assert sorted(p.name for p in (tmp_path / "m").iterdir()) == sorted([BOOSTER_FILE, META_FILE])
    meta = json.loads((tmp_path / "m" / META_FILE).read_text())
    assert meta["features"] == model.features_ and "member_tier" in meta["categories"]
    loaded = ChurnClassifier.load(tmp_path / "m")
    np.testing.assert_allclose(loaded.predict_proba(valid), model.predict_proba(valid), rtol=0, atol=1e-12)


def test_unseen_category_is_missing_and_missing_column_is_an_error(model, split):
    _, valid = split
    rows = valid.head(20).copy()
    rows["member_tier"] = pd.Categorical(["diamond"] * 20)
    p = model.predict_proba(rows)[:, 1]
    assert np.isfinite(p).all()
    with pytest.raises(ModelInputError, match="days_since_last_order"):
        model.predict_proba(valid.drop(columns=["days_since_last_order"]))


def test_longer_since_last_order_means_higher_churn(model, split):
    """All else equal, a user who has not bought for longer is at least as likely to churn (on average, clearly more)."""
    _, valid = split
    buyers = valid[valid["orders_30d"] > 0].head(300).copy()
    later = buyers.copy()
    later["days_since_last_order"] = buyers["days_since_last_order"] + 45
    later["order_overdue"] = later["days_since_last_order"] / later["order_gap_median"]
    later[["orders_7d", "orders_30d"]] = 0
    before, after = model.predict_proba(buyers)[:, 1], model.predict_proba(later)[:, 1]
    assert after.mean() > before.mean() + 0.1
    assert (after >= before - 0.05).mean() > 0.9


def test_contributions_add_up_to_the_raw_score(model, split):
    _, valid = split
    contrib = model.contributions(valid.head(50))
    logit = np.log(model.raw_score(valid.head(50)) / (1 - model.raw_score(valid.head(50))))
    np.testing.assert_allclose(contrib.sum(axis=1).to_numpy(), logit, rtol=0, atol=1e-6)
