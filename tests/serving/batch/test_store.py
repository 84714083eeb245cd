"""The score store: idempotent reruns, and a job killed before its commit changes nothing."""

from __future__ import annotations

import datetime as dt
import os
import signal
import subprocess
import sys
import time
import uuid

import numpy as np
import pandas as pd
import pytest

from serving.batch.scoring import SCORE_COLUMNS
from serving.batch.store import ScoreStore

PG = os.environ.get("CHURN_TEST_POSTGRES_URL")
AS_OF = dt.date(2025, 8, 31)


def _scores(n: int, version: str = "1", seed: int = 0, as_of: dt.date = AS_OF) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    p = np.sort(rng.random(n))[::-1]
    return pd.DataFrame(
        {
            "user_id": np.arange(1, n + 1),
            "as_of": as_of,
            "probability": p,
            "risk_band": np.where(p >= 0.6, "high", np.where(p >= 0.3, "medium", "low")),
            "percentile": np.round(100 * (n - np.arange(n)) / n, 1),
            "reason_1": "46 days since last order; usual gap 12 days",
            "reason_2": None,
            "reason_3": None,
            "value_at_risk": rng.random(n) * 1000,
            "member_tier": rng.choice(["gold", "silver"], n),
            "city_tier": rng.choice(["1", "3"], n),
            "region": "east",
            "channel": None,
            "top_category": "books",
            "model_name": "churn",
            "model_version": version,
            "scored_at": pd.Timestamp("2025-09-01 02:00:00"),
        }
    )[list(SCORE_COLUMNS)]


@pytest.fixture(params=["duckdb", "postgres"])
def store_url(request, tmp_path):
    if request.param == "duckdb":
        yield f"duckdb:///{tmp_path / 'scores.duckdb'}"
        return
    if not PG:
        pytest.skip("CHURN_TEST_POSTGRES_URL is not set (.ci/run sets it to the local PostgreSQL server)")
    import sqlalchemy as sa

    name = f"churn_scores_{uuid.uuid4().hex[:8]}"
    admin = sa.create_engine(PG, isolation_level="AUTOCOMMIT")
    with admin.connect() as con:
        con.execute(sa.text(f'CREATE DATABASE "{name}"'))
    yield sa.engine.make_url(PG).set(database=name).render_as_string(hide_password=False)
    with admin.connect() as con:
        con.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


def test_rerun_leaves_one_identical_set(store_url):
    store = ScoreStore(store_url)
    first = _scores(500)
    store.publish(first, checks={"rows": "ok"})
    store.publish(first, checks={"rows": "ok"})
    got = store.read("churn", AS_OF)
    assert len(got) == 500
    np.testing.assert_array_equal(got["probability"].to_numpy(), first["probability"].to_numpy())  # byte for byte
    assert got["user_id"].tolist() == [str(u) for u in first["user_id"]]
    # Another date is kept apart; a rerun with a new version replaces only its own date.
    store.publish(_scores(300, as_of=dt.date(2025, 9, 30)))
    store.publish(_scores(400, version="2", seed=1))
    assert len(store.read("churn", AS_OF)) == 400 and set(store.read("churn", AS_OF)["model_version"]) == {"2"}
    assert len(store.read("churn", dt.date(2025, 9, 30))) == 300
    runs = store.runs("churn")
    assert list(pd.to_datetime(runs["as_of"]).dt.date) == [dt.date(2025, 9, 30), AS_OF]
    assert runs["rows"].tolist() == [300, 400]


WRITER = """
import sys, time, pathlib
sys.path.insert(0, {root!r})
sys.path.insert(0, {here!r})
from test_store import _scores
from serving.batch.store import ScoreStore
def hang():
    pathlib.Path({ready!r}).write_text("ready")
    time.sleep(600)
ScoreStore({url!r}).publish(_scores(20000, version="2", seed=3), before_commit=hang)
"""


def test_a_job_killed_before_commit_leaves_the_previous_scores(store_url, tmp_path):
    store = ScoreStore(store_url)
    previous = _scores(1000)
    store.publish(previous)
    ready = tmp_path / "ready"
    root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))
    code = WRITER.format(root=root, here=os.path.dirname(os.path.abspath(__file__)), ready=str(ready), url=store_url)
    job = subprocess.Popen([sys.executable, "-c", code], cwd=root)
    try:
        deadline = time.time() + 60
        while not ready.exists():
            assert job.poll() is None, "the writer died before reaching its commit"
            assert time.time() < deadline, "the writer never reached its commit"
            time.sleep(0.05)
        if store_url.startswith("duckdb"):
            # DuckDB allows one writing process: read after the kill.
            job.send_signal(signal.SIGKILL)
            job.wait(30)
        else:
            during = store.read("churn", AS_OF)  # a reader while the job holds its transaction open
            assert len(during) == 1000 and set(during["model_version"]) == {"1"}
            job.send_signal(signal.SIGKILL)
            job.wait(30)
    finally:
        if job.poll() is None:
            job.kill()
    after = store.read("churn", AS_OF)
    assert len(after) == 1000 and set(after["model_version"]) == {"1"}
    np.testing.assert_array_equal(after["probability"].to_numpy(), previous["probability"].to_numpy())
