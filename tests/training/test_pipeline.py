"""churn train end to end on a real MLflow store: registry, aliases, promotion rules, report, pyfunc."""

from __future__ import annotations

import os
from functools import partial

import mlflow
import numpy as np
import pandas as pd
import pytest
from mlflow import MlflowClient

from features.build import compute_features
from features.labels import churn_population
from features.simulator.config import SimulationConfig
from features.simulator.ground_truth import churn_truth
from features.simulator.run import simulate
from features.validation import load_dataset
from training import registry
from training.estimator import ChurnClassifier
from training.pipeline import NotEnoughData, TrainConfig, train
from training.tracking import use_tracking

pytestmark = pytest.mark.slow
AS_OF = "2025-09-30"  # validation snapshot 2025-08-31, a month-end with ground truth


@pytest.fixture(scope="module")
def dataset(tmp_path_factory):
    out = simulate(SimulationConfig(users=3000, days=273, seed=8), tmp_path_factory.mktemp("pipe") / "data").out
    return load_dataset(out)


@pytest.fixture(scope="module")
def store(tmp_path_factory, dataset):
    root = tmp_path_factory.mktemp("mlflow")
    previous = mlflow.get_tracking_uri()
    cwd = os.getcwd()
    os.chdir(root)  # artifacts go under ./data of the store's directory
    use_tracking(f"sqlite:///{root / 'mlflow.db'}")
    try:
        yield root
    finally:
        os.chdir(cwd)
        mlflow.set_tracking_uri(previous)


@pytest.fixture(scope="module")
def first(store, dataset):
    # The dataset is simulated: the run compares the model with the simulator's true probabilities.
    return train(dataset, TrainConfig(as_of=AS_OF, snapshots=4, max_rounds=300, experiment="test"), reference=partial(churn_truth, dataset.path))


def test_first_model_becomes_champion_with_metrics_and_artifacts(first, store):
    churn = first.results[0]
    client = MlflowClient()
    assert churn.decision.promoted and registry.alias_version(client, "churn", registry.CHAMPION) == churn.version
    assert registry.alias_version(client, "churn", registry.CHALLENGER) == churn.version
    run = client.get_run(churn.run_id)
    for key in ("valid.roc_auc", "valid.pr_auc", "valid.log_loss", "valid.brier", "valid.ece", "valid.lift_top5",
                "valid.capture_top20", "baseline_recency.roc_auc", "baseline_logistic.roc_auc", "truth_roc_auc"):
        assert key in run.data.metrics, key
    assert any(k.startswith("segment.member_tier.") for k in run.data.metrics)
    assert any(k.startswith("segment.customer.new") for k in run.data.metrics)
    assert run.data.params["validation_date"] == "2025-08-31"
    assert len(run.data.params["data_fingerprint"]) == 16
    artifacts = {a.path for a in client.list_artifacts(churn.run_id)} | {a.path for a in client.list_artifacts(churn.run_id, "plots")}
    assert {"report.html", "plots/calibration.png", "plots/gain_lift.png", "plots/importance.png", "plots/contributions.png"} <= artifacts
    # Better than both baselines, calibrated, close to the best possible.
    assert churn.metrics["roc_auc"] > churn.baselines["recency"]["roc_auc"]
    assert churn.metrics["roc_auc"] >= churn.baselines["logistic"]["roc_auc"] - 0.002
    assert churn.metrics["ece"] < 0.03
    assert churn.truth["auc_ratio_to_truth"] > 0.97


def test_champion_pyfunc_scores_the_features_frame(first, dataset, tmp_path):
    churn = first.results[0]
    tables = {n: dataset.table(n) for n in dataset.tables}
    frame = compute_features(tables, AS_OF, users=churn_population(tables, AS_OF))
    frame = registry.as_strings(frame).head(200)  # as an API caller sends it: strings, user_id included
    model = mlflow.pyfunc.load_model("models:/churn@champion")
    p = np.asarray(model.predict(frame), dtype=float)
    assert p.shape == (200,) and ((p >= 0) & (p <= 1)).all()
    local = mlflow.artifacts.download_artifacts(f"models:/churn/{churn.version}", dst_path=str(tmp_path))
    files = {p.name for p in __import__("pathlib").Path(local).rglob("*")}
    assert "booster.txt" in files and not any(name.endswith((".pkl", ".pickle")) for name in files)


def test_worse_challenger_is_not_promoted_then_promote_and_rollback(first, dataset):
    churn = first.results[0]
    weak = train(dataset, TrainConfig(as_of=AS_OF, snapshots=4, max_rounds=10, learning_rate=0.001, num_leaves=2, activation=False, experiment="test"))
    challenger = weak.results[0]
    client = MlflowClient()
    assert not challenger.decision.promoted
    assert "champion kept" in challenger.decision.reason
    assert challenger.champion_metrics["roc_auc"] == pytest.approx(churn.metrics["roc_auc"], abs=1e-9)
    assert registry.alias_version(client, "churn", registry.CHAMPION) == churn.version
    assert registry.alias_version(client, "churn", registry.CHALLENGER) == challenger.version

    said = registry.promote("churn")
    assert said == f"churn: champion is now version {challenger.version} (was {churn.version})"
    assert registry.alias_version(client, "churn", registry.CHAMPION) == challenger.version
    said = registry.rollback("churn")
    assert said == f"churn: rolled back, champion is now version {churn.version} (was {challenger.version})"
    assert registry.alias_version(client, "churn", registry.CHAMPION) == churn.version
    with pytest.raises(registry.RegistryError, match="no version 99"):
        registry.promote("churn", "99")
    with pytest.raises(registry.RegistryError, match="no registered model named nope"):
        registry.rollback("nope")


def test_refuses_too_little_data(store, dataset):
    with pytest.raises(NotEnoughData, match=r"at least 100000 of each are needed"):
        train(dataset, TrainConfig(as_of=AS_OF, snapshots=3, min_class_rows=100_000, activation=False, experiment="test"))


def test_report_is_one_readable_page(first, store, tmp_path):
    churn = first.results[0]
    path = mlflow.artifacts.download_artifacts(run_id=churn.run_id, artifact_path="report.html", dst_path=str(tmp_path))
    text = open(path).read()
    assert "Promoted to champion" in text and "days since last order" in text and "logistic regression" in text
    assert text.count("data:image/png;base64,") == 4 and "best possible" in text


def test_estimator_is_sklearn_compatible():
    from sklearn.base import clone

    model = ChurnClassifier(num_leaves=7, seed=3)
    assert clone(model).get_params() == model.get_params()


def _write_minimal(dataset, root, signup_is_first_order: bool):
    """users + orders only; optionally every user's signup moved to their first order."""
    import pathlib

    root = pathlib.Path(root)
    root.mkdir()
    users = dataset.table("users").to_pandas()
    orders = dataset.table("orders").to_pandas()
    if signup_is_first_order:
        first = orders.groupby("user_id")["ordered_at"].min()
        users = users[users["user_id"].isin(first.index)].copy()
        users["signup_at"] = users["user_id"].map(first)
    users.to_parquet(root / "users.parquet", index=False)
    orders.to_parquet(root / "orders.parquet", index=False)
    return load_dataset(root)


@pytest.mark.parametrize("signup_is_first_order", [False, True], ids=["users-and-orders", "signup-at-first-order"])
def test_trains_on_users_and_orders_only(store, dataset, tmp_path, signup_is_first_order):
    minimal = _write_minimal(dataset, tmp_path / "minimal", signup_is_first_order)
    result = train(minimal, TrainConfig(as_of=AS_OF, snapshots=4, max_rounds=200, experiment="minimal"))
    churn = result.results[0]
    assert churn.metrics["roc_auc"] > churn.baselines["recency"]["roc_auc"] - 0.01
    assert churn.metrics["roc_auc"] > 0.85
    features = MlflowClient().get_run(churn.run_id).data.params["features"]
    assert 15 < int(features) < 40  # order and profile features only
    if signup_is_first_order:
        # Nobody is a new user who has not bought yet: the activation population is empty.
        assert result.skipped and "activation" in result.skipped[0]
