"""Where MLflow keeps runs and models: ``MLFLOW_TRACKING_URI``, or a SQLite file under ``data/``."""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

import mlflow
from mlflow import MlflowClient

DATA_DIR = Path("data")
DEFAULT_DB = "mlflow.db"
ARTIFACTS_DIR = "mlartifacts"


def tracking_uri(environ: Mapping[str, str] | None = None, data_dir: Path = DATA_DIR) -> str:
    """``MLFLOW_TRACKING_URI`` if set, else ``sqlite:///<data_dir>/mlflow.db`` (absolute)."""
    env = os.environ if environ is None else environ
    uri = env.get("MLFLOW_TRACKING_URI")
    if uri:
        return uri
    return f"sqlite:///{(data_dir / DEFAULT_DB).resolve()}"


def use_tracking(uri: str, data_dir: Path = DATA_DIR) -> str:
    """Point MLflow (tracking and registry) at ``uri``; creates ``data_dir`` for a local SQLite store."""
    if uri.startswith("sqlite:///"):
        Path(uri.removeprefix("sqlite:///")).parent.mkdir(parents=True, exist_ok=True)
    mlflow.set_tracking_uri(uri)
    mlflow.set_registry_uri(uri)
    return uri


def experiment_id(name: str, data_dir: Path = DATA_DIR) -> str:
    """The experiment ``name``, created with its artifacts under ``data_dir/mlartifacts`` if new."""
    client = MlflowClient()
    existing = client.get_experiment_by_name(name)
    if existing is not None:
        return existing.experiment_id
    location = (data_dir / ARTIFACTS_DIR).resolve()
    location.mkdir(parents=True, exist_ok=True)
    return client.create_experiment(name, artifact_location=location.as_uri())
