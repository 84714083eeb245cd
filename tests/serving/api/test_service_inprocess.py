"""The service's logic in process (``ChurnService.to_asgi()`` behind starlette's TestClient).

Scores from the API equal the nightly job's for the same users and date:
by id (the snapshot the job wrote), from the same feature rows, and from the
users' raw rows through the online features. Lists equal the library's lists
on the published scores, and every pull leaves one audit record.
"""

from __future__ import annotations

import json
import threading
import time
import warnings

import numpy as np
import pandas as pd
import pytest

from features.catalog import USER_ID
from serving.batch.scoring import BAND, PERCENTILE, PROBABILITY, REASONS, SEGMENTS, TOP_CATEGORY, VALUE_AT_RISK

pytestmark = pytest.mark.slow
TOL = 1e-9


@pytest.fixture(scope="module")
def api(service_workspace, tmp_path_factory):
    """A TestClient on the service, configured from the workspace's environment."""
    import os

    warnings.filterwarnings("ignore", message=".*httpx.*")
    from starlette.testclient import TestClient

    from serving.api.service import ChurnService

    prometheus = tmp_path_factory.mktemp("prometheus")
    saved = dict(os.environ)
    os.environ.update(service_workspace.env(snapshot_poll_seconds="3600"))
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = str(prometheus)
    try:
        with TestClient(ChurnService.to_asgi()) as client:
            client.headers["Authorization"] = f"Bearer {service_workspace.token.split(':', 1)[1]}"
            _wait_ready(client)
            yield client
    finally:
        os.environ.clear()
        os.environ.update(saved)


def _wait_ready(client, seconds: float = 60) -> None:
    deadline = time.monotonic() + seconds
    while client.get("/readyz").status_code != 200:
        if time.monotonic() > deadline:
            raise TimeoutError("the service did not become ready")
        time.sleep(0.1)


@pytest.fixture(scope="module")
def nightly(service_workspace) -> pd.DataFrame:
    from serving.batch.store import ScoreStore

    scores = ScoreStore(service_workspace.store_url).read("churn", pd.Timestamp(service_workspace.as_of).date())
    assert len(scores) > 500
    return scores.set_index(USER_ID, drop=False)


@pytest.fixture(scope="module")
def snapshot(service_workspace) -> pd.DataFrame:
    from serving.batch.snapshots import FeatureSnapshots

    day, features = FeatureSnapshots(service_workspace.features_dir).latest("churn")
    assert day.isoformat() == service_workspace.as_of
    return features


def _same_scores(results: list[dict], nightly: pd.DataFrame, percentile: bool) -> None:
    assert results and all(r["status"] == "ok" for r in results)
    got = pd.DataFrame(results)
    want = nightly.loc[got[USER_ID].astype(str)]
    np.testing.assert_allclose(got[PROBABILITY].to_numpy(float), want[PROBABILITY].to_numpy(float), rtol=0, atol=TOL)
    assert got[BAND].tolist() == want[BAND].astype(str).tolist()
    for name in (*SEGMENTS, TOP_CATEGORY):
        assert got[name].tolist() == want[name].where(want[name].notna(), None).tolist(), name
    # The night explains its riskiest share; the service gives the others the same reasons on demand.
    explained = want[REASONS[0]].notna().to_numpy()
    for name in REASONS:
        assert got[name][explained].tolist() == want[name][explained].where(want[name][explained].notna(), None).tolist(), name
    np.testing.assert_allclose(got[VALUE_AT_RISK].to_numpy(float), want[VALUE_AT_RISK].to_numpy(float), rtol=0, atol=TOL)
    if percentile:
        np.testing.assert_array_equal(got[PERCENTILE].to_numpy(float), want[PERCENTILE].to_numpy(float))
    else:
        assert got[PERCENTILE].isna().all()


def test_by_id_equals_the_nightly_scores_of_every_user(api, nightly):
    ids = [int(u) for u in nightly.index]
    for start in range(0, len(ids), 1000):
        response = api.post("/score_users", json={"user_ids": ids[start : start + 1000]})
        assert response.status_code == 200, response.text
        body = response.json()
        assert (body["model_name"], body["model_version"], body["as_of"]) == ("churn", "1", "2025-08-31")
        assert response.headers["x-churn-model"] == "churn=1"
        _same_scores(body["results"], nightly, percentile=True)


def test_by_id_unknown_ids_are_items_not_errors(api, nightly):
    known = int(nightly.index[0])
    response = api.post("/score_users", json={"user_ids": [known, 10**9, "no-such-user"]})
    assert response.status_code == 200
    results = response.json()["results"]
    assert [r["status"] for r in results] == ["ok", "not_found", "not_found"]
    assert [r[USER_ID] for r in results] == [known, 10**9, "no-such-user"]
    assert results[1]["probability"] is None and "snapshot of 2025-08-31" in results[1]["detail"]


def _plain(value):
    return value.isoformat() if hasattr(value, "isoformat") else str(value)


def _feature_rows(snapshot: pd.DataFrame) -> list[dict]:
    frame = snapshot.astype(object).where(snapshot.notna(), None)
    return json.loads(json.dumps(frame.to_dict("records"), default=_plain))


def test_feature_rows_equal_the_nightly_scores(api, snapshot, nightly):
    rows = _feature_rows(snapshot.head(400))
    response = api.post("/score_features", json={"as_of": "2025-08-31", "rows": rows})
    assert response.status_code == 200, response.text
    results = response.json()["results"]
    assert [r[USER_ID] for r in results] == [r[USER_ID] for r in rows]  # the order asked for
    _same_scores(results, nightly, percentile=False)


def test_feature_rows_must_give_every_model_feature_and_nothing_unknown(api, snapshot):
    row = _feature_rows(snapshot.head(1))[0]
    lacking = {k: v for k, v in row.items() if k != "days_since_last_order"}
    response = api.post("/score_features", json={"as_of": "2025-08-31", "rows": [lacking]})
    assert response.status_code == 400
    assert "rows.0: lacks feature days_since_last_order" in response.json()["error"]
    response = api.post("/score_features", json={"as_of": "2025-08-31", "rows": [{**row, "days_since_last_ordr": 3}]})
    assert response.status_code == 400 and "rows.0.days_since_last_ordr" in response.json()["error"]
    response = api.post("/score_features", json={"as_of": "2025-08-31", "rows": [row, row]})
    assert response.status_code == 400 and "more than once" in response.json()["error"]
    assert str(row[USER_ID]) not in response.text  # error bodies never quote user ids


def _raw_rows(service_workspace, user_ids: list[int]) -> dict[str, list[dict]]:
    from features.validation import load_dataset

    dataset = load_dataset(service_workspace.data)
    out = {}
    for name in dataset.tables:
        table = dataset.table(name)
        frame = table.filter(table[USER_ID].isin(user_ids)).to_pandas()
        frame = frame.astype(object).where(frame.notna(), None)
        out[name] = json.loads(json.dumps(frame.to_dict("records"), default=_plain))
    return out


def test_raw_rows_equal_the_nightly_scores(api, service_workspace, snapshot, nightly):
    busiest = snapshot.sort_values("events_90d", ascending=False)[USER_ID].head(3).tolist()
    quiet = snapshot.loc[snapshot["orders_90d"] == 0, USER_ID].head(2).tolist()
    users = [int(u) for u in busiest + quiet]
    tables = _raw_rows(service_workspace, users)
    response = api.post("/score_raw", json={"as_of": "2025-08-31", **tables})
    assert response.status_code == 200, response.text
    results = response.json()["results"]
    assert sorted(r[USER_ID] for r in results) == sorted(users)
    _same_scores(results, nightly, percentile=False)


def test_raw_rows_need_an_as_of_and_a_later_signup_is_not_found(api, service_workspace, snapshot):
    user = int(snapshot.sort_values("days_since_signup")[USER_ID].iloc[0])  # the latest to sign up
    tables = _raw_rows(service_workspace, [user])
    response = api.post("/score_raw", json=tables)
    assert response.status_code == 400
    assert response.json()["detail"][0]["loc"] == ["as_of"]
    before_signup = pd.Timestamp(tables["users"][0]["signup_at"]).date() - pd.Timedelta(days=1)
    early = api.post("/score_raw", json={"as_of": before_signup.isoformat(), **tables})
    assert early.status_code == 200
    [item] = early.json()["results"]
    assert item["status"] == "not_found" and "signed up later" in item["detail"]


def test_at_risk_list_pages_equal_the_library_list(api, service_workspace, nightly):
    from serving.crm.lists import ListFilter, at_risk_list

    filters = {"bands": ["high", "medium"], "member_tier": ["gold", "regular"], "top": 120}
    want = at_risk_list(nightly.reset_index(drop=True), ListFilter(**filters), pd.Timestamp("2025-09-01"))
    got = []
    for offset in (0, 100):
        response = api.post("/lists/at_risk", json={"filters": filters, "offset": offset, "limit": 100})
        assert response.status_code == 200, response.text
        body = response.json()
        assert body["total"] == len(want) == 120 and body["model_version"] == "1" and body["as_of"] == "2025-08-31"
        got += body["rows"]
    assert [r["rank"] for r in got] == want["rank"].tolist()
    assert [r[USER_ID] for r in got] == want[USER_ID].astype(str).tolist()
    np.testing.assert_allclose([r[PROBABILITY] for r in got], want[PROBABILITY], rtol=0, atol=TOL)


def test_list_pulls_are_audited_without_user_data(api, service_workspace, nightly):
    log = service_workspace.root / "audit" / "api.jsonl"
    before = log.read_text().splitlines() if log.exists() else []
    policy = {"campaign_id": "winback-1", "budget": 2000, "coupon_value": 20, "seed": 7}
    response = api.post("/lists/coupons", json={"policy": policy, "limit": 5})
    assert response.status_code == 200, response.text
    body = response.json()
    assert len(body["rows"]) == 5 and body["rows"][0]["coupon_id"] == "winback-1-000001"
    after = log.read_text().splitlines()
    assert len(after) == len(before) + 1
    record = json.loads(after[-1])
    assert record["caller"] == "crm-team" and record["endpoint"] == "lists/coupons"
    assert record["request"]["policy"]["budget"] == 2000 and record["rows"] == 5 and record["total"] == body["total"]
    assert (record["as_of"], record["model_name"], record["model_version"]) == ("2025-08-31", "churn", "1")
    assert record["service_models"] == {"churn": "churn v1"}
    assert "s3cret" not in after[-1]
    assert not any(f'"{row[USER_ID]}"' in after[-1] for row in body["rows"])


def test_bad_list_requests_are_400_with_the_field_or_value(api):
    unknown_band = api.post("/lists/at_risk", json={"filters": {"bands": ["extreme"]}})
    assert unknown_band.status_code == 400 and "filters.bands" in unknown_band.json()["error"]
    typo = api.post("/lists/at_risk", json={"filters": {"member_tier": ["golden"]}})
    assert typo.status_code == 400 and "golden: no scored user has it" in typo.json()["error"]
    no_budget = api.post("/lists/coupons", json={"policy": {"campaign_id": "x", "coupon_value": 5}})
    assert no_budget.status_code == 400 and "policy.budget" in no_budget.json()["error"]
    too_far = api.post("/lists/at_risk", json={"as_of": "2025-07-31"})
    assert too_far.status_code == 404 and "as of 2025-07-31" in too_far.json()["error"]
    misspelt = api.post("/lists/at_risk", json={"filters": {"bandz": ["high"]}, "limt": 5})
    assert misspelt.status_code == 400
    said = misspelt.json()["error"]
    assert "filters.bandz: unknown field; did you mean bands?" in said and "limt: unknown field; did you mean limit?" in said
    assert {d["type"] for d in misspelt.json()["detail"]} == {"extra_forbidden"}
    cli_name = api.post("/lists/at_risk", json={"filters": {"band": ["high"]}, "limit": 3})
    assert cli_name.status_code == 200 and {r["risk_band"] for r in cli_name.json()["rows"]} <= {"high"}


def test_activation_list_from_published_activation_scores(api, service_workspace, nightly):
    from serving.batch.store import ScoreStore

    missing = api.post("/lists/activation", json={"policy": {"campaign_id": "welcome"}})
    assert missing.status_code == 404 and "activation" in missing.json()["error"]
    no_model = api.post("/score_users", json={"model": "activation", "user_ids": [1]})
    assert no_model.status_code == 404 and "no activation model" in no_model.json()["error"]
    activation = nightly.reset_index(drop=True).head(60).assign(model_name="activation")
    ScoreStore(service_workspace.store_url).publish(activation)
    response = api.post("/lists/activation", json={"policy": {"campaign_id": "welcome", "top": 50, "control_share": 0.2}})
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["total"] == 50 and body["model_name"] == "activation"
    assert {r["group"] for r in body["rows"]} == {"treatment", "control"}


def test_an_internal_error_is_a_generic_500_and_the_log_holds_no_user_data(api, nightly, monkeypatch, caplog):
    import serving.api.service as service

    secret_user = str(nightly.index[0])

    def broken(*args, **kwargs):
        raise KeyError("user " + secret_user + " spend_90d=" + str(123 + 0.45))

    monkeypatch.setattr(service, "at_risk_list", broken)
    with caplog.at_level("INFO"):
        response = api.post("/lists/at_risk", json={})
    assert response.status_code == 500
    assert response.json() == {"error": "An unexpected error has occurred, please check the server log."}
    logged = "\n".join(r.getMessage() for r in caplog.records)
    assert "KeyError (message withheld" in logged and "Traceback" in logged
    assert secret_user not in logged and "123.45" not in logged, logged


def test_health_and_metrics_are_open_everything_else_needs_the_token(api):
    anonymous = {"Authorization": ""}
    for path in ("/livez", "/readyz", "/metrics", "/docs.json"):
        assert api.get(path, headers=anonymous).status_code == 200, path
    assert api.post("/score_users", json={"user_ids": [1]}, headers=anonymous).status_code == 401
    assert api.post("/model_info", headers={"Authorization": "Bearer wrong-token-0000000000"}).status_code == 401
    info = api.post("/model_info").json()
    assert info["models"] == {"churn": "churn v1"} and info["as_of"] == "2025-08-31"


def test_not_ready_until_the_warm_up_is_done(service_workspace, monkeypatch):
    """The online feature query compiles in the background; until then /readyz and the API answer 503."""
    import asyncio

    import serving.api.service as service
    from serving.api.auth import ApiGate

    release = threading.Event()
    compile_query = service.OnlineFeatures

    def slow(*args, **kwargs):
        release.wait(30)
        return compile_query(*args, **kwargs)

    monkeypatch.setattr(service, "OnlineFeatures", slow)
    for key, value in service_workspace.env().items():
        monkeypatch.setenv(key, value)
    instance = service.ChurnService.inner()  # a second worker's instance, without a second app
    reached = []

    async def app(scope, receive, send):
        reached.append(scope["path"])
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"{}"})

    def call(path: str) -> int:
        sent = []

        async def receive():
            return {"type": "http.request", "body": b"{}", "more_body": False}

        async def send(message):
            sent.append(message)

        secret = service_workspace.token.split(":", 1)[1].encode()
        scope = {"type": "http", "path": path, "method": "POST", "headers": [(b"authorization", b"Bearer " + secret), (b"content-length", b"2")]}
        asyncio.run(ApiGate(app, keeper=lambda: instance)(scope, receive, send))
        return sent[0]["status"]

    assert instance.__is_ready__() is False
    assert call("/score_users") == 503 and reached == []
    release.set()
    deadline = time.monotonic() + 60
    while not instance.__is_ready__():
        assert time.monotonic() < deadline and instance.warm_up_error is None
        time.sleep(0.05)
    assert call("/score_users") == 200 and reached == ["/score_users"]


def test_a_corrupt_bundle_does_not_load(service_workspace, tmp_path):
    import shutil

    import bentoml

    from serving.api.bundle import load_bundle
    from serving.models import ModelFilesError

    stored = bentoml.models.get(service_workspace.bundle_tag)
    copy = tmp_path / "bundle"
    shutil.copytree(stored.path, copy)
    booster = next(copy.rglob("booster.txt"))
    booster.write_text(booster.read_text()[:2000])

    class Corrupt:
        path, tag, info = str(copy), stored.tag, stored.info

    with pytest.raises(ModelFilesError, match=r"churn model churn v1: booster.txt (lacks its tree_sizes line|ends or is damaged in tree \d+ of \d+); the file may be cut short$"):
        load_bundle(Corrupt())


def test_the_next_nights_snapshot_replaces_the_current_one(service_workspace, snapshot, tmp_path):
    import datetime as dt

    import bentoml

    from serving.api.bundle import load_bundle
    from serving.api.scores import SnapshotScorer
    from serving.batch.bands import BandCutoffs
    from serving.batch.snapshots import FeatureSnapshots

    model = load_bundle(bentoml.models.get(service_workspace.bundle_tag))["churn"]
    snapshots = FeatureSnapshots(tmp_path)
    snapshots.write("churn", dt.date(2025, 8, 30), snapshot.head(50))
    scorer = SnapshotScorer(snapshots, model, BandCutoffs(), poll_seconds=0)
    scorer.load_latest()
    first = snapshot[USER_ID].iloc[0]
    assert scorer.current.as_of == dt.date(2025, 8, 30) and scorer.current.table.get(first)["probability"] is not None
    snapshots.write("churn", dt.date(2025, 8, 31), snapshot.iloc[50:100])
    assert scorer.latest().as_of == dt.date(2025, 8, 30)  # answers from the current one while the next is scored
    deadline = time.monotonic() + 30
    while scorer.current.as_of != dt.date(2025, 8, 31):
        assert time.monotonic() < deadline
        time.sleep(0.05)
    assert scorer.current.table.get(first) is None and scorer.current.table.get(snapshot[USER_ID].iloc[60]) is not None
