"""The exit-code table of docs/operations.md and the error table of docs/api.md say what the code does."""

from __future__ import annotations

import re
from pathlib import Path

from features.errors import ChurnError, ConfigError, DataContractError
from serving.api.auth import ApiGate
from serving.api.errors import NotFound
from serving.batch.nightly import CheckFailed
from serving.cli.app import EXIT_CODES
from serving.errors import DependencyError, NothingPublished, StoreBusy
from serving.model_files import ModelFilesError
from training.registry import RegistryError

DOCS = Path(__file__).resolve().parents[2] / "docs"


def _table(path: Path, heading: str) -> list[list[str]]:
    """The rows (cells) of the first table after ``heading``."""
    text = path.read_text()
    section = text[text.index(heading) :]
    rows = []
    for line in section.splitlines()[1:]:
        if line.startswith("#"):
            break
        if line.startswith("|") and not line.startswith("|---"):
            rows.append([cell.strip() for cell in line.strip("|").split("|")])
    return rows[1:]  # without the header row


def test_the_exit_code_table_lists_every_code_the_cli_returns():
    rows = _table(DOCS / "operations.md", "## Exit codes (for cron and alerting)")
    documented = {int(row[0]): row[1] for row in rows}
    assert set(documented) == set(EXIT_CODES)
    for code, meaning in EXIT_CODES.items():
        words = set(re.findall(r"[a-z]+", meaning)) - {"or", "a", "the", "to"}
        assert words & set(re.findall(r"[a-z]+", documented[code].lower())), (code, meaning, documented[code])
    raised = {ConfigError, DataContractError, ModelFilesError, RegistryError, CheckFailed, StoreBusy, DependencyError, NothingPublished}
    assert {error.exit_code for error in raised} == set(EXIT_CODES) - {0, 1}
    assert ChurnError.exit_code == 1


def test_the_api_error_table_lists_every_status_the_service_answers():
    rows = _table(DOCS / "api.md", "## Errors and limits")
    documented = {int(row[0]) for row in rows}
    gate = Path(__file__).resolve().parents[2] / "serving" / "api" / "auth.py"
    answered_by_gate = {int(s) for s in re.findall(r"await _json\(send, (\d{3})", gate.read_text())}
    from_errors = {e.http_status for e in (ConfigError, NotFound, StoreBusy, DependencyError, ModelFilesError)}
    assert answered_by_gate | from_errors | {500} == documented
    assert ApiGate  # the gate's statuses are read from its module


def test_documented_example_lines_are_what_the_code_says(tmp_path):
    from serving.batch.store import ScoreStore

    garbage = tmp_path / "scores.duckdb"
    garbage.write_bytes(b"\xff" * 64)
    try:
        ScoreStore(f"duckdb:///{garbage}").check()
    except DependencyError as e:
        said = e.message.replace(str(garbage), "data/scores.duckdb")
    assert f"`error: {said}`" in (DOCS / "operations.md").read_text()
