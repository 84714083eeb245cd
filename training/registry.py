"""The MLflow model registry: logging models, and the champion / challenger aliases.

A newly trained version becomes ``challenger``; it becomes ``champion`` only if
the promotion gate lets it (:mod:`training.gate`). ``promote`` and ``rollback``
move the champion alias explicitly. Every earlier champion is remembered, in
order, in the registered model's tags, so that each rollback goes one step
further back (rolling back twice from v3 after v1, v2, v3 gives v1, not v3).
"""

from __future__ import annotations

import contextlib
import io
import tempfile
import warnings
from dataclasses import dataclass
from pathlib import Path

import mlflow
import numpy as np
import pandas as pd
from mlflow import MlflowClient
from mlflow.exceptions import MlflowException
from mlflow.models import infer_signature

from features.errors import ChurnError
from training.estimator import NOT_FEATURES, ChurnClassifier
from training.pyfunc_model import MODEL_ARTIFACT

CHAMPION = "champion"
CHALLENGER = "challenger"
PREVIOUS_CHAMPION_TAG = "previous_champion_version"
HISTORY_TAG = "champion_history"  # earlier champions, oldest first, comma-separated
PYFUNC_CODE = Path(__file__).with_name("pyfunc_model.py")


class RegistryError(ChurnError):
    """The registry does not hold what a command needs (a model, a version, an alias)."""

    exit_code = 3
    http_status = 404


@dataclass(frozen=True)
class Decision:
    promoted: bool
    reason: str


def decide(new: float, champion: float | None, metric: str) -> Decision:
    """Whether a challenger with score ``new`` replaces a champion with score ``champion`` (higher is better)."""
    if champion is None or np.isnan(champion):
        return Decision(True, f"no champion yet: challenger becomes champion ({metric} {new:.4f})")
    if new > champion:
        return Decision(True, f"challenger beats champion on {metric}: {new:.4f} > {champion:.4f}")
    return Decision(False, f"champion kept: challenger {metric} {new:.4f} <= champion {champion:.4f}")


def as_strings(frame: pd.DataFrame) -> pd.DataFrame:
    """Categorical columns as strings (what the pyfunc signature declares and callers send)."""
    out = frame.copy()
    for c in out.columns:
        if isinstance(out[c].dtype, pd.CategoricalDtype):
            out[c] = out[c].astype("object").where(out[c].notna(), None).astype("string")
    return out


def log_model(model: ChurnClassifier, example: pd.DataFrame, registered_name: str, definition=None) -> str:
    """Log ``model`` as a pyfunc in the active run and register it; returns the new version number.

    definition: a :class:`features.labels.ChurnDefinition` saved beside the model as task.json
    (the nightly job scores the population it defines), or None.
    """
    inputs = as_strings(example[[c for c in example.columns if c not in NOT_FEATURES]].head(20))
    with warnings.catch_warnings():
        # Counts are never missing, so MLflow's hint about integer columns with gaps does not apply.
        warnings.filterwarnings("ignore", message="Hint: Inferred schema contains integer")
        signature = infer_signature(inputs, model.predict_proba(example.head(20))[:, 1])
    with tempfile.TemporaryDirectory() as tmp:
        model_dir = model.save(Path(tmp) / MODEL_ARTIFACT)
        if definition is not None:
            definition.save(model_dir)
        # MLflow prints "Successfully registered model ..." itself; the caller reports the version.
        with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
            info = mlflow.pyfunc.log_model(
                name="model",
                python_model=str(PYFUNC_CODE),
                artifacts={MODEL_ARTIFACT: str(model_dir)},
                signature=signature,
                input_example=inputs.head(3),
                registered_model_name=registered_name,
            )
    return str(info.registered_model_version)


def alias_version(client: MlflowClient, name: str, alias: str) -> str | None:
    """The version holding ``alias``, or None."""
    try:
        return str(client.get_model_version_by_alias(name, alias).version)
    except MlflowException:
        return None


def load_version(name: str, version: str):
    """The pyfunc model of ``name`` version ``version``."""
    return mlflow.pyfunc.load_model(f"models:/{name}/{version}")


def set_champion(client: MlflowClient, name: str, version: str) -> str | None:
    """Move ``champion`` to ``version``; remembers and returns the previous champion version."""
    previous = alias_version(client, name, CHAMPION)
    if previous is not None and previous != version:
        _set_history(client, name, [*_history(client, name), previous])  # also sets the previous-champion tag
    client.set_registered_model_alias(name, CHAMPION, version)
    return previous


def _history(client: MlflowClient, name: str) -> list[str]:
    tags = client.get_registered_model(name).tags
    if HISTORY_TAG in tags:
        return [v for v in tags[HISTORY_TAG].split(",") if v]
    return [tags[PREVIOUS_CHAMPION_TAG]] if PREVIOUS_CHAMPION_TAG in tags else []  # registries from before the history


def _set_history(client: MlflowClient, name: str, history: list[str]) -> None:
    client.set_registered_model_tag(name, HISTORY_TAG, ",".join(history))
    if history:
        client.set_registered_model_tag(name, PREVIOUS_CHAMPION_TAG, history[-1])
    elif PREVIOUS_CHAMPION_TAG in client.get_registered_model(name).tags:
        client.delete_registered_model_tag(name, PREVIOUS_CHAMPION_TAG)


def promote(name: str, version: str | None = None) -> str:
    """Make ``version`` (default: the challenger) the champion; returns a sentence saying what happened."""
    client = MlflowClient()
    _require_model(client, name)
    target = version or alias_version(client, name, CHALLENGER)
    if target is None:
        raise RegistryError(f"model {name} has no challenger; pass --version to promote a given version")
    try:
        client.get_model_version(name, target)
    except MlflowException:
        raise RegistryError(f"model {name} has no version {target}") from None
    previous = set_champion(client, name, target)
    if previous == target:
        return f"{name} version {target} is already the champion"
    return f"{name}: champion is now version {target} (was {previous or 'none'})"


def rollback(name: str) -> str:
    """Move ``champion`` back to the champion before it (one step back in the history); returns a sentence saying what happened."""
    client = MlflowClient()
    _require_model(client, name)
    current = alias_version(client, name, CHAMPION)
    history = [v for v in _history(client, name) if v != current]
    if not history:
        raise RegistryError(f"model {name} has no previous champion to roll back to (champion: {current or 'none'})")
    previous = history.pop()
    client.set_registered_model_alias(name, CHAMPION, previous)
    _set_history(client, name, history)
    return f"{name}: rolled back, champion is now version {previous} (was {current})"


def _require_model(client: MlflowClient, name: str):
    try:
        return client.get_registered_model(name)
    except MlflowException:
        raise RegistryError(f"no registered model named {name} in {mlflow.get_tracking_uri()}") from None
