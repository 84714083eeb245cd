"""MLflow for the commands: the tracking store from the environment, MLflow's own chatter kept off the output."""

from __future__ import annotations


def use_mlflow() -> str:
    """Point MLflow at ``MLFLOW_TRACKING_URI`` (default: ``data/mlflow.db``); returns the URI."""
    import logging
    import warnings

    from training.tracking import tracking_uri, use_tracking

    # MLflow's own progress lines would drown the command's output.
    logging.getLogger("mlflow").setLevel(logging.WARNING)
    logging.getLogger("alembic").setLevel(logging.WARNING)
    warnings.filterwarnings("ignore", module="mlflow")
    return use_tracking(tracking_uri())
