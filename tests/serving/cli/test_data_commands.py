"""The churn command line: exit codes, one-line errors, nothing written on failure."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner

from serving.cli.app import app

runner = CliRunner()


@pytest.fixture(scope="module")
def small_dataset(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("cli") / "data"
    result = runner.invoke(app, ["simulate", "--out", str(out), "--users", "600", "--days", "120", "--seed", "2"])
    assert result.exit_code == 0, result.output
    assert "realism targets" in result.stdout
    assert "ground truth" in result.stdout
    return out


def _churn(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", "from serving.cli.app import main; main()", *args], capture_output=True, text=True)


@pytest.mark.parametrize("command", [[], ["simulate"], ["validate"], ["demo"]])
def test_every_command_has_help(command):
    result = runner.invoke(app, [*command, "--help"])
    assert result.exit_code == 0
    assert "Usage" in result.stdout


def test_simulate_writes_the_contract_tables_and_truth(small_dataset):
    names = {p.name for p in small_dataset.iterdir()}
    assert {"users.parquet", "orders.parquet", "events.parquet", "coupons.parquet", "tickets.parquet", "reviews.parquet"} <= names
    assert {"churn.parquet", "coupon_effect.parquet", "users.parquet"} <= {p.name for p in (small_dataset / "truth").iterdir()}
    assert len(pd.read_parquet(small_dataset / "users.parquet")) == 600


def test_validate_prints_a_summary(small_dataset):
    result = runner.invoke(app, ["validate", "--data", str(small_dataset)])
    assert result.exit_code == 0, result.output
    assert "600 users" in result.stdout
    assert "follows the data contract" in result.stdout


def test_bad_option_is_one_line_and_exit_2(tmp_path):
    result = _churn("simulate", "--out", str(tmp_path / "x"), "--users", "0")
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "--users" in lines[0], result.stderr
    assert not (tmp_path / "x").exists()


def test_existing_output_is_not_overwritten(small_dataset):
    before = (small_dataset / "orders.parquet").read_bytes()
    result = _churn("simulate", "--out", str(small_dataset), "--users", "100", "--days", "40")
    assert result.returncode == 2
    assert "--overwrite" in result.stderr and "Traceback" not in result.stderr
    assert (small_dataset / "orders.parquet").read_bytes() == before


def test_broken_dataset_gives_one_line_per_problem_and_exit_2(tmp_path, small_dataset):
    broken = tmp_path / "broken"
    broken.mkdir()
    users = pd.read_parquet(small_dataset / "users.parquet")
    users.loc[0, "user_id"] = users.loc[1, "user_id"]  # a duplicate id
    users.to_parquet(broken / "users.parquet")
    # no orders table at all
    result = _churn("validate", "--data", str(broken))
    assert result.returncode == 2
    assert "Traceback" not in result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 2, result.stderr
    assert any("orders" in line for line in lines)
    assert any("user_id" in line and "unique" in line for line in lines)
    assert result.stdout == ""


def test_features_writes_one_row_per_user(small_dataset, tmp_path):
    out = tmp_path / "features.parquet"
    result = runner.invoke(app, ["features", "--data", str(small_dataset), "--as-of", "2025-03-31", "--out", str(out)])
    assert result.exit_code == 0, result.output
    frame = pd.read_parquet(out)
    users = pd.read_parquet(small_dataset / "users.parquet")
    expected = users.loc[users["signup_at"] < pd.Timestamp("2025-04-01", tz="UTC"), "user_id"].sort_values()
    assert frame["user_id"].tolist() == expected.tolist()
    assert frame.columns[0] == "user_id" and frame.shape[1] > 60
    assert f"{len(frame):,} users x {frame.shape[1] - 1} features" in result.stdout


def test_features_on_users_and_orders_only(small_dataset, tmp_path):
    minimal = tmp_path / "minimal"
    minimal.mkdir()
    for name in ("users", "orders"):
        (minimal / f"{name}.parquet").write_bytes((small_dataset / f"{name}.parquet").read_bytes())
    out = tmp_path / "features.csv"
    result = runner.invoke(app, ["features", "--data", str(minimal), "--as-of", "2025-03-31", "--out", str(out)])
    assert result.exit_code == 0, result.output
    frame = pd.read_csv(out)
    assert {"days_since_last_order", "order_gap_median", "spend_90d", "main_category"} <= set(frame.columns)
    assert not any(c.startswith(("events_", "logins_", "coupons_")) for c in frame.columns)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--as-of", "2025-02-30"], "as_of '2025-02-30' is not a date"),
        (["--as-of", "2025-03-31", "--engine", "pandas"], "--engine"),
    ],
)
def test_features_bad_options(small_dataset, tmp_path, args, message):
    out = tmp_path / "f.parquet"
    result = _churn("features", "--data", str(small_dataset), "--out", str(out), *args)
    assert result.returncode == 2
    assert message in result.stderr and "Traceback" not in result.stderr
    assert not out.exists()


def test_features_bad_destination_fails_before_work(small_dataset, tmp_path):
    result = _churn("features", "--data", str(small_dataset), "--as-of", "2025-03-31", "--out", str(tmp_path / "f.xlsx"))
    assert result.returncode == 2
    assert "unknown format '.xlsx'" in result.stderr
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["nosuch"], "error: No such command 'nosuch'. (see: churn --help)"),
        (["simulate"], "error: Missing option '--out'. (see: churn simulate --help)"),
    ],
)
def test_usage_errors_are_one_line(args, expected):
    result = _churn(*args)
    assert result.returncode == 2
    assert result.stderr.strip() == expected
