"""The one model loader: a fitted classifier with its registry name and version, fixed when it is loaded.

The nightly job and the HTTP service score with the same :class:`LoadedModel`.
The job loads the version behind a registry URI now (:func:`load_registered`);
the service loads the copies its bundle holds (:mod:`serving.api.bundle`). In
both cases a model is an MLflow model directory holding the classifier's saved
form (:meth:`ChurnClassifier.save`), read by :func:`load_model`. MLflow is
imported only when the registry is used, so the service starts without it.
"""

from __future__ import annotations

import re
import tempfile
from dataclasses import dataclass
from pathlib import Path

from features.definition import ChurnDefinition
from features.errors import ConfigError
from serving.model_files import ModelFilesError, check_model_files
from training.estimator import META_FILE, ChurnClassifier

__all__ = ["URI", "LoadedModel", "ModelFilesError", "download", "load_model", "load_registered", "registry_name", "resolve_version"]
URI = re.compile(r"^models:/(?P<name>[A-Za-z0-9_.-]+)(?:@(?P<alias>[A-Za-z0-9_-]+)|/(?P<version>\d+))$")


@dataclass(frozen=True)
class LoadedModel:
    """A fitted classifier, the registry name and version it was loaded as, and the churn definition it was trained
    for (task.json beside the classifier; None for an activation model or one saved before definitions)."""

    model: ChurnClassifier
    name: str
    version: str
    definition: ChurnDefinition | None = None


def load_model(directory: Path, name: str, version: str, what: str) -> LoadedModel:
    """The classifier inside the MLflow model directory ``directory``; ModelFilesError naming ``what`` if it cannot be loaded."""
    metas = list(Path(directory).rglob(META_FILE))
    if len(metas) != 1:
        raise ModelFilesError(f"{what}: holds {len(metas)} churn classifiers ({META_FILE}), expected 1")
    check_model_files(metas[0].parent, what)  # LightGBM aborts the process on some damaged files: check them first
    try:
        model = ChurnClassifier.load(metas[0].parent)
    except Exception as e:  # a truncated booster or bad JSON: name the model, no traceback
        first = str(e).strip().splitlines()[0] if str(e).strip() else ""
        raise ModelFilesError(f"{what}: the classifier cannot be loaded ({type(e).__name__}: {first})") from None
    try:
        definition = ChurnDefinition.load(metas[0].parent)
    except ConfigError as e:
        raise ModelFilesError(f"{what}: {e.message}") from None
    return LoadedModel(model, name, str(version), definition)


def registry_name(uri: str) -> str:
    """The registered model name in ``models:/NAME@ALIAS`` or ``models:/NAME/VERSION`` (no registry access)."""
    match = URI.match(uri)
    if not match:
        raise ConfigError(f"model {uri!r}: expected models:/NAME@ALIAS or models:/NAME/VERSION")
    return match["name"]


def resolve_version(uri: str, what: str = "--model") -> tuple[str, str]:
    """The registered name and version behind ``uri`` (an alias is resolved now); ``what`` names it in errors."""
    import mlflow
    from mlflow import MlflowClient
    from mlflow.exceptions import MlflowException

    from training.registry import RegistryError

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


def download(name: str, version: str, target: Path) -> Path:
    """The MLflow model directory of registered ``name`` ``version``, copied under ``target``."""
    import mlflow

    return Path(mlflow.artifacts.download_artifacts(f"models:/{name}/{version}", dst_path=str(target)))


def load_registered(uri: str, what: str = "--model") -> LoadedModel:
    """The fitted classifier behind a registry URI, with its name and version fixed at load time."""
    name, version = resolve_version(uri, what)
    with tempfile.TemporaryDirectory() as tmp:
        return load_model(download(name, version, Path(tmp)), name, version, f"{what} {uri}: version {version}")
