"""Where things live by default: the score store, the feature snapshots, the registered models.

Defined once here; the CLI, the nightly job and the service import them.
Everything is relative to the working directory, like ``data/`` for the demo.
"""

from __future__ import annotations

from pathlib import Path

DEFAULT_STORE = "duckdb:///data/scores.duckdb"
DEFAULT_FEATURES_DIR = Path("data/features")
DEFAULT_REPORTS_DIR = Path("data/reports")  # the nightly dashboard pages
CHURN_MODEL_URI = "models:/churn@champion"
ACTIVATION_MODEL_URI = "models:/activation@champion"
# The BentoML model the service serves: the champions copied from the registry (serving.api.bundle).
BUNDLE_NAME = "churn_retention"
DEFAULT_MODEL_TAG = f"{BUNDLE_NAME}:latest"
