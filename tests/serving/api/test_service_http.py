"""The service over HTTP: a real ``python -m bentoml serve serving.api.service:ChurnService`` on a loopback port.

Authentication, every kind of bad input, readiness and refusing to start,
API-vs-nightly equality, the audit record, and that promoting a new champion
does not change what a running server serves.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pandas as pd
import pytest

pytestmark = pytest.mark.slow
REPO = Path(__file__).resolve().parents[3]
START_SECONDS = 180  # a cold start imports pandas, LightGBM, DuckDB, Ibis and BentoML twice (server and worker)
MAX_BODY = 256 * 1024


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _serve(env: dict, log: Path) -> tuple[subprocess.Popen, str]:
    port = _free_port()
    command = [sys.executable, "-m", "bentoml", "serve", "serving.api.service:ChurnService", "--host", "127.0.0.1", "--port", str(port)]
    process = subprocess.Popen(command, cwd=REPO, env=env, stdout=log.open("w"), stderr=subprocess.STDOUT, start_new_session=True)
    return process, f"http://127.0.0.1:{port}"


def _stop(process: subprocess.Popen) -> None:
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(30)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)  # the group this test started: the server and its worker
            process.wait(10)


def _exit_of(env: dict, log: Path) -> tuple[int, str]:
    """Start a server that must refuse to start; its exit code and output."""
    process, _ = _serve(env, log)
    try:
        code = process.wait(START_SECONDS)
    finally:
        _stop(process)
    return code, log.read_text()


def _stored(service_workspace) -> tuple[pd.DataFrame, pd.DataFrame]:
    from serving.batch.store import ScoreStore

    store = ScoreStore(service_workspace.store_url)
    return store.runs("churn"), store.read("churn", pd.Timestamp(service_workspace.as_of).date())


@pytest.fixture(scope="module")
def stored_before(service_workspace):
    return _stored(service_workspace)


@pytest.fixture(scope="module")
def server(service_workspace, stored_before, tmp_path_factory):
    log = tmp_path_factory.mktemp("server") / "server.log"
    process, url = _serve(service_workspace.env(max_body_bytes=str(MAX_BODY)), log)
    try:
        deadline = time.monotonic() + START_SECONDS
        statuses = set()
        while True:
            if process.poll() is not None:
                raise RuntimeError(f"the server exited with {process.returncode}:\n{log.read_text()[-3000:]}")
            try:
                status = httpx.get(f"{url}/readyz", timeout=2).status_code
                statuses.add(status)
                if status == 200:
                    break
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline:
                raise TimeoutError(f"the server was not ready in {START_SECONDS} s:\n{log.read_text()[-3000:]}")
            time.sleep(0.2)
        secret = service_workspace.token.split(":", 1)[1]
        with httpx.Client(base_url=url, headers={"Authorization": f"Bearer {secret}"}, timeout=30) as client:
            yield client, log, statuses
    finally:
        _stop(process)


def test_health_is_open_and_the_api_needs_a_valid_token(server):
    client, _, statuses = server
    assert statuses <= {200, 503}  # never an error on /readyz while starting
    for path in ("/livez", "/readyz", "/metrics"):
        assert httpx.get(f"{client.base_url}{path}").status_code == 200, path
    body = {"user_ids": [1]}
    none = httpx.post(f"{client.base_url}/score_users", json=body)
    assert none.status_code == 401 and none.json() == {"error": "missing or invalid bearer token"}
    assert none.headers["www-authenticate"] == "Bearer"
    wrong = httpx.post(f"{client.base_url}/score_users", json=body, headers={"Authorization": "Bearer not-the-token-000000"})
    assert wrong.status_code == 401
    basic = httpx.post(f"{client.base_url}/score_users", json=body, headers={"Authorization": "Basic Y3JtOnRva2Vu"})
    assert basic.status_code == 401
    right = client.post("/score_users", json=body)
    assert right.status_code == 200 and right.headers["x-churn-model"] == "churn=1"


@pytest.mark.parametrize(
    ("body", "field", "kind"),
    [
        ({}, "user_ids", "missing"),
        ({"user_ids": "3"}, "user_ids", "list_type"),
        ({"user_ids": [3], "models": "churn"}, "models", "extra_forbidden"),
        ({"user_ids": [3], "model": "retention"}, "model", "literal_error"),
        ({"user_ids": [[3]]}, "user_ids.0", None),
        ({"user_ids": list(range(1001))}, "user_ids", "too_long"),
    ],
)
def test_a_missing_or_mistyped_field_is_a_400_naming_it(server, body, field, kind):
    client, _, _ = server
    response = client.post("/score_users", json=body)
    assert response.status_code == 400, response.text
    error = response.json()
    assert error["error"].startswith(f"invalid request: {field}")
    locations = {".".join(str(p) for p in d["loc"]) for d in error["detail"]}
    assert any(loc == field or loc.startswith(field + ".") for loc in locations)
    if kind:
        assert kind in {d["type"] for d in error["detail"]}
    assert all("input" not in d for d in error["detail"])  # the values sent are not echoed


def test_malformed_json_is_a_400(server):
    client, _, _ = server
    response = client.post("/score_users", content=b'{"user_ids": [1,', headers={"content-type": "application/json"})
    assert response.status_code == 400


def test_an_unknown_user_is_a_not_found_item(server):
    client, _, _ = server
    response = client.post("/score_users", json={"user_ids": [10**12]})
    assert response.status_code == 200
    [item] = response.json()["results"]
    assert item["status"] == "not_found" and item["probability"] is None


def test_an_oversize_body_is_refused_before_it_is_read(server):
    client, log, _ = server
    big = json.dumps({"user_ids": list(range(60_000))}).encode()
    assert len(big) > MAX_BODY
    response = client.post("/score_users", content=big, headers={"content-type": "application/json"})
    assert response.status_code == 413 and f"limit of {MAX_BODY} bytes" in response.json()["error"]

    def chunks():  # no Content-Length: counted while it streams
        for start in range(0, len(big), 65536):
            yield big[start : start + 65536]

    streamed = client.post("/score_users", content=chunks(), headers={"content-type": "application/json"})
    assert streamed.status_code == 413


def test_scores_by_id_equal_the_nightly_scores(server, service_workspace):
    from serving.batch.store import ScoreStore

    client, _, _ = server
    nightly = ScoreStore(service_workspace.store_url).read("churn", pd.Timestamp(service_workspace.as_of).date())
    sample = nightly.sample(200, random_state=1)
    response = client.post("/score_users", json={"user_ids": [int(u) for u in sample["user_id"]]})
    assert response.status_code == 200
    got = pd.DataFrame(response.json()["results"])
    assert (got["status"] == "ok").all()
    assert (got["probability"].to_numpy() - sample["probability"].to_numpy()).__abs__().max() <= 1e-9
    assert got["risk_band"].tolist() == sample["risk_band"].tolist()
    assert got["percentile"].tolist() == sample["percentile"].tolist()


def test_a_list_pull_writes_one_audit_record(server, service_workspace):
    client, _, _ = server
    log = service_workspace.root / "audit" / "api.jsonl"
    before = log.read_text().count("\n") if log.exists() else 0
    response = client.post("/lists/at_risk", json={"filters": {"bands": ["high"]}, "offset": 10, "limit": 20})
    assert response.status_code == 200, response.text
    lines = log.read_text().splitlines()
    assert len(lines) == before + 1
    record = json.loads(lines[-1])
    assert record["caller"] == "crm-team" and record["endpoint"] == "lists/at_risk" and record["rows"] == 20
    assert record["request"] == {"as_of": None, "filters": {"bands": ["high"], "channel": [], "city_tier": [], "member_tier": [], "region": [], "top": None, "new_since": None}, "limit": 20, "offset": 10}
    assert record["model_version"] == "1" and record["service_models"] == {"churn": "churn v1"}
    assert set(record) == {"time", "caller", "endpoint", "request", "rows", "total", "as_of", "model_name", "model_version", "service_models"}
    users = {row["user_id"] for row in response.json()["rows"]}
    assert not any(f'"{user}"' in lines[-1] for user in users)  # list user ids are strings


def test_the_server_log_holds_no_user_ids(server):
    client, log, _ = server
    marker = 987654321012
    client.post("/score_users", json={"user_ids": [marker]})
    client.post("/score_users", json={"user_ids": [str(marker), {"x": marker}]})
    assert str(marker) not in log.read_text()


def test_promoting_a_new_champion_does_not_change_the_running_server(server, service_workspace, tmp_path):
    import bentoml
    import mlflow
    from mlflow import MlflowClient

    from serving.batch.snapshots import FeatureSnapshots
    from serving.models import load_model
    from training import registry, tracking

    client, _, _ = server
    classifier = load_model(Path(bentoml.models.get(service_workspace.bundle_tag).path) / "churn", "churn", "1", "v1").model
    _, example = FeatureSnapshots(service_workspace.features_dir).latest("churn")
    with service_workspace.mlflow():
        with mlflow.start_run(experiment_id=tracking.experiment_id("service")):
            version = registry.log_model(classifier, example, "churn")
        registry.promote("churn", version)
        assert registry.alias_version(MlflowClient(), "churn", registry.CHAMPION) == version == "2"
        fresh = service_workspace.import_models(tmp_path / "bentoml", "--activation-model", "none")
        registry.rollback("churn")  # leave the workspace's registry as the other tests expect it
    assert fresh.returncode == 0, fresh.stderr
    assert fresh.stdout.startswith("imported churn_retention:") and "(churn v2)" in fresh.stdout  # the next import (and restart) would serve version 2
    info = client.post("/model_info").json()
    assert info["models"] == {"churn": "churn v1"} and info["bundle"] == service_workspace.bundle_tag
    scored = client.post("/score_users", json={"user_ids": [int(example["user_id"].iloc[0])]})
    assert scored.json()["model_version"] == "1" and scored.headers["x-churn-model"] == "churn=1"


def test_no_request_changed_the_stored_scores(server, service_workspace, stored_before):
    runs, scores = _stored(service_workspace)
    pd.testing.assert_frame_equal(runs, stored_before[0])
    pd.testing.assert_frame_equal(scores, stored_before[1])


def test_refuses_to_start_without_a_token(service_workspace, tmp_path):
    code, output = _exit_of(service_workspace.env(tokens=None), tmp_path / "no-token.log")
    assert code != 0
    assert "churn service: error: no API token configured: set CHURN_API_TOKENS" in output
    assert "Traceback" not in output


def test_refuses_to_start_without_a_model(service_workspace, tmp_path):
    env = service_workspace.env() | {"BENTOML_HOME": str(tmp_path / "empty-bentoml")}
    code, output = _exit_of(env, tmp_path / "no-model.log")
    assert code != 0
    assert "churn service: error: no model churn_retention:latest in the BentoML model store" in output
    assert "churn import-model" in output and "Traceback" not in output


def test_refuses_to_start_with_a_corrupt_model(service_workspace, tmp_path):
    import shutil

    home = tmp_path / "bentoml"
    shutil.copytree(service_workspace.bentoml_home / "models", home / "models", symlinks=True)
    booster = next((home / "models").rglob("booster.txt"))
    booster.write_text(booster.read_text()[:1000])
    code, output = _exit_of(service_workspace.env() | {"BENTOML_HOME": str(home)}, tmp_path / "corrupt.log")
    assert code == 3
    assert "churn service: error: bundle churn_retention:" in output and "booster.txt" in output and "the file may be cut short" in output
    assert "Traceback" not in output
