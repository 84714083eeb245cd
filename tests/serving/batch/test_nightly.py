"""The nightly job on a real MLflow registry and a DuckDB store: both models, checks, snapshots, export."""

from __future__ import annotations

import datetime as dt
import json
import os

import mlflow
import pandas as pd
import pytest

from features.definition import ChurnDefinition
from features.labels import training_set
from features.simulator.config import SimulationConfig
from features.simulator.run import simulate
from features.validation import load_dataset
from serving.batch.nightly import CheckFailed, NightlyConfig, run_nightly
from serving.batch.snapshots import FeatureSnapshots
from serving.batch.store import ScoreStore
from training import registry
from training.estimator import ChurnClassifier
from training.tracking import use_tracking

pytestmark = pytest.mark.slow
AS_OF = "2025-09-30"
RUN = dt.datetime(2025, 10, 1, 2, 0)


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    root = tmp_path_factory.mktemp("nightly")
    data = simulate(SimulationConfig(users=3000, days=300, seed=5), root / "shop").out
    previous = mlflow.get_tracking_uri()
    cwd = os.getcwd()
    os.chdir(root)
    use_tracking(f"sqlite:///{root / 'mlflow.db'}")
    try:
        yield root, data, _register_both(data)
    finally:
        os.chdir(cwd)
        mlflow.set_tracking_uri(previous)


def _register_both(data) -> list[str]:
    """Fit small churn and activation models and make them champions (the pipeline has its own tests)."""
    from mlflow import MlflowClient

    ds = load_dataset(data)
    tables = {name: ds.table(name) for name in ds.tables}
    registered = []
    for task, snapshots, every in (("churn", 3, 30), ("activation", 6, 14)):
        rows = training_set(tables, "2025-08-31", task=task, snapshots=snapshots, every_days=every)
        model = ChurnClassifier(max_rounds=120).fit(rows, rows["label"], groups=rows["as_of"])
        with mlflow.start_run():
            # the churn model was trained on the default definition's population: saved with it, the night scores that one
            version = registry.log_model(model, rows, task, definition=ChurnDefinition() if task == "churn" else None)
        registry.set_champion(MlflowClient(), task, version)
        registered.append(task)
    return registered


def _config(root, data, **changes) -> NightlyConfig:
    base = {"data": data, "as_of": AS_OF, "store": f"duckdb:///{root / 'scores.duckdb'}", "features_dir": root / "features"}
    return NightlyConfig(**{**base, **changes})


def test_scores_both_populations_and_keeps_snapshots_checks_and_export(trained):
    root, data, registered = trained
    assert registered == ["churn", "activation"]
    config = _config(root, data, export=root / "scores.parquet")
    summary = run_nightly(config, scored_at=RUN)
    store = ScoreStore(config.store)
    day = dt.date(2025, 9, 30)
    churn, activation = store.read("churn", day), store.read("activation", day)
    assert len(churn) > 500 and len(activation) > 20
    assert [r.task for r in summary.runs] == ["churn", "activation"]
    # The snapshot holds exactly the features the scores came from.
    snapshot_day, features = FeatureSnapshots(config.features_dir).latest("churn")
    assert snapshot_day == day and set(features["user_id"].astype(str)) == set(churn["user_id"])
    # New users carry their most-browsed category when the dataset records it, else their main category.
    assert activation["probability"].between(0, 1).all()
    # The checks are stored with the run.
    runs = store.runs("churn")
    checks = json.loads(runs["checks"].iloc[0])
    assert checks["row_count"]["status"] == "ok" and checks["drift"]["status"] in ("ok", "warn")
    assert set(checks["drift"]["psi"]) >= {"score", "days_since_last_order"}
    exported = pd.read_parquet(root / "scores.parquet")
    assert len(exported) == len(churn) + len(activation)
    assert summary.line().startswith("as of 2025-09-30: churn v1: ")


def test_drift_over_the_fail_level_publishes_nothing_unless_allowed(trained):
    root, data, _ = trained
    store_url = f"duckdb:///{root / 'drift.duckdb'}"
    strict = _config(root, data, store=store_url, features_dir=root / "drift-features", psi_warn=1e-6, psi_fail=2e-6)
    with pytest.raises(CheckFailed) as failed:
        run_nightly(strict, scored_at=RUN)
    message = str(failed.value)
    assert "population stability index over 2e-06" in message and "nothing published" in message and "--allow-drift" in message
    assert "\n" not in message
    assert ScoreStore(store_url).runs("churn").empty and not (root / "drift-features").exists()
    allowed = run_nightly(strict.model_copy(update={"allow_drift": True}), scored_at=RUN)
    checks = json.loads(ScoreStore(store_url).runs("churn")["checks"].iloc[0])
    assert checks["drift"]["status"] == "allowed"
    assert "warning: churn: population stability index over 2e-06" in allowed.line()


def test_a_large_drop_in_scored_users_fails_the_row_count_check(trained):
    root, data, _ = trained
    store_url = f"duckdb:///{root / 'drop.duckdb'}"
    run_nightly(_config(root, data, store=store_url, features_dir=root / "drop-features"), scored_at=RUN)
    early = _config(root, data, as_of="2025-02-28", store=store_url, features_dir=root / "drop-features", allow_drift=True)
    with pytest.raises(CheckFailed, match="rows vs .* in the previous run"):
        run_nightly(early, scored_at=RUN)
    assert ScoreStore(store_url).read("churn", dt.date(2025, 2, 28)).empty
    assert FeatureSnapshots(root / "drop-features").dates("churn") == [dt.date(2025, 9, 30)]


def test_an_absent_activation_model_asked_for_by_name_is_an_error(trained):
    from training.registry import RegistryError

    root, data, _ = trained
    with pytest.raises(RegistryError, match="models:/nosuch@champion"):
        run_nightly(_config(root, data, store=f"duckdb:///{root / 'x.duckdb'}", activation_model="models:/nosuch@champion"), scored_at=RUN)


def _consistent(store: ScoreStore, model: str) -> dict:
    """Every recorded run's rows are all there, and no rows exist without a run: {as_of: rows}."""
    runs = store.runs(model)
    seen = {}
    for as_of, rows in zip(runs["as_of"], runs["rows"], strict=True):
        day = pd.Timestamp(as_of).date()
        assert len(store.read(model, day)) == rows, f"{model} {day}: {rows} recorded"
        seen[day] = rows
    return seen


def test_killing_the_job_at_any_moment_leaves_the_previous_scores(trained):
    import signal
    import subprocess
    import sys
    import time

    root, data, _ = trained
    store_url = f"duckdb:///{root / 'kill.duckdb'}"
    run_nightly(_config(root, data, store=store_url, features_dir=root / "kill-features"), scored_at=RUN)
    store = ScoreStore(store_url)
    before = store.read("churn", dt.date(2025, 9, 30))
    env = {**os.environ, "MLFLOW_TRACKING_URI": mlflow.get_tracking_uri(), "MLFLOW_DISABLE_TELEMETRY": "true"}
    command = [sys.executable, "-c", "from serving.cli.app import main; main()", "score", "--data", str(data), "--as-of", "2025-09-20",
               "--store", store_url, "--features-dir", str(root / "kill-features")]  # fmt: skip
    for delay in (1.0, 3.0, 5.0, 7.0, 9.0, 11.0):
        job = subprocess.Popen(command, cwd=root, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        time.sleep(delay)
        job.send_signal(signal.SIGKILL)
        job.wait()
        for model in ("churn", "activation"):
            seen = _consistent(store, model)
            assert dt.date(2025, 9, 30) in seen
        pd.testing.assert_frame_equal(store.read("churn", dt.date(2025, 9, 30)), before)
    finished = subprocess.run(command, cwd=root, env=env, capture_output=True, text=True)
    assert finished.returncode == 0, finished.stderr
    assert set(_consistent(store, "churn")) == {dt.date(2025, 9, 30), dt.date(2025, 9, 20)}


@pytest.mark.parametrize("as_of, side", [("2022-01-01", "before the data starts"), ("2099-01-01", "after the data ends")])
def test_an_as_of_outside_the_data_publishes_nothing_whatever_is_allowed(trained, as_of, side):
    from features.errors import ConfigError

    root, data, _ = trained
    store_url = f"duckdb:///{root / 'outside.duckdb'}"
    config = _config(root, data, as_of=as_of, store=store_url, features_dir=root / "outside-features", allow_drift=True, max_drop=1)
    with pytest.raises(ConfigError, match=f"as_of {as_of} is {side}: it must lie from 20") as e:
        run_nightly(config, scored_at=RUN)
    assert e.value.exit_code == 2
    assert not (root / "outside.duckdb").exists() and not (root / "outside-features").exists()


def _without_new_users(data, target, as_of: str, days: int):
    """A copy of the dataset without the users who signed up in the ``days`` before ``as_of`` (and without their rows)."""
    import shutil

    shutil.copytree(data, target)
    users = pd.read_parquet(target / "users.parquet")
    signup = pd.to_datetime(users["signup_at"])
    signup = signup.dt.tz_convert(None) if signup.dt.tz is not None else signup
    end = pd.Timestamp(as_of) + pd.Timedelta(days=1)
    dropped = set(users.loc[(signup > end - pd.Timedelta(days=days)), "user_id"])
    assert dropped, "the fixture should have new users to drop"
    for path in target.glob("*.parquet"):
        frame = pd.read_parquet(path)
        if "user_id" in frame.columns:
            frame[~frame["user_id"].isin(dropped)].to_parquet(path, index=False)
    return target


def test_a_night_without_new_users_publishes_churn_only_and_says_so(trained):
    from features.labels import ACTIVATION_SIGNUP_DAYS

    root, data, _ = trained
    quiet = _without_new_users(data, root / "quiet-shop", AS_OF, ACTIVATION_SIGNUP_DAYS + 1)
    store_url = f"duckdb:///{root / 'quiet.duckdb'}"
    summary = run_nightly(_config(root, quiet, store=store_url, features_dir=root / "quiet-features"), scored_at=RUN)
    store = ScoreStore(store_url)
    assert [r.task for r in summary.runs] == ["churn"]
    assert len(store.read("churn", dt.date(2025, 9, 30))) > 500
    assert store.runs("activation").empty and FeatureSnapshots(root / "quiet-features").dates("activation") == []
    assert "activation: no users to score as of 2025-09-30, nothing published for activation" in summary.line()


def test_a_truncated_registered_model_is_exit_3_with_one_line(trained):
    """The registry's own copy of the booster cut to a third: `churn score` refuses it before any work (restored after)."""
    import subprocess
    import sys

    root, data, _ = trained
    boosters = [p for p in root.rglob("booster.txt") if "mlartifacts" in p.parts or "mlruns" in p.parts]
    assert boosters, "the registered models' files were not found"
    saved = {p: p.read_bytes() for p in boosters}
    env = {**os.environ, "MLFLOW_TRACKING_URI": mlflow.get_tracking_uri(), "MLFLOW_DISABLE_TELEMETRY": "true"}
    command = [sys.executable, "-c", "from serving.cli.app import main; main()", "score", "--data", str(data), "--as-of", AS_OF,
               "--store", f"duckdb:///{root / 'cut.duckdb'}", "--features-dir", str(root / "cut-features")]  # fmt: skip
    try:
        for path, text in saved.items():
            path.write_bytes(text[: len(text) // 3])
        result = subprocess.run(command, cwd=root, env=env, capture_output=True, text=True, timeout=600)
    finally:
        for path, text in saved.items():
            path.write_bytes(text)
    assert result.returncode == 3, result.stderr[-3000:]
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "booster.txt" in lines[0] and "the file may be cut short" in lines[0], lines
    assert "LightGBM" not in result.stderr and not (root / "cut.duckdb").exists()
