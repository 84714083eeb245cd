"""MLflow with PostgreSQL as the backend store: a training run registers and promotes a model there.

Needs CHURN_TEST_POSTGRES_URL (set by .ci/run), a SQLAlchemy URL of a server where
the user may create databases; the test works in a database of its own and drops it.
"""

from __future__ import annotations

import os
import uuid

import mlflow
import pytest
from mlflow import MlflowClient

from features.simulator.config import SimulationConfig
from features.simulator.run import simulate
from features.validation import load_dataset
from training import registry
from training.pipeline import TrainConfig, train
from training.tracking import use_tracking

URL = os.environ.get("CHURN_TEST_POSTGRES_URL")
pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(not URL, reason="CHURN_TEST_POSTGRES_URL is not set (.ci/run sets it to the local PostgreSQL server)"),
]


@pytest.fixture
def postgres_store(tmp_path):
    import sqlalchemy as sa

    name = f"churn_mlflow_{uuid.uuid4().hex[:8]}"
    admin = sa.create_engine(URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as con:
        con.execute(sa.text(f'CREATE DATABASE "{name}"'))
    url = sa.engine.make_url(URL).set(database=name).render_as_string(hide_password=False)
    previous = mlflow.get_tracking_uri()
    cwd = os.getcwd()
    os.chdir(tmp_path)
    use_tracking(url)
    try:
        yield url
    finally:
        os.chdir(cwd)
        mlflow.set_tracking_uri(previous)
        with admin.connect() as con:
            con.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def test_training_run_and_registry_on_postgres(postgres_store, tmp_path):
    out = simulate(SimulationConfig(users=2000, days=200, seed=12), tmp_path / "data").out
    result = train(load_dataset(out), TrainConfig(as_of="2025-07-19", snapshots=3, max_rounds=60, min_class_rows=100, activation=False))
    churn = result.results[0]
    client = MlflowClient()
    if not churn.decision.promoted:  # 2,000 users are too few for the promotion gate: promote by hand, as a data scientist would
        registry.promote("churn", churn.version)
    assert mlflow.get_tracking_uri().startswith("postgresql")
    assert client.get_run(churn.run_id).data.metrics["valid.roc_auc"] == pytest.approx(churn.metrics["roc_auc"])
    assert registry.alias_version(client, "churn", registry.CHAMPION) == churn.version == "1"
    assert mlflow.pyfunc.load_model("models:/churn@champion") is not None
