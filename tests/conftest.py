"""Fixtures shared by several test packages (built once per session, only when a test asks for them)."""

from __future__ import annotations

import contextlib
import datetime as dt
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

SERVICE_AS_OF = "2025-08-31"
SMALL_MODEL_AS_OF = "2025-08-31"
SERVICE_TOKEN = "crm-team:s3cret-token-for-tests-0001"


@dataclass(frozen=True)
class ServiceWorkspace:
    """A small world for the HTTP service: dataset, MLflow registry, nightly scores and snapshots, BentoML store.

    1,500 simulated users over 243 days; the churn model trained and registered
    by the real pipeline (``training.pipeline.train``) into a temporary SQLite
    MLflow store; the nightly job (``serving.batch.nightly.run_nightly``) published
    its scores to a temporary DuckDB store and wrote the feature snapshot; the
    champion imported into a temporary BentoML home (``serving.api.bundle``).
    """

    root: Path
    data: Path
    tracking_uri: str
    store_url: str
    features_dir: Path
    bentoml_home: Path
    bundle_tag: str
    as_of: str = SERVICE_AS_OF
    token: str = SERVICE_TOKEN

    @contextlib.contextmanager
    def mlflow(self):
        """MLflow pointed at the workspace's registry (and the working directory at its root), restored after."""
        import mlflow

        from training.tracking import use_tracking

        previous, cwd = mlflow.get_tracking_uri(), os.getcwd()
        os.chdir(self.root)  # experiment artifacts go under ./data
        use_tracking(self.tracking_uri)
        try:
            yield
        finally:
            os.chdir(cwd)
            mlflow.set_tracking_uri(previous)
            mlflow.set_registry_uri(previous)

    def import_models(self, bentoml_home: Path, *args: str) -> subprocess.CompletedProcess:
        """``churn import-model ARGS`` into another BentoML home (a process of its own: BentoML reads its home once)."""
        env = self.env() | {"BENTOML_HOME": str(bentoml_home), "MLFLOW_TRACKING_URI": self.tracking_uri}
        command = [sys.executable, "-c", "from serving.cli.app import main; main()", "import-model", *args]
        return subprocess.run(command, cwd=self.root, env=env, capture_output=True, text=True, timeout=300)

    def env(self, **settings: str) -> dict[str, str]:
        """Environment of a service process: the workspace's store, snapshots and BentoML home, one token."""
        env = {k: v for k, v in os.environ.items() if not k.startswith(("CHURN_API_", "MLFLOW_TRACKING_URI"))}
        env |= {
            "BENTOML_HOME": str(self.bentoml_home),
            "BENTOML_DO_NOT_TRACK": "true",
            "MLFLOW_DISABLE_TELEMETRY": "true",
            "CHURN_API_TOKENS": self.token,
            "CHURN_API_STORE": self.store_url,
            "CHURN_API_FEATURES_DIR": str(self.features_dir),
            "CHURN_API_AUDIT_LOG": str(self.root / "audit" / "api.jsonl"),
        }
        env |= {f"CHURN_API_{k.upper()}": v for k, v in settings.items()}
        return {k: v for k, v in env.items() if v is not None}


@pytest.fixture(scope="session")
def service_workspace(tmp_path_factory) -> ServiceWorkspace:
    from features.simulator.config import SimulationConfig
    from features.simulator.run import simulate
    from features.validation import load_dataset
    from serving.api.bundle import import_champions
    from serving.batch.nightly import NightlyConfig, run_nightly
    from training.pipeline import TrainConfig, train
    from training.registry import promote

    root = tmp_path_factory.mktemp("service")
    data = simulate(SimulationConfig(users=1500, days=243, seed=5), root / "shop").out
    bentoml_home = root / "bentoml"
    # This process's BentoML store (the in-process service reads it) is the workspace's; set before bentoml reads it.
    os.environ["BENTOML_HOME"] = str(bentoml_home)
    os.environ.setdefault("BENTOML_DO_NOT_TRACK", "true")
    os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")
    ws = ServiceWorkspace(
        root=root,
        data=data,
        tracking_uri=f"sqlite:///{root / 'mlflow.db'}",
        store_url=f"duckdb:///{root / 'scores.duckdb'}",
        features_dir=root / "features",
        bentoml_home=bentoml_home,
        bundle_tag="",
    )
    with ws.mlflow():
        trained = train(load_dataset(data), TrainConfig(as_of=SERVICE_AS_OF, snapshots=3, max_rounds=100, experiment="service", activation=False))
        if not trained.results[0].decision.promoted:  # 1,500 users are too few for the promotion gate; the service needs a champion
            promote("churn", trained.results[0].version)
        run_nightly(
            NightlyConfig(
                data=data, as_of=SERVICE_AS_OF, store=ws.store_url, features_dir=ws.features_dir, activation_model=None, allow_drift=True
            ),
            scored_at=dt.datetime(2025, 9, 1, 3, 0),
        )
        bundle = import_champions("models:/churn@champion", None)
    import bentoml

    if not Path(bentoml.models.get(bundle.tag).path).is_relative_to(bentoml_home):
        raise RuntimeError("bentoml read BENTOML_HOME before the service workspace set it")
    return ServiceWorkspace(**{**ws.__dict__, "bundle_tag": bundle.tag})


@dataclass(frozen=True)
class SmallModel:
    """A small churn model and the population it scores, shared by the scoring, Spark-scoring and reasons tests.

    2,500 simulated users over 243 days (seed 13); the classifier fitted on three
    monthly snapshots ending 2025-07-31 (150 rounds at most); ``features``: the
    churn population's feature frame at ``as_of`` (2025-08-31) on DuckDB.
    """

    data: Path
    model: object  # training.estimator.ChurnClassifier
    features: object  # pandas.DataFrame
    as_of: str = SMALL_MODEL_AS_OF


@pytest.fixture(scope="session")
def small_model(tmp_path_factory) -> SmallModel:
    from features.build import compute_features
    from features.labels import churn_population, training_set
    from features.simulator.config import SimulationConfig
    from features.simulator.run import simulate
    from features.validation import load_dataset
    from training.estimator import ChurnClassifier

    data = simulate(SimulationConfig(users=2500, days=243, seed=13), tmp_path_factory.mktemp("small-model") / "data").out
    dataset = load_dataset(data)
    tables = {name: dataset.table(name) for name in dataset.tables}
    train = training_set(tables, "2025-07-31", snapshots=3, every_days=30)
    model = ChurnClassifier(max_rounds=150).fit(train, train["label"], groups=train["as_of"])
    features = compute_features(tables, SMALL_MODEL_AS_OF, users=churn_population(tables, SMALL_MODEL_AS_OF))
    return SmallModel(data=data, model=model, features=features)
