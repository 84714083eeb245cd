"""The API's own docs and the dashboard route: examples that are valid requests, and a real server opened in Chromium.

The server is ``python -m bentoml serve serving.api.service:ChurnService`` on a loopback
port with the service workspace's bundle; Chromium runs with every host but 127.0.0.1
unresolvable, so a docs page that needed a script or font from elsewhere would not render.
"""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from serving.api import schemas as M
from serving.api.docs import BEARER, TITLE, request_examples, service_openapi, service_version


REPO = Path(__file__).resolve().parents[3]
START_SECONDS = 180
REQUESTS = {
    "/score_users": M.ScoreByIdRequest, "/score_features": M.ScoreFeaturesRequest, "/score_raw": M.RawScoreRequest,
    "/lists/at_risk": M.AtRiskRequest, "/lists/coupons": M.CouponListRequest, "/lists/activation": M.ActivationListRequest,
}  # fmt: skip


@pytest.mark.parametrize("route", sorted(REQUESTS))
def test_every_example_is_a_valid_request(route):
    REQUESTS[route].model_validate(request_examples()[route])


def test_the_openapi_document_is_this_services():
    generated = {"openapi": "3.0.2", "info": {"title": "BentoML", "version": "None", "contact": {"name": "BentoML Team"}},
                 "paths": {"/score_users": {"post": {"requestBody": {"content": {"application/json": {"schema": {}}}}}},
                           "/livez": {"get": {}}}}  # fmt: skip
    spec = service_openapi(generated)
    assert spec["info"]["title"] == TITLE and spec["info"]["version"] == service_version() != "None"
    assert "BentoML" not in str(spec["info"])
    assert spec["components"]["securitySchemes"][BEARER] == {**spec["components"]["securitySchemes"][BEARER], "type": "http", "scheme": "bearer"}
    assert spec["security"] == [{BEARER: []}]
    assert spec["paths"]["/livez"]["get"]["security"] == []  # open
    assert spec["paths"]["/score_users"]["post"]["requestBody"]["content"]["application/json"]["example"] == {"user_ids": [1455, 1456]}
    assert generated["info"]["title"] == "BentoML"  # the generated document is not modified


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def server(service_workspace, tmp_path_factory):
    root = tmp_path_factory.mktemp("docs-server")
    reports = root / "reports"
    reports.mkdir()
    (reports / "nightly-2025-08-24.html").write_text("<!DOCTYPE html><title>older</title>")
    (reports / "nightly-2025-08-31.html").write_text("<!DOCTYPE html><title>night of 2025-08-31</title>")
    port = _free_port()
    log = root / "server.log"
    command = [sys.executable, "-m", "bentoml", "serve", "serving.api.service:ChurnService", "--host", "127.0.0.1", "--port", str(port)]
    env = service_workspace.env(reports_dir=str(reports))
    process = subprocess.Popen(command, cwd=REPO, env=env, stdout=log.open("w"), stderr=subprocess.STDOUT, start_new_session=True)
    url = f"http://127.0.0.1:{port}"
    try:
        started = time.monotonic()
        while True:
            if process.poll() is not None:
                raise RuntimeError(f"the server exited with {process.returncode}:\n{log.read_text()[-3000:]}")
            try:
                if httpx.get(f"{url}/readyz", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() - started > START_SECONDS:
                raise TimeoutError(f"the server was not ready in {START_SECONDS} s:\n{log.read_text()[-3000:]}")
            time.sleep(1)
        yield url, service_workspace.token.split(":", 1)[1]
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(30)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)  # the group this test started: the server and its worker
                process.wait(10)


@pytest.mark.slow
def test_the_served_openapi_document_declares_the_bearer_scheme_and_examples(server):
    url, _ = server
    spec = httpx.get(f"{url}/docs.json", timeout=30).json()
    assert spec["info"]["title"] == TITLE and spec["info"]["version"] == service_version()
    assert spec["info"]["contact"]["name"].startswith("CRM data team") and "BentoML" not in str(spec["info"])
    assert spec["components"]["securitySchemes"][BEARER]["scheme"] == "bearer" and spec["security"] == [{BEARER: []}]
    for route in REQUESTS:
        body = spec["paths"][route]["post"]["requestBody"]["content"]["application/json"]
        assert body["example"] == request_examples()[route], route


@pytest.mark.slow
def test_the_dashboard_is_served_behind_the_token(server):
    url, secret = server
    assert httpx.get(f"{url}/reports/nightly/latest", timeout=30).status_code == 401
    auth = {"Authorization": f"Bearer {secret}"}
    latest = httpx.get(f"{url}/reports/nightly/latest", headers=auth, timeout=30)
    assert latest.status_code == 200 and "night of 2025-08-31" in latest.text and latest.headers["content-type"].startswith("text/html")
    assert "older" in httpx.get(f"{url}/reports/nightly/2025-08-24", headers=auth, timeout=30).text
    missing = httpx.get(f"{url}/reports/nightly/2025-08-30", headers=auth, timeout=30)
    assert missing.status_code == 404 and "latest pages: 2025-08-24, 2025-08-31" in missing.json()["detail"]


@pytest.mark.slow
def test_the_docs_page_renders_in_chromium_without_the_network(server, chromium, screenshots):
    url, _ = server
    offline = "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1"
    dom = chromium.dump_dom(f"{url}/", wait_ms=15000, extra=(offline,))
    # Nothing the page loads comes from another host (links in the text may point anywhere).
    fetched = re.findall(r'<(?:script|img|link|iframe)[^>]*?(?:src|href)="([^"]+)"', dom)
    assert fetched and not [f for f in fetched if f.startswith(("http:", "https:", "//")) and "127.0.0.1" not in f], fetched
    assert TITLE in dom and service_version() in dom
    assert "authorize" in dom.lower()  # Swagger UI shows Authorize only for a declared security scheme
    for route in (*REQUESTS, "/model_info"):
        assert route in dom, route
    shot = chromium.screenshot(f"{url}/", screenshots / "api-docs-1400.png", 1400, 1800, wait_ms=15000, extra=(offline,))
    print(f"screenshot: {shot}")


def test_dashboard_file_accepts_a_date_or_latest_and_nothing_else(tmp_path):
    from serving.api.docs import dashboard_file

    assert dashboard_file(tmp_path, "latest") is None
    for day in ("2025-08-24", "2025-08-31"):
        (tmp_path / f"nightly-{day}.html").write_text(day)
    (tmp_path / "nightly-notes.html").write_text("not a page of a date")
    assert dashboard_file(tmp_path, "latest") == tmp_path / "nightly-2025-08-31.html"
    assert dashboard_file(tmp_path, "2025-08-24") == tmp_path / "nightly-2025-08-24.html"
    for name in ("2025-08-30", "2025-02-30", "../nightly-2025-08-24", "2025-08-24.html", "notes", ""):
        assert dashboard_file(tmp_path, name) is None, name
