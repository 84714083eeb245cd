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
from features.labels import ORDERS_ONLY, ChurnDefinition, churn_population
from features.simulator.config import SimulationConfig
from features.simulator.ground_truth import churn_truth
from features.simulator.run import simulate
from features.validation import load_dataset
from training import registry
from training.estimator import ChurnClassifier
from serving.models import load_registered
from training.gate import GateConfig
from training.pipeline import ChampionError, NotEnoughData, TrainConfig, train
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


# 3,000 users: the validation snapshot holds about 1,000 of them, so the test's gate asks for 500 and allows an ECE of 0.03.
SMALL_GATE = GateConfig(max_ece=0.03, min_validation_rows=500, min_validation_positives=50)


@pytest.fixture(scope="module")
def first(store, dataset):
    # The dataset is simulated: the run compares the model with the simulator's true probabilities.
    config = TrainConfig(as_of=AS_OF, snapshots=6, max_rounds=300, experiment="test", gate=SMALL_GATE, activation=False)
    return train(dataset, config, reference=partial(churn_truth, dataset.path))


def test_first_model_becomes_champion_with_metrics_and_artifacts(first, store):
    churn = first.results[0]
    client = MlflowClient()
    assert churn.decision.promoted and registry.alias_version(client, "churn", registry.CHAMPION) == churn.version
    assert registry.alias_version(client, "churn", registry.CHALLENGER) == churn.version
    run = client.get_run(churn.run_id)
    for key in ("valid.roc_auc", "valid.pr_auc", "valid.log_loss", "valid.brier", "valid.ece", "valid.lift_top5",
                "valid.capture_top20", "baseline_recency.roc_auc", "baseline_logistic.roc_auc", "truth_roc_auc",
                "backtest.model.roc_auc_mean", "backtest.bgnbd.roc_auc_mean", "backtest.rfm_lightgbm.ece_std", "quality.grade",
                "calibration.held_back_roc_auc_before", "calibration.held_back_roc_auc_after"):
        assert key in run.data.metrics, key
    assert any(k.startswith("segment.member_tier.") for k in run.data.metrics)
    assert run.data.params["validation_date"] == "2025-08-31"
    assert len(run.data.params["data_fingerprint"]) == 16
    artifacts = {a.path for a in client.list_artifacts(churn.run_id)} | {a.path for a in client.list_artifacts(churn.run_id, "plots")}
    assert {"report.html", "backtest.csv", "gate.json", "plots/calibration.png", "plots/gain_lift.png", "plots/importance.png",
            "plots/contributions.png", "plots/backtest.png"} <= artifacts  # fmt: skip
    # Backtested on four past dates; better than every baseline on each of them; calibrated, close to the best possible.
    assert sorted(churn.backtest["validation_date"].unique())[-1] == pd.Timestamp("2025-08-31").date()
    assert churn.backtest["validation_date"].nunique() == 4
    assert set(churn.backtest["candidate"]) == {"model", "recency", "logistic", "rfm_lightgbm", "bgnbd", "bgnbd_expected"}
    wide = churn.backtest.pivot(index="validation_date", columns="candidate", values="roc_auc")
    assert (wide.drop(columns="model").max(axis=1) < wide["model"]).all()
    assert all(c.passed for c in churn.decision.checks) and len(churn.decision.checks) == 9
    assert churn.metrics["ece"] < 0.03
    assert churn.truth["auc_ratio_to_truth"] > 0.95


def test_champion_carries_its_definition_and_scores_the_features_frame(first, dataset, tmp_path):
    churn = first.results[0]
    tables = {n: dataset.table(n) for n in dataset.tables}
    frame = compute_features(tables, AS_OF, users=churn_population(tables, AS_OF))
    frame = registry.as_strings(frame).head(200)  # as an API caller sends it: strings, user_id included
    model = mlflow.pyfunc.load_model("models:/churn@champion")
    p = np.asarray(model.predict(frame), dtype=float)
    assert p.shape == (200,) and ((p > 0) & (p < 1)).all()
    local = mlflow.artifacts.download_artifacts(f"models:/churn/{churn.version}", dst_path=str(tmp_path))
    files = {p.name for p in __import__("pathlib").Path(local).rglob("*")}
    assert {"booster.txt", "task.json"} <= files and not any(name.endswith((".pkl", ".pickle")) for name in files)
    loaded = load_registered("models:/churn@champion")
    assert loaded.definition == ChurnDefinition() and loaded.version == churn.version


def test_a_weaker_challenger_is_registered_not_promoted_and_the_report_says_why(first, dataset, tmp_path):
    churn = first.results[0]
    weak_config = TrainConfig(
        as_of=AS_OF, snapshots=4, backtest_dates=2, max_rounds=10, learning_rate=0.001, num_leaves=2, activation=False,
        experiment="test", gate=SMALL_GATE,
    )  # fmt: skip
    challenger = train(dataset, weak_config).results[0]
    client = MlflowClient()
    assert not challenger.decision.promoted
    failed = [c.name for c in challenger.decision.failed]
    assert "beats logistic" in failed and f"beats champion v{churn.version}" in failed
    assert challenger.decision.reason.startswith("not promoted: ")
    assert challenger.champion_metrics["roc_auc"] == pytest.approx(churn.metrics["roc_auc"], abs=1e-9)
    assert registry.alias_version(client, "churn", registry.CHAMPION) == churn.version
    assert registry.alias_version(client, "churn", registry.CHALLENGER) == challenger.version
    path = mlflow.artifacts.download_artifacts(run_id=challenger.run_id, artifact_path="report.html", dst_path=str(tmp_path))
    text = open(path).read()
    assert "Not promoted." in text and "FAILED" in text and "beats logistic" in text and "Prediction quality:" in text


def test_an_error_scoring_the_champion_stops_training_and_never_promotes(first, store, dataset, tmp_path):
    """Orders-only data: the champion (trained with events) cannot score it; the challenger is kept, unpromoted."""
    churn = first.results[0]
    minimal = _write_minimal(dataset, tmp_path / "minimal", signup_is_first_order=False)
    config = TrainConfig(as_of=AS_OF, snapshots=4, backtest_dates=2, max_rounds=200, experiment="minimal", definition=ORDERS_ONLY,
                         activation=False, gate=SMALL_GATE)  # fmt: skip
    with pytest.raises(ChampionError, match=rf"churn: champion v{churn.version} could not score the validation rows \(.*\); challenger v\d+ registered, not promoted"):
        train(minimal, config)
    client = MlflowClient()
    assert registry.alias_version(client, "churn", registry.CHAMPION) == churn.version
    latest = client.search_runs([client.get_experiment_by_name("minimal").experiment_id], order_by=["attributes.start_time DESC"])[0]
    assert latest.data.tags["promotion"].startswith(f"not promoted: champion v{churn.version} could not score")
    # What it learnt from orders only still beats BG/NBD and days since the last order on the backtest.
    metrics = latest.data.metrics
    assert metrics["backtest.model.roc_auc_mean"] > metrics["backtest.bgnbd.roc_auc_mean"]
    assert metrics["backtest.model.roc_auc_mean"] > metrics["backtest.recency.roc_auc_mean"]
    assert 15 < int(latest.data.params["features"]) < 40  # order and profile features only


def test_promote_then_rollback_twice_walks_back_through_the_champions(first, store):
    """Runs after the two tests above registered versions 2 and 3 of churn, neither promoted."""
    client = MlflowClient()
    one = first.results[0].version
    two, three = str(int(one) + 1), str(int(one) + 2)
    assert registry.promote("churn", two) == f"churn: champion is now version {two} (was {one})"
    assert registry.promote("churn", three) == f"churn: champion is now version {three} (was {two})"
    assert registry.rollback("churn") == f"churn: rolled back, champion is now version {two} (was {three})"
    assert registry.rollback("churn") == f"churn: rolled back, champion is now version {one} (was {two})"
    assert registry.alias_version(client, "churn", registry.CHAMPION) == one
    with pytest.raises(registry.RegistryError, match="no previous champion"):
        registry.rollback("churn")
    with pytest.raises(registry.RegistryError, match="no version 99"):
        registry.promote("churn", "99")
    with pytest.raises(registry.RegistryError, match="no registered model named nope"):
        registry.rollback("nope")


def test_refuses_too_little_data(store, dataset):
    with pytest.raises(NotEnoughData, match=r"at least 100000 of each are needed"):
        train(dataset, TrainConfig(as_of=AS_OF, snapshots=3, min_class_rows=100_000, activation=False, experiment="test"))


def test_report_puts_the_grade_on_top_and_shows_the_backtest(first, store, tmp_path):
    churn = first.results[0]
    path = mlflow.artifacts.download_artifacts(run_id=churn.run_id, artifact_path="report.html", dst_path=str(tmp_path))
    text = open(path).read()
    assert text.index("Prediction quality:") < text.index("Promoted to champion") < text.index("Promotion gate")
    assert "Backtest over 4 dates" in text and "BG/NBD P(no purchase)" in text and "LightGBM on RFM columns" in text
    assert "a session in the last 30 days" in text and "Beta calibration on the held-back snapshot" in text
    assert text.count("data:image/png;base64,") == 5 and "best possible" in text


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
