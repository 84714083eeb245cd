"""churn train / report / promote / rollback from the command line, on a real MLflow store."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from features.simulator.config import SimulationConfig
from features.simulator.run import simulate

pytestmark = pytest.mark.slow


def _churn(cwd: Path, env: dict, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-c", "from serving.cli import main; main()", *args], capture_output=True, text=True, cwd=cwd, env=env
    )


@pytest.fixture(scope="module")
def workspace(tmp_path_factory):
    import os

    root = tmp_path_factory.mktemp("cli-train")
    simulate(SimulationConfig(users=2500, days=243, seed=21), root / "data" / "shop")
    env = {k: v for k, v in os.environ.items() if k != "MLFLOW_TRACKING_URI"}
    env["MLFLOW_DISABLE_TELEMETRY"] = "true"
    return root, env


def test_train_report_promote_rollback(workspace):
    root, env = workspace
    before_registry = _churn(root, env, "promote")
    assert before_registry.returncode == 3
    assert before_registry.stderr.strip().endswith("no registered model named churn in sqlite:///" + str((root / "data" / "mlflow.db").resolve()))

    first = _churn(root, env, "train", "--data", "data/shop", "--as-of", "2025-08-31", "--snapshots", "4", "--no-activation")
    assert first.returncode == 0, first.stderr
    assert "churn v1: no champion yet: challenger becomes champion" in first.stdout
    assert (root / "data" / "mlflow.db").exists()  # the default store, under ./data

    report = _churn(root, env, "report")
    assert report.returncode == 0, report.stderr
    path = Path(report.stdout.strip())
    assert path.name == "report.html" and "Churn model, version 1" in path.read_text()

    second = _churn(root, env, "train", "--data", "data/shop", "--as-of", "2025-08-31", "--snapshots", "4", "--no-activation")
    assert second.returncode == 0, second.stderr
    assert "churn v2: champion kept" in second.stdout  # same data and seed: not better

    promoted = _churn(root, env, "promote")
    assert promoted.returncode == 0 and promoted.stdout.strip() == "churn: champion is now version 2 (was 1)"
    rolled = _churn(root, env, "rollback")
    assert rolled.returncode == 0 and rolled.stdout.strip() == "churn: rolled back, champion is now version 1 (was 2)"
    again = _churn(root, env, "rollback")
    assert again.returncode == 0 and again.stdout.strip() == "churn: rolled back, champion is now version 2 (was 1)"


def test_train_refuses_bad_options_and_too_little_data(workspace):
    root, env = workspace
    bad = _churn(root, env, "train", "--data", "data/shop", "--as-of", "2025-08-31", "--snapshots", "1")
    assert bad.returncode == 2 and bad.stderr.count("\n") == 1 and "--snapshots" in bad.stderr
    early = _churn(root, env, "train", "--data", "data/shop", "--as-of", "2025-03-15", "--snapshots", "2", "--no-activation")
    assert early.returncode == 2 and "Traceback" not in early.stderr
    assert "at least 200 of each are needed" in early.stderr
