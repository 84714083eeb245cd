"""``bentoml build`` of the service without Docker: the bento references the imported bundle and carries it."""

from __future__ import annotations

import subprocess
import sys
import tarfile
from pathlib import Path

import pytest
import yaml

pytestmark = pytest.mark.slow
REPO = Path(__file__).resolve().parents[2]


def test_build_carries_the_imported_model_bundle(service_workspace, tmp_path):
    from bentoml._internal.models import ModelStore

    from serving.bento_models import import_champions

    home = tmp_path / "bentoml"
    (home / "models").mkdir(parents=True)
    with service_workspace.mlflow():
        bundle = import_champions("models:/churn@champion", "models:/activation@champion", model_store=ModelStore(home / "models"))
    assert bundle.models == {"churn": ("churn", "1"), "activation": None}  # no activation model registered: left out
    env = service_workspace.env() | {"BENTOML_HOME": str(home)}

    build = subprocess.run(
        [sys.executable, "-m", "bentoml", "build", "--output", "tag"], cwd=REPO, env=env, capture_output=True, text=True, timeout=600
    )
    assert build.returncode == 0, build.stderr[-3000:]
    tag = build.stdout.strip().splitlines()[-1].removeprefix("__tag__:")
    name, version = tag.split(":")
    assert name == "churn_service"
    bento = home / "bentos" / name / version
    info = yaml.safe_load((bento / "bento.yaml").read_text())
    assert [m["tag"] for m in info["services"][0]["models"]] == [bundle.tag]
    assert (bento / "src" / "serving" / "service.py").exists() and not (bento / "src" / "tests").exists()
    requirements = (bento / "env" / "python" / "requirements.txt").read_text()
    assert "lightgbm==" in requirements and "--hash=sha256:" in requirements  # the lock file as it is, not re-resolved

    archive = tmp_path / "churn_service.bento"
    export = subprocess.run(
        [sys.executable, "-m", "bentoml", "export", tag, str(archive)], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=600
    )
    assert export.returncode == 0, export.stderr[-3000:]
    bundle_version = bundle.tag.split(":")[1]
    with tarfile.open(archive) as packed:
        names = packed.getnames()
    booster = f"models/churn_retention/{bundle_version}/churn/artifacts/model/booster.txt"
    assert any(n.lstrip("./") == booster for n in names), [n for n in names if n.lstrip("./").startswith("models/")][:10]
