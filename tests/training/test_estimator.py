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


def test_calibration_gives_no_0_or_1_and_keeps_the_ranking(model, split):
    _, valid = split
    p = model.predict_proba(valid)[:, 1]
    raw = model.raw_score(valid)
    assert 0 < p.min() and p.max() < 1
    # a monotone map: the order of the raw scores is the order of the probabilities
    order = np.argsort(raw, kind="stable")
    assert (np.diff(p[order]) >= -1e-15).all()
    before, after = model.calibration_auc_
    assert before - after <= 0.002
    # no plateau ties thousands of users (isotonic calibration did)
    assert pd.Series(p).value_counts().max() < 0.01 * len(p)


def test_bgnbd_inputs_are_computed_from_the_plain_feature_frame(model, split):
    _, valid = split
    features = valid.drop(columns=["label"])
    assert model.bgnbd_ is not None and set(model.bgnbd_) == {"r", "alpha", "a", "b"}
    derived = model.derived(features)
    assert list(derived.columns) == ["bgnbd_p_alive", "bgnbd_expected_purchases"] and derived.index.equals(features.index)
    assert derived["bgnbd_p_alive"].between(0, 1).all() and (derived["bgnbd_expected_purchases"] >= 0).all()
    # the trees use them, and the contributions name them beside the features
    contributions = model.contributions(features.head(50))
    assert {"bgnbd_p_alive", "bgnbd_expected_purchases"} <= set(contributions.columns)
    assert model.feature_importance()[["bgnbd_p_alive", "bgnbd_expected_purchases"]].sum() > 0
    # a customer who bought more recently (same history otherwise) is more likely alive
    one = features.head(1).copy()
    one["purchase_days_all"], one["days_since_first_order"], one["days_since_last_order"] = 4, 200.0, 150.0
    later = one.assign(days_since_last_order=10.0)
    assert model.derived(later)["bgnbd_p_alive"].iloc[0] > model.derived(one)["bgnbd_p_alive"].iloc[0]


def test_a_model_saved_with_isotonic_calibration_still_loads(model, split, tmp_path):
    _, valid = split
    model.save(tmp_path / "old")
    meta = json.loads((tmp_path / "old" / META_FILE).read_text())
    for key in ("bgnbd", "inputs", "calibration_auc"):
        meta.pop(key)
    meta["calibration"] = {"x": [0.0, 0.5, 1.0], "y": [0.1, 0.2, 0.9]}
    (tmp_path / "old" / META_FILE).write_text(json.dumps(meta))
    # the booster was trained with BG/NBD inputs; an old model has none, so fit one without
    train, _ = split
    plain = ChurnClassifier(max_rounds=30, bgnbd=False).fit(train, train["label"], groups=train["as_of"])
    plain.save(tmp_path / "plain")
    meta["features"] = plain.features_
    (tmp_path / "plain" / META_FILE).write_text(json.dumps({**meta, "best_iteration": plain.best_iteration_}))
    old = ChurnClassifier.load(tmp_path / "plain")
    np.testing.assert_allclose(old.predict_proba(valid)[:, 1], np.interp(plain.raw_score(valid), [0.0, 0.5, 1.0], [0.1, 0.2, 0.9]))
    assert old.derived(valid).columns.tolist() == []


def test_auto_min_child_samples_grows_with_the_data():
    model = ChurnClassifier()
    assert (model.min_child_rows(500), model.min_child_rows(5_000), model.min_child_rows(1_000_000)) == (20, 100, 200)
    assert ChurnClassifier(min_child_samples=7).min_child_rows(1_000_000) == 7
