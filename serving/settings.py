"""Where things live by default: the score store, the feature snapshots, the registered models.

Defined once here; the CLI, the nightly job and the service import them.
Everything is relative to the working directory, like ``data/`` for the demo.
"""

from __future__ import annotations

from pathlib import Path

DEFAULT_STORE = "duckdb:///data/scores.duckdb"
DEFAULT_FEATURES_DIR = Path("data/features")
CHURN_MODEL_URI = "models:/churn@champion"
ACTIVATION_MODEL_URI = "models:/activation@champion"
