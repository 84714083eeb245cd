"""``churn import-model`` and ``churn serve``: the champions into the BentoML model store, and the HTTP API."""

from __future__ import annotations

import os
import sys
from typing import Annotated

import typer

from serving.cli.console import out
from serving.cli.tracking import use_mlflow
from serving.defaults import ACTIVATION_MODEL_URI, CHURN_MODEL_URI

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 3000
SERVICE = "serving.api.service:ChurnService"

ModelOption = Annotated[str, typer.Option("--model", help="Churn model: models:/NAME@ALIAS or models:/NAME/VERSION.")]
ActivationOption = Annotated[
    str, typer.Option(help="Activation model ('none': leave out; the default is left out with a note when not registered).")
]


def _import(model: str, activation_model: str):
    """Import the champions into the BentoML model store; ChurnError on failure."""
    from serving.api.bundle import import_champions

    use_mlflow()
    activation = None if activation_model.lower() == "none" else activation_model
    return import_champions(model, activation, activation_required=activation not in (None, ACTIVATION_MODEL_URI))


def import_model(model: ModelOption = CHURN_MODEL_URI, activation_model: ActivationOption = ACTIVATION_MODEL_URI) -> None:
    """Copy the registered champions from MLflow into the BentoML model store (what the service and `bentoml build` use).

    Importing unchanged versions again reuses the latest bundle. Exit codes: 0 imported, 2 bad option, 3 not registered.
    """
    bundle = _import(model, activation_model)
    out.print(f"imported {bundle.line()}", highlight=False)
    if bundle.models.get("activation") is None:
        out.print("no activation model registered: the activation list works from published scores only", highlight=False)


def serve(
    host: Annotated[str, typer.Option(help="Address to listen on (127.0.0.1: this machine only).")] = DEFAULT_HOST,
    port: Annotated[int, typer.Option(help="Port to listen on.", min=1, max=65535)] = DEFAULT_PORT,
    model: ModelOption = CHURN_MODEL_URI,
    activation_model: ActivationOption = ACTIVATION_MODEL_URI,
    import_models: Annotated[
        bool, typer.Option("--import/--no-import", help="Import the registered champions first (--no-import: serve the latest imported bundle).")
    ] = True,
) -> None:
    """Start the HTTP API: check the CHURN_API_* settings, import the champions, then run `bentoml serve`.

    The model versions are fixed until the next restart. Settings: see docs/api.md (tokens in
    CHURN_API_TOKENS or CHURN_API_TOKENS_FILE are required). Exit codes: 2 bad settings, 3 no model or damaged
    model files, 6 registry broken or unreachable.
    """
    from serving.api.bundle import BundleError, latest_bundle
    from serving.api.settings import MODEL_TAG_ENV, ServiceSettings

    ServiceSettings.from_env()
    if import_models:
        bundle = _import(model, activation_model)
        tag, said = bundle.tag, bundle.line()
    else:
        stored = latest_bundle()
        if stored is None:
            raise BundleError("no imported model bundle in the BentoML model store: run `churn import-model` first")
        tag, said = str(stored.tag), str(stored.tag)
    out.print(f"serving {said} on http://{host}:{port} (docs: /, readiness: /readyz)", highlight=False)
    command = [sys.executable, "-m", "bentoml", "serve", SERVICE, "--host", host, "--port", str(port)]
    sys.stdout.flush()
    os.execve(sys.executable, command, {**os.environ, MODEL_TAG_ENV: tag})
