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
them again. Loading a bundle reads each model with :func:`serving.models.load_model`,
the loader the nightly job uses too; :class:`BundleRef` is the service's reference
to it and :func:`warm_up` the prediction that proves it loads before serving.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path

import bentoml
import numpy as np
import pandas as pd

from features.catalog import USER_ID
from features.errors import ChurnError
from features.labels import ACTIVATION, CHURN
from serving.batch.scoring import PROBABILITY, score_rows
from serving.defaults import BUNDLE_NAME
from serving.models import LoadedModel, download, load_model, resolve_version

TASKS = (CHURN, ACTIVATION)
NONE = "none"  # label value of a model the bundle does not hold


class BundleError(ChurnError):
    """The BentoML model store has no usable bundle (none imported, no churn model in it, or it does not predict)."""

    exit_code = 3
    http_status = 503


@dataclass(frozen=True)
class BundleInfo:
    """What a bundle holds: its BentoML tag and, per task, the registry name and version (None: absent)."""

    tag: str
    models: dict[str, tuple[str, str] | None]
    reused: bool = False

    def line(self) -> str:
        held = ", ".join(f"{name} v{version}" for name, version in (m for m in self.models.values() if m))
        return f"{self.tag} ({held}{'; unchanged, reused' if self.reused else ''})"


def model_store_dir() -> Path:
    """Where BentoML keeps its model store: ``$BENTOML_HOME/models``, by default ``~/bentoml/models``.

    BentoML has no public call that tells its store's location; ``BENTOML_HOME`` is its documented
    setting for it (bentoml/BentoML#3290, discussion #4172), so the location is derived from it.
    Choosing another store means setting ``BENTOML_HOME`` before BentoML first reads it (a new process).
    """
    return Path(os.environ.get("BENTOML_HOME") or Path.home() / "bentoml") / "models"


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


def latest_bundle():
    """The most recently imported bundle in the BentoML model store, or None."""
    from bentoml.exceptions import NotFound

    try:
        found = bentoml.models.list(BUNDLE_NAME)
    except NotFound:
        return None
    return max(found, key=lambda m: m.info.creation_time) if found else None


def import_champions(churn_uri: str, activation_uri: str | None, *, activation_required: bool = False) -> BundleInfo:
    """Copy the models behind ``churn_uri`` (and ``activation_uri``) into a bundle; returns what it holds.

    activation_uri: None to leave activation out. When it names a model that is
    not registered, activation is left out unless ``activation_required``.
    Raises RegistryError (exit 3) when the churn model is not registered,
    ModelFilesError when a registered model's files do not load.
    """
    from training.registry import RegistryError

    wanted: dict[str, tuple[str, str] | None] = {CHURN: resolve_version(churn_uri, what="model"), ACTIVATION: None}
    if activation_uri:
        try:
            wanted[ACTIVATION] = resolve_version(activation_uri, what="model")
        except RegistryError:
            if activation_required:
                raise
    latest = latest_bundle()
    if latest is not None and _stored_models(latest) == wanted:
        return BundleInfo(str(latest.tag), wanted, reused=True)
    metadata = {task: {"name": held[0], "version": held[1]} for task, held in wanted.items() if held}
    with tempfile.TemporaryDirectory() as tmp:
        downloads = {}
        for task, (name, version) in ((t, held) for t, held in wanted.items() if held):
            downloads[task] = download(name, version, Path(tmp) / task)
            load_model(downloads[task], name, version, f"{name} v{version}")  # fail now, not when the service starts
        with bentoml.models.create(BUNDLE_NAME, labels=_labels(wanted), metadata=metadata) as bundle:
            for task, local in downloads.items():
                shutil.copytree(local, Path(bundle.path) / task)
    return BundleInfo(str(bundle.tag), wanted)


def load_bundle(bundle) -> dict[str, LoadedModel]:
    """The classifiers of a bundle (a BentoML model; its labels give names and versions), by task."""
    loaded: dict[str, LoadedModel] = {}
    for task, held in _stored_models(bundle).items():
        if held is None:
            continue
        name, version = held
        loaded[task] = load_model(Path(bundle.path) / task, name, version, f"bundle {bundle.tag}: {task} model {name} v{version}")
    if CHURN not in loaded:
        raise BundleError(f"bundle {bundle.tag} holds no churn model")
    return loaded


def warm_up(models: dict[str, LoadedModel]) -> None:
    """One prediction per model on a row of missing values: the model files load and predict probabilities."""
    for task, loaded in models.items():
        row = pd.DataFrame({USER_ID: ["warm-up"], **{name: [np.nan] for name in loaded.model.features_}})
        for name in loaded.model.categories_:
            row[name] = pd.Categorical([None], categories=loaded.model.categories_[name])
        try:
            p = score_rows(row, loaded.model)[PROBABILITY].to_numpy(dtype=float)
        except Exception as e:
            raise BundleError(f"{task} model {loaded.name} v{loaded.version}: warm-up prediction failed ({type(e).__name__})") from None
        if not (np.isfinite(p).all() and ((p >= 0) & (p <= 1)).all()):
            raise BundleError(f"{task} model {loaded.name} v{loaded.version}: warm-up prediction is not a probability")


class BundleRef(bentoml.models.BentoModel):
    """The service's bundle reference; a missing bundle stops the server with one clear line instead of a traceback."""

    def resolve(self, base_path=None, *args, **kwargs):
        if base_path is None and self.stored is None:
            raise SystemExit(
                f"churn service: error: no model {self.tag} in the BentoML model store {model_store_dir()}; "
                "run `churn import-model` (or `churn serve`, which imports the registered champions) first"
            )
        return super().resolve(base_path, *args, **kwargs)
