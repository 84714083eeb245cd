"""The registered champions, copied from the MLflow registry into the BentoML model store.

The service serves one BentoML model, the *bundle* ``churn_retention:<tag>``:
the churn champion's MLflow model directory under ``churn/`` and, when one is
registered, the activation champion's under ``activation/``, copied unchanged
(booster text, ``model.json``, ``MLmodel``). Its labels and metadata record
each model's registry name and version. A built bento carries the bundle, so
what a deployment serves is fixed when it is built (or when ``churn serve``
imports it): promoting a new champion in MLflow changes nothing until the
next import and restart.

Importing the same versions again reuses the latest bundle instead of copying
them again.
"""

from __future__ import annotations

import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path

from features.errors import ChurnError
from features.labels import ACTIVATION, CHURN
from training.estimator import META_FILE, ChurnClassifier

BUNDLE_NAME = "churn_retention"
TASKS = (CHURN, ACTIVATION)
NONE = "none"  # label value of a model the bundle does not hold


class BundleError(ChurnError):
    """The BentoML model store has no usable bundle (missing, or a model in it cannot be loaded)."""

    exit_code = 3
    http_status = 503


@dataclass(frozen=True)
class ServedModel:
    """A classifier with its registry name and version (as serving.models.LoadedModel, without importing MLflow:
    the service starts faster without it)."""

    model: ChurnClassifier
    name: str
    version: str


@dataclass(frozen=True)
class BundleInfo:
    """What a bundle holds: its BentoML tag and, per task, the registry name and version (None: absent)."""

    tag: str
    models: dict[str, tuple[str, str] | None]
    reused: bool = False

    def line(self) -> str:
        held = ", ".join(f"{name} v{version}" for name, version in (m for m in self.models.values() if m))
        return f"{self.tag} ({held}{'; unchanged, reused' if self.reused else ''})"


def _resolve(uri: str) -> tuple[str, str]:
    """Registry name and version behind ``models:/NAME@ALIAS`` or ``models:/NAME/VERSION``."""
    from serving.models import resolve_version

    return resolve_version(uri, what="model")


def _download(name: str, version: str, target: Path) -> Path:
    """The MLflow model directory of ``name`` ``version`` under ``target``, checked to load as a classifier."""
    import mlflow

    local = Path(mlflow.artifacts.download_artifacts(f"models:/{name}/{version}", dst_path=str(target)))
    load_classifier(local, f"{name} v{version}")  # fail now, not when the service starts
    return local


def load_classifier(model_dir: Path, what: str) -> ChurnClassifier:
    """The classifier inside an MLflow model directory; BundleError naming ``what`` if it cannot be loaded."""
    metas = list(Path(model_dir).rglob(META_FILE))
    if len(metas) != 1:
        raise BundleError(f"{what}: holds {len(metas)} churn classifiers ({META_FILE}), expected 1")
    try:
        return ChurnClassifier.load(metas[0].parent)
    except Exception as e:  # a truncated booster or bad JSON: name the model, no traceback
        first = str(e).strip().splitlines()[0] if str(e).strip() else ""
        raise BundleError(f"{what}: the classifier cannot be loaded ({type(e).__name__}: {first})") from None


def _labels(models: dict[str, tuple[str, str] | None]) -> dict[str, str]:
    labels = {"project": "churn-retention"}
    for task in TASKS:
        held = models.get(task)
        labels[f"{task}_model"] = held[0] if held else NONE
        labels[f"{task}_version"] = held[1] if held else NONE
    return labels


def _stored_models(model) -> dict[str, tuple[str, str] | None]:
    labels = model.info.labels
    out: dict[str, tuple[str, str] | None] = {}
    for task in TASKS:
        name, version = labels.get(f"{task}_model", NONE), labels.get(f"{task}_version", NONE)
        out[task] = None if NONE in (name, version) else (name, version)
    return out


def latest_bundle(model_store=None):
    """The most recently imported bundle in the BentoML model store, or None."""
    import bentoml
    from bentoml.exceptions import NotFound

    kwargs = {"_model_store": model_store} if model_store is not None else {}
    try:
        found = bentoml.models.list(BUNDLE_NAME, **kwargs)
    except NotFound:
        return None
    return max(found, key=lambda m: m.info.creation_time) if found else None


def import_champions(churn_uri: str, activation_uri: str | None, *, activation_required: bool = False, model_store=None) -> BundleInfo:
    """Copy the models behind ``churn_uri`` (and ``activation_uri``) into a bundle; returns what it holds.

    activation_uri: None to leave activation out. When it names a model that is
    not registered, activation is left out unless ``activation_required``.
    Raises RegistryError (exit 3) when the churn model is not registered,
    BundleError when a registered model's files do not load.
    """
    import bentoml

    from training.registry import RegistryError

    wanted: dict[str, tuple[str, str] | None] = {CHURN: _resolve(churn_uri), ACTIVATION: None}
    if activation_uri:
        try:
            wanted[ACTIVATION] = _resolve(activation_uri)
        except RegistryError:
            if activation_required:
                raise
    latest = latest_bundle(model_store)
    if latest is not None and _stored_models(latest) == wanted:
        return BundleInfo(str(latest.tag), wanted, reused=True)
    kwargs = {"_model_store": model_store} if model_store is not None else {}
    metadata = {task: {"name": held[0], "version": held[1]} for task, held in wanted.items() if held}
    with tempfile.TemporaryDirectory() as tmp:
        downloads = {task: _download(*held, Path(tmp) / task) for task, held in wanted.items() if held}
        with bentoml.models.create(BUNDLE_NAME, labels=_labels(wanted), metadata=metadata, **kwargs) as bundle:
            for task, local in downloads.items():
                shutil.copytree(local, Path(bundle.path) / task)
    return BundleInfo(str(bundle.tag), wanted)


def load_bundle(bundle) -> dict[str, ServedModel]:
    """The classifiers of a bundle (a BentoML model; its labels give names and versions), by task."""
    loaded: dict[str, ServedModel] = {}
    for task, held in _stored_models(bundle).items():
        if held is None:
            continue
        name, version = held
        model = load_classifier(Path(bundle.path) / task, f"bundle {bundle.tag}: {task} model {name} v{version}")
        loaded[task] = ServedModel(model, name, version)
    if CHURN not in loaded:
        raise BundleError(f"bundle {bundle.tag} holds no churn model")
    return loaded
