"""The churn app: every command goes through the one error handler; invalid options are one line and exit 2."""

from __future__ import annotations

import pytest
from typer.testing import CliRunner

from serving.cli.app import app, campaign_app, handled, report_app

runner = CliRunner()


def test_every_command_goes_through_the_one_error_handler():
    commands = [*app.registered_commands, *campaign_app.registered_commands, *report_app.registered_commands]
    assert len(commands) == 14  # 11 commands, campaign report, report nightly and report retention
    for command in [*commands, report_app.registered_callback]:  # the callback: churn report (a training run's)
        assert command.callback.__code__ is handled(print).__code__, command.callback.__name__


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["score", "--data", "nowhere", "--as-of", "2025-08-31", "--max-drop", "2"],
         "--max-drop: Input should be less than or equal to 1 (got 2.0)"),
        (["score", "--data", "nowhere", "--as-of", "2025-08-31", "--medium", "0.7"],
         "--input: band cut-offs must increase: medium 0.7 < high 0.6"),
        (["list", "coupons", "--as-of", "2025-08-31", "--budget", "-5", "--coupon-value", "2"],
         "--budget: Input should be greater than 0 (got -5.0)"),
        (["train", "--data", "nowhere", "--as-of", "2025-08-31", "--snapshots", "1"],
         "--snapshots: Input should be greater than or equal to 2 (got 1)"),
    ],
)  # fmt: skip
def test_an_invalid_option_is_one_line_naming_it_and_exit_2(args, expected, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # nothing may be written, not even data/
    result = runner.invoke(app, args)
    assert result.exit_code == 2, result.output
    assert result.output.strip().splitlines() == [f"error: {expected}"]
    assert list(tmp_path.iterdir()) == []
