"""The score store under faults, each injected for real: a lock held by another process, a file that is not
a database, a closed port, a publish interrupted between two models."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest

from features.errors import ConfigError
from serving.batch.store import ScoreStore
from serving.errors import DependencyError, StoreBusy
from test_store import AS_OF, _scores, store_url  # noqa: F401 (store_url: the DuckDB/PostgreSQL fixture)

HOLD = """
import duckdb, sys, time, pathlib
con = duckdb.connect(sys.argv[1], read_only=sys.argv[2] == "ro")
pathlib.Path(sys.argv[3]).write_text("held")
time.sleep(float(sys.argv[4]))
con.close()
pathlib.Path(sys.argv[3]).write_text("released")
time.sleep(600)
"""


def _hold(path: Path, mode: str, seconds: float, flag: Path) -> subprocess.Popen:
    """Another process holding ``path`` open (``rw`` or ``ro``) for ``seconds``; returns once it holds it."""
    holder = subprocess.Popen([sys.executable, "-c", HOLD, str(path), mode, str(flag), str(seconds)])
    deadline = time.time() + 60
    while not flag.exists():
        assert holder.poll() is None and time.time() < deadline, "the holder never took the file"
        time.sleep(0.02)
    return holder


def _churn_and_activation(version: str, n: int = 50) -> list[tuple[pd.DataFrame, dict]]:
    churn = _scores(n, version=version)
    activation = _scores(n // 2, version=version, seed=5).assign(model_name="activation")
    return [(churn, {"c": version}), (activation, {"a": version})]


def test_a_reader_meeting_a_held_lock_says_busy_and_the_writer_waits_for_it(tmp_path):
    path = tmp_path / "scores.duckdb"
    ScoreStore(f"duckdb:///{path}").publish(_scores(10))
    holder = _hold(path, "rw", 60, tmp_path / "flag")
    try:
        with pytest.raises(StoreBusy, match=r"scores.duckdb: being published \(waited 0.2 s\); retry shortly") as e:
            ScoreStore(f"duckdb:///{path}", read_wait=0.2).read("churn", AS_OF)
        assert e.value.exit_code == 5 and e.value.http_status == 503
        with pytest.raises(StoreBusy, match="held by another process"):
            ScoreStore(f"duckdb:///{path}", write_wait=0.3).publish(_scores(20, version="2"))
    finally:
        holder.kill()
        holder.wait()
    assert len(ScoreStore(f"duckdb:///{path}").read("churn", AS_OF)) == 10  # the refused publish wrote nothing


def test_the_writer_gets_the_file_once_a_reader_lets_go(tmp_path):
    path = tmp_path / "scores.duckdb"
    ScoreStore(f"duckdb:///{path}").publish(_scores(10))
    flag = tmp_path / "flag"
    holder = _hold(path, "ro", 1.0, flag)  # a slow reader: lets go after a second
    try:
        ScoreStore(f"duckdb:///{path}", write_wait=30).publish(_scores(20, version="2"))
        assert flag.read_text() == "released"  # the publish waited for the reader, it did not fail
    finally:
        holder.kill()
        holder.wait()
    assert len(ScoreStore(f"duckdb:///{path}").read("churn", AS_OF)) == 20


def test_a_reader_meeting_a_live_publish_marker_is_busy_and_a_dead_ones_is_ignored(tmp_path):
    path = tmp_path / "scores.duckdb"
    store = ScoreStore(f"duckdb:///{path}")
    store.publish(_scores(10))
    marker = tmp_path / "scores.duckdb.publishing"
    assert not marker.exists()  # the publish removed its marker
    sleeper = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(600)"])
    try:
        marker.write_text(str(sleeper.pid))
        with pytest.raises(StoreBusy, match="being published; retry shortly"):
            store.runs("churn")
    finally:
        sleeper.kill()
        sleeper.wait()
    assert len(store.runs("churn")) == 1  # a killed writer's marker does not block readers


def test_reading_a_missing_store_creates_nothing(tmp_path):
    path = tmp_path / "nowhere" / "scores.duckdb"
    store = ScoreStore(f"duckdb:///{path}")
    assert store.read("churn", AS_OF).empty and store.runs("churn").empty and store.latest_as_of("churn") is None
    store.check()
    assert not path.exists() and not path.parent.exists()


@pytest.mark.parametrize("content", [b"\xff" * 4096, b"", b"user_id,probability\n1,0.5\n"])
def test_a_file_that_is_not_a_database_is_one_line(tmp_path, content):
    path = tmp_path / "scores.duckdb"
    path.write_bytes(content)
    store = ScoreStore(f"duckdb:///{path}")
    for call in (lambda: store.read("churn", AS_OF), lambda: store.publish(_scores(5)), store.check):
        with pytest.raises(DependencyError, match=r"scores.duckdb: not a DuckDB database file") as e:
            call()
        assert e.value.exit_code == 6 and "\n" not in e.value.message
    assert path.read_bytes() == content  # never overwritten


def test_a_closed_port_is_one_line_naming_the_store_without_its_password():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # closed once the block ends: nothing listens there
    store = ScoreStore(f"postgresql+psycopg://churn:secret-pw@127.0.0.1:{port}/churn")
    for call in (store.check, lambda: store.runs("churn"), lambda: store.publish(_scores(5))):
        with pytest.raises(DependencyError, match=rf"score store postgresql\+psycopg://churn:\*\*\*@127.0.0.1:{port}/churn: cannot be reached") as e:
            call()
        assert "secret-pw" not in e.value.message and "\n" not in e.value.message


def test_a_night_is_one_transaction_over_every_model(store_url):
    store = ScoreStore(store_url)
    store.publish_night(_churn_and_activation("1"))

    def fail():
        raise RuntimeError("killed between the models' inserts and the commit")

    with pytest.raises(RuntimeError):
        store.publish_night(_churn_and_activation("2", n=80), before_commit=fail)
    for model, rows in (("churn", 50), ("activation", 25)):
        kept = store.read(model, AS_OF)
        assert len(kept) == rows and set(kept["model_version"]) == {"1"}
    assert store.publish_night(_churn_and_activation("2", n=80)) == [80, 40]
    assert set(store.read("activation", AS_OF)["model_version"]) == {"2"}
    assert store.runs("activation")["rows"].tolist() == [40]


def test_an_empty_population_is_refused_not_published(tmp_path):
    store = ScoreStore(f"duckdb:///{tmp_path / 'scores.duckdb'}")
    with pytest.raises(ConfigError, match="an empty population publishes nothing"):
        store.publish(_scores(0))
    assert store.runs("churn").empty and os.listdir(tmp_path) == []
