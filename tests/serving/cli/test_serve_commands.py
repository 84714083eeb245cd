"""``churn serve`` and ``churn import-model``: settings checked before anything starts, champions imported once."""

from __future__ import annotations

import os

import pytest
from typer.testing import CliRunner

from serving.cli.app import app

runner = CliRunner()


@pytest.fixture
def no_service_settings(monkeypatch):
    for key in list(os.environ):
        if key.startswith("CHURN_API_"):
            monkeypatch.delenv(key)


def test_serve_has_help():
    result = runner.invoke(app, ["serve", "--help"])
    assert result.exit_code == 0 and "--host" in result.stdout and "--no-import" in result.stdout


def test_serve_refuses_to_start_without_a_token(no_service_settings):
    result = runner.invoke(app, ["serve", "--port", "3999"])
    assert result.exit_code == 2
    assert "no API token configured: set CHURN_API_TOKENS" in result.output
    assert "CHURN_API_ALLOW_NO_AUTH=true" in result.output


def test_serve_refuses_an_unknown_setting(no_service_settings, monkeypatch):
    monkeypatch.setenv("CHURN_API_TOKENS", "crm:0123456789abcdef-secret")
    monkeypatch.setenv("CHURN_API_MAX_ROWS", "10")
    result = runner.invoke(app, ["serve"])
    assert result.exit_code == 2 and "CHURN_API_MAX_ROWS: not a setting of the service" in result.output


@pytest.mark.slow
def test_import_model_imports_the_champion_once(service_workspace, monkeypatch):
    monkeypatch.setenv("MLFLOW_TRACKING_URI", service_workspace.tracking_uri)
    with service_workspace.mlflow():
        result = runner.invoke(app, ["import-model"])
        assert result.exit_code == 0, result.output
        assert f"imported {service_workspace.bundle_tag} (churn v1; unchanged, reused)" in result.stdout
        assert "no activation model registered" in result.stdout
        missing = runner.invoke(app, ["import-model", "--activation-model", "models:/activation/7"])
    assert missing.exit_code == 3 and "models:/activation/7: not found in the registry" in missing.output
