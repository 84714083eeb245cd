"""The API under faults and hostile input, in process (``ChurnService.to_asgi()``), each injected for real:
a publish holding the DuckDB store, the nightly job running beside the API on the default DuckDB store
(a real ``churn score`` process) with lists pulled throughout, 2,000 unknown paths, oversized text,
Infinity, overflowing and negative numbers."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import threading
import time
import warnings

import pytest

pytestmark = pytest.mark.slow
HUGE = "x" * 200_000


@pytest.fixture(scope="module")
def world(service_workspace, tmp_path_factory):
    """A TestClient on the service over a copy of the workspace's store (the tests here write to it)."""
    warnings.filterwarnings("ignore", message=".*httpx.*")
    from starlette.testclient import TestClient

    from serving.api.service import ChurnService

    root = tmp_path_factory.mktemp("faults")
    store = root / "scores.duckdb"
    shutil.copy(service_workspace.store_url.removeprefix("duckdb:///"), store)
    features = root / "features"
    shutil.copytree(service_workspace.features_dir, features)
    saved = dict(os.environ)
    os.environ.update(service_workspace.env(snapshot_poll_seconds="3600", store=f"duckdb:///{store}", features_dir=str(features)))
    try:
        with TestClient(ChurnService.to_asgi()) as client:
            client.headers["Authorization"] = f"Bearer {service_workspace.token.split(':', 1)[1]}"
            deadline = time.monotonic() + 60
            while client.get("/readyz").status_code != 200:
                assert time.monotonic() < deadline, "the service did not become ready"
                time.sleep(0.1)
            yield client, root, store, features
    finally:
        os.environ.clear()
        os.environ.update(saved)


def _post_raw(client, path: str, body: str):
    return client.post(path, content=body.encode(), headers={"content-type": "application/json"})


@pytest.mark.parametrize(
    ("path", "body", "field"),
    [
        ("/lists/coupons", '{"policy": {"campaign_id": "%s", "budget": 5000, "coupon_value": 20}}' % HUGE, "policy.campaign_id"),
        ("/lists/activation", '{"policy": {"campaign_id": "%s"}}' % HUGE, "policy.campaign_id"),
        ("/lists/at_risk", '{"filters": {"region": ["%s"]}}' % HUGE, "filters.region.0"),
        ("/score_users", '{"user_ids": ["%s"]}' % HUGE, "user_ids.0"),
        ("/score_features", '{"as_of": "%s", "rows": [{"user_id": 1}]}' % HUGE, "as_of"),
        ("/lists/coupons", '{"policy": {"campaign_id": "c", "budget": Infinity, "coupon_value": 20}}', "policy.budget"),
        ("/lists/coupons", '{"policy": {"campaign_id": "c", "budget": 1e999, "coupon_value": 20}}', "policy.budget"),
        ("/lists/coupons", '{"policy": {"campaign_id": "c", "budget": 5000, "coupon_value": 20, "seed": -1}}', "policy.seed"),
        ("/lists/at_risk", '{"offset": -1}', "offset"),
        ("/lists/at_risk", '{"offset": 100000000000000000000000}', "offset"),
        ("/score_users", '{"user_ids": [100000000000000000000000000000]}', "user_ids.0"),
        ("/score_features", '{"as_of": "2025-08-31", "rows": [{"user_id": 1, "orders_30d": -3}]}', "rows.0.orders_30d"),
        ("/score_features", '{"as_of": "2025-08-31", "rows": [{"user_id": 1, "spend_30d": NaN}]}', "rows.0.spend_30d"),
    ],
)  # fmt: skip
def test_bad_text_and_numbers_are_400_naming_the_field_without_echoing_it(world, path, body, field):
    client = world[0]
    response = _post_raw(client, path, body)
    assert response.status_code == 400, response.text
    error = response.json()["error"]
    assert error.startswith("invalid request: ") and field in error, error
    assert len(response.content) < 2000 and HUGE[:50] not in response.text and "Infinity" not in response.text


def test_unknown_paths_do_not_grow_the_metrics(world):
    client = world[0]
    anonymous = {"Authorization": ""}
    client.get("/no/such/path/warm-up", headers=anonymous)
    before = client.get("/metrics", headers=anonymous)
    assert before.status_code == 200 and before.headers["content-type"].startswith("text/plain")
    for i in range(2000):
        assert client.get(f"/probe/{i}/{i * 7919}", headers=anonymous).status_code == 401
    after = client.get("/metrics", headers=anonymous).text
    assert len(after) - len(before.text) < 200  # only the counts changed, no series was added
    assert 'churn_http_requests_total{route="other",status="401"}' in after and "/probe/" not in after
    client.post("/model_info")
    assert 'churn_http_requests_total{route="/model_info",status="200"}' in client.get("/metrics").text


def test_a_list_pulled_while_a_publish_holds_the_store_is_503_with_retry_after(world):
    client, root, store, _ = world
    flag = root / "held"
    hold = f"import duckdb, pathlib, time; c = duckdb.connect({str(store)!r}); pathlib.Path({str(flag)!r}).touch(); time.sleep(600)"
    holder = subprocess.Popen([sys.executable, "-c", hold])
    try:
        while not flag.exists():
            assert holder.poll() is None
            time.sleep(0.02)
        response = client.post("/lists/at_risk", json={"limit": 5})
    finally:
        holder.kill()
        holder.wait()
        flag.unlink(missing_ok=True)
    assert response.status_code == 503 and response.headers["retry-after"] == "1", response.text
    assert response.json()["error"].endswith("being published (waited 1 s); retry shortly")
    assert client.post("/lists/at_risk", json={"limit": 5}).status_code == 200  # and it reads again once the publish is over


def test_the_nightly_job_and_the_api_run_side_by_side_on_the_default_duckdb_store(world, service_workspace):
    """A real ``churn score`` process republishes while four threads pull lists without pause: the job
    succeeds (readers never block it), every answer is a list or a 503 with Retry-After, never a 500."""
    client, root, store, features = world
    stop, answers, problems = threading.Event(), [], []

    def pull():
        while not stop.is_set():
            response = client.post("/lists/at_risk", json={"limit": 3})
            answers.append(response.status_code)
            if response.status_code not in (200, 503) or (response.status_code == 503 and response.headers.get("retry-after") != "1"):
                problems.append((response.status_code, response.text[:200]))

    pullers = [threading.Thread(target=pull) for _ in range(4)]
    for t in pullers:
        t.start()
    env = service_workspace.env() | {"MLFLOW_TRACKING_URI": service_workspace.tracking_uri}
    command = [sys.executable, "-c", "from serving.cli.app import main; main()", "score", "--data", str(service_workspace.data),
               "--as-of", service_workspace.as_of, "--store", f"duckdb:///{store}", "--features-dir", str(features),
               "--activation-model", "none", "--allow-drift"]  # fmt: skip
    try:
        job = subprocess.run(command, cwd=service_workspace.root, env=env, capture_output=True, text=True, timeout=600)
    finally:
        stop.set()
        for t in pullers:
            t.join(60)
    assert job.returncode == 0, job.stderr[-2000:]
    assert job.stdout.startswith(f"scored as of {service_workspace.as_of}: churn v1: ")
    assert not problems, problems[:3]
    assert answers.count(200) > 10, answers[:20]
    latest = client.post("/lists/at_risk", json={"limit": 3})
    assert latest.status_code == 200
    from serving.batch.store import ScoreStore

    runs = ScoreStore(f"duckdb:///{store}").runs("churn")
    assert len(runs) == 1 and str(runs["scored_at"].iloc[0]) > "2025-09-01 03:00:00"  # the job's publish replaced the fixture's
