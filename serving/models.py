"""Loading a registered model for scoring: ``models:/NAME@ALIAS`` or ``models:/NAME/VERSION``."""

from __future__ import annotations

import re
import tempfile
from dataclasses import dataclass
from pathlib import Path

from features.errors import ConfigError
from training.estimator import META_FILE, ChurnClassifier
from training.registry import RegistryError

URI = re.compile(r"^models:/(?P<name>[A-Za-z0-9_.-]+)(?:@(?P<alias>[A-Za-z0-9_-]+)|/(?P<version>\d+))$")


@dataclass(frozen=True)
class LoadedModel:
    model: ChurnClassifier
    name: str
    version: str


def resolve_version(uri: str, what: str = "--model") -> tuple[str, str]:
    """The registered name and version behind ``uri`` (an alias is resolved now); ``what`` names it in errors."""
    import mlflow
    from mlflow import MlflowClient
    from mlflow.exceptions import MlflowException

    match = URI.match(uri)
    if not match:
        raise ConfigError(f"{what} {uri!r}: expected models:/NAME@ALIAS or models:/NAME/VERSION")
    name, alias, version = match["name"], match["alias"], match["version"]
    client = MlflowClient()
    try:
        version = str(client.get_model_version_by_alias(name, alias).version) if alias else version
        client.get_model_version(name, version)
    except MlflowException:
        raise RegistryError(f"{what} {uri}: not found in the registry at {mlflow.get_tracking_uri()}") from None
    return name, version


def load_registered(uri: str) -> LoadedModel:
    """The fitted classifier behind a registry URI, with its name and version fixed at load time."""
    import mlflow

    name, version = resolve_version(uri)
    with tempfile.TemporaryDirectory() as tmp:
        local = Path(mlflow.artifacts.download_artifacts(f"models:/{name}/{version}", dst_path=tmp))
        metas = list(local.rglob(META_FILE))
        if len(metas) != 1:
            raise RegistryError(f"--model {uri}: version {version} holds no churn classifier")
        model = ChurnClassifier.load(metas[0].parent)
    return LoadedModel(model, name, version)
