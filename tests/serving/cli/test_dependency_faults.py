"""Faults of the CLI's dependencies, injected for real, are one line and a documented exit code each:
a garbage mlflow.db, a store file that is not a database, a store held by another process, a closed
PostgreSQL port, a missing store (which must not be created), an infinite budget."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
from typer.testing import CliRunner

from serving.cli.app import app

runner = CliRunner()


def churn(*args: str, cwd: Path, **env: str) -> subprocess.CompletedProcess:
    """The ``churn`` command in a process of its own (MLflow keeps global state)."""
    command = [sys.executable, "-c", "from serving.cli.app import main; main()", *args]
    environment = {**os.environ, "MLFLOW_DISABLE_TELEMETRY": "true", **env}
    return subprocess.run(command, cwd=cwd, env=environment, capture_output=True, text=True, timeout=300)


def _one_line(result) -> str:
    lines = (result.stderr if hasattr(result, "stderr") and result.stderr else result.output).strip().splitlines()
    assert len(lines) == 1, lines
    return lines[0]


def test_a_garbage_mlflow_db_is_exit_6_and_left_alone(tmp_path):
    garbage = tmp_path / "mlflow.db"
    garbage.write_bytes(os.urandom(20000))
    before = garbage.read_bytes()
    result = churn("import-model", cwd=tmp_path, MLFLOW_TRACKING_URI=f"sqlite:///{garbage}")
    assert result.returncode == 6, result.stderr
    assert _one_line(result) == f"error: the MLflow registry at sqlite:///{garbage} cannot be used: file is not a database"
    assert garbage.read_bytes() == before


def test_a_closed_postgres_port_fails_churn_score_before_any_work(tmp_path):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    started = time.monotonic()
    result = churn("score", "--data", str(tmp_path / "no-data"), "--as-of", "2025-08-31",
                   "--store", f"postgresql+psycopg://churn@127.0.0.1:{port}/churn", cwd=tmp_path,
                   MLFLOW_TRACKING_URI=f"sqlite:///{tmp_path / 'mlflow.db'}")  # fmt: skip
    assert result.returncode == 6, result.stderr
    assert _one_line(result).startswith(f"error: score store postgresql+psycopg://churn@127.0.0.1:{port}/churn: cannot be reached (")
    assert time.monotonic() - started < 120  # no dataset was read: it does not even exist


def test_a_missing_store_is_not_created_by_churn_list(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    store = tmp_path / "nowhere" / "scores.duckdb"
    result = runner.invoke(app, ["list", "at-risk", "--as-of", "2025-08-31", "--store", f"duckdb:///{store}"])
    assert result.exit_code == 2, result.output
    assert "no churn scores in" in _one_line(result) and "latest published: none" in result.output
    assert list(tmp_path.iterdir()) == []


def test_a_store_file_that_is_not_a_database_is_exit_6(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    store = tmp_path / "scores.duckdb"
    store.write_bytes(b"\xff" * 4096)
    result = runner.invoke(app, ["list", "at-risk", "--as-of", "2025-08-31", "--store", f"duckdb:///{store}"])
    assert result.exit_code == 6, result.output
    assert _one_line(result) == f"error: score store {store}: not a DuckDB database file (move it away or point --store elsewhere)"


def test_a_store_held_by_a_publish_is_exit_5(tmp_path, monkeypatch):
    import pandas as pd

    from serving.batch.store import ScoreStore
    from serving.columns import SCORE_COLUMNS

    monkeypatch.chdir(tmp_path)
    store = tmp_path / "scores.duckdb"
    row = {c: None for c in SCORE_COLUMNS} | {"user_id": "1", "as_of": pd.Timestamp("2025-08-31").date(), "probability": 0.5,
                                               "risk_band": "medium", "model_name": "churn", "model_version": "1",
                                               "scored_at": pd.Timestamp("2025-09-01")}  # fmt: skip
    ScoreStore(f"duckdb:///{store}").publish(pd.DataFrame([row]))
    flag = tmp_path / "held"
    hold = f"import duckdb, pathlib, time; c = duckdb.connect({str(store)!r}); pathlib.Path({str(flag)!r}).touch(); time.sleep(600)"
    holder = subprocess.Popen([sys.executable, "-c", hold])
    try:
        while not flag.exists():
            assert holder.poll() is None
            time.sleep(0.02)
        result = runner.invoke(app, ["list", "at-risk", "--as-of", "2025-08-31", "--store", f"duckdb:///{store}"])
    finally:
        holder.kill()
        holder.wait()
    assert result.exit_code == 5, result.output
    assert _one_line(result) == f"error: score store {store}: being published (waited 1 s); retry shortly"


@pytest.mark.parametrize("budget", ["inf", "nan", "1e999"])
def test_an_infinite_budget_is_exit_2(tmp_path, monkeypatch, budget):
    monkeypatch.chdir(tmp_path)
    result = runner.invoke(app, ["list", "coupons", "--as-of", "2025-08-31", "--budget", budget, "--coupon-value", "2"])
    assert result.exit_code == 2, result.output
    assert _one_line(result).startswith("error: --budget: Input should be a finite number (got ")
    assert list(tmp_path.iterdir()) == []
