"""``churn report retention``: the hand-computed shop of the retention tests through the command line."""

from __future__ import annotations

import datetime as dt
import json

import pytest
from typer.testing import CliRunner

from features.contract import STATUS_PAID
from serving.cli.app import app
from tests.serving.crm.test_retention import orders_frame, users_frame

runner = CliRunner()


@pytest.fixture(scope="module")
def shop(tmp_path_factory):
    folder = tmp_path_factory.mktemp("retention") / "shop"
    folder.mkdir()
    users_frame().to_parquet(folder / "users.parquet")
    # C's order on as_of day makes the data reach as_of; it falls in C's month 1, which has not ended.
    orders_frame([(12, 3, dt.datetime(2025, 3, 31, 10), 10.0, STATUS_PAID)]).to_parquet(folder / "orders.parquet")
    return folder


def test_the_report_prints_rates_and_writes_the_table_and_plot(shop, tmp_path):
    out, plot = tmp_path / "retention.json", tmp_path / "retention.png"
    result = runner.invoke(
        app, ["report", "retention", "--data", str(shop), "--as-of", "2025-03-31", "--by", "member_tier", "--out", str(out), "--plot", str(plot)]
    )
    assert result.exit_code == 0, result.output
    assert "Retention by member tier, as of 2025-03-31" in result.stdout
    gold = next(line for line in result.stdout.splitlines() if "gold" in line)
    assert [cell.strip() for cell in gold.strip("│ ").split("│")][:5] == ["gold", "2", "100", "100", "0"]
    rows = json.loads(out.read_text())
    assert {(r["group"], r["month"], r["users"], r["retained"]) for r in rows} >= {("gold", 0, 2, 2), ("regular", 3, 1, 1)}
    assert plot.read_bytes()[:4] == b"\x89PNG"


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--by", "tier"], "retention by 'tier': expected one of"),
        (["--as-of", "2031-01-01"], "2031-01-01"),
        (["--plot", "curves.svg"], "--plot curves.svg: expected a .png file"),
    ],
)
def test_bad_options_are_one_line_and_exit_2(shop, tmp_path, args, message):
    base = {"--as-of": "2025-03-31"}
    for flag, value in zip(args[::2], args[1::2]):
        base[flag] = value
    argv = ["report", "retention", "--data", str(shop)] + [x for kv in base.items() for x in kv]
    result = runner.invoke(app, argv)
    assert result.exit_code == 2
    assert message in result.output
    assert "Traceback" not in result.output
