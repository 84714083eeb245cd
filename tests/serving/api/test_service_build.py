"""``bentoml build`` of the service without Docker: the bento references the imported bundle and carries it."""

from __future__ import annotations

import subprocess
import sys
import tarfile
from pathlib import Path

import pytest
import yaml

pytestmark = pytest.mark.slow
REPO = Path(__file__).resolve().parents[3]


def test_build_carries_the_imported_model_bundle(service_workspace, tmp_path):
    home = tmp_path / "bentoml"
    imported = service_workspace.import_models(home, "--activation-model", "models:/activation@champion")
    assert imported.returncode == 0, imported.stderr
    first, second = imported.stdout.strip().splitlines()
    bundle_tag = first.removeprefix("imported ").split(" ")[0]
    # No activation model registered: left out.
    assert first == f"imported {bundle_tag} (churn v1)" and second.startswith("no activation model registered")
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
    assert [m["tag"] for m in info["services"][0]["models"]] == [bundle_tag]
    assert (bento / "src" / "serving" / "api" / "service.py").exists() and not (bento / "src" / "tests").exists()
    requirements = (bento / "env" / "python" / "requirements.txt").read_text()
    assert "lightgbm==" in requirements and "--hash=sha256:" in requirements  # the lock file as it is, not re-resolved

    archive = tmp_path / "churn_service.bento"
    export = subprocess.run(
        [sys.executable, "-m", "bentoml", "export", tag, str(archive)], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=600
    )
    assert export.returncode == 0, export.stderr[-3000:]
    bundle_version = bundle_tag.split(":")[1]
    with tarfile.open(archive) as packed:
        names = packed.getnames()
    booster = f"models/churn_retention/{bundle_version}/churn/artifacts/model/booster.txt"
    assert any(n.lstrip("./") == booster for n in names), [n for n in names if n.lstrip("./").startswith("models/")][:10]
