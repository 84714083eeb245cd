"""Result files: CSV a spreadsheet opens as data, and whole files or nothing (no .partial left behind)."""

from __future__ import annotations

import csv
import io
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pandas as pd
import pytest

from features.files import PARTIAL_SUFFIX, frame_text, remove_stale_partials, spreadsheet_safe, write_frame


def partials(directory: Path) -> list[str]:
    return sorted(p.name for p in directory.iterdir() if p.name.endswith(PARTIAL_SUFFIX))


def test_formula_like_text_is_escaped_and_numbers_are_not():
    frame = pd.DataFrame(
        {
            "user_id": ['=HYPERLINK("x")', "+1+2", "-2+3+cmd|' /C calc'!A0", "@SUM(A1)", "\t=1", "42", "-5", "+1.5e3", None],
            "value_at_risk": [-5.0, 1.0, 2.0, 3.0, 4.0, 5.0, -0.25, 8.0, 9.0],
            "count": [-1, 2, 3, 4, 5, 6, 7, 8, 9],
        }
    )

    rows = list(csv.reader(io.StringIO(frame_text(frame, "csv"))))

    assert rows[0] == ["user_id", "value_at_risk", "count"]
    assert [r[0] for r in rows[1:]] == [
        "'=HYPERLINK(\"x\")",
        "'+1+2",
        "'-2+3+cmd|' /C calc'!A0",
        "'@SUM(A1)",
        "'\t=1",
        "42",
        "-5",  # text that is a plain number stays a number
        "+1.5e3",
        "",
    ]
    assert [r[1] for r in rows[1:3]] == ["-5.0", "1.0"] and rows[7][1] == "-0.25"  # numbers as they are
    assert [r[2] for r in rows[1:3]] == ["-1", "2"]
    assert frame["user_id"].iloc[0] == '=HYPERLINK("x")'  # the input is not modified
    # A carriage return starts a formula as well (the CSV writer leaves a lone \r unquoted: checked as text).
    assert spreadsheet_safe(pd.DataFrame({"a": ["\r=1"]}))["a"].tolist() == ["'\r=1"]


def test_category_columns_are_escaped_too():
    frame = pd.DataFrame({"region": pd.Categorical(["=cmd()", "east", "=cmd()"]), "user_id": ["1", "2", "3"]})

    safe = spreadsheet_safe(frame)

    assert safe["region"].tolist() == ["'=cmd()", "east", "'=cmd()"]
    assert spreadsheet_safe(frame[["user_id"]]) is not frame  # nothing to escape: returned as it is
    assert spreadsheet_safe(frame[["user_id"]]).equals(frame[["user_id"]])


def test_json_and_parquet_keep_values_as_they_are(tmp_path):
    frame = pd.DataFrame({"user_id": ['=HYPERLINK("x")'], "n": [-5.0]})

    assert '"=HYPERLINK(\\"x\\")"' in frame_text(frame, "json")
    write_frame(frame, tmp_path / "list.parquet", ("parquet",))
    assert pd.read_parquet(tmp_path / "list.parquet")["user_id"].tolist() == ['=HYPERLINK("x")']
    write_frame(frame, tmp_path / "list.csv", ("csv",))
    assert (tmp_path / "list.csv").read_text() == "user_id,n\n\"'=HYPERLINK(\"\"x\"\")\",-5.0\n"


# A writer in a child process, so that a real failure or signal can reach it in the middle of a write.
WRITER = textwrap.dedent(
    """
    import resource, signal, sys
    import pandas as pd
    from features.files import write_frame

    path, rows, limit = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
    if limit:
        # A full disk, for real: writing past the limit fails with EFBIG (SIGXFSZ ignored).
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit, resource.RLIM_INFINITY))
    frame = pd.DataFrame({"user_id": [f"user-{i}" for i in range(rows)], "score": [i / rows for i in range(rows)]})
    print("writing", flush=True)
    write_frame(frame, path)
    """
)


def writer(path: Path, rows: int, limit: int = 0, **kwargs) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-c", WRITER, str(path), str(rows), str(limit)], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, **kwargs
    )


def wait_for_partial(directory: Path, process: subprocess.Popen, timeout: float = 60) -> None:
    """Until a temporary file with some bytes in it exists: the child is in the middle of writing."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if any(p.stat().st_size > 0 for p in directory.iterdir() if p.name.endswith(PARTIAL_SUFFIX)):
            return
        if process.poll() is not None:
            pytest.fail(f"the writer ended before writing: {process.communicate()}")
        time.sleep(0.002)
    pytest.fail("the writer never started writing")


@pytest.mark.parametrize("name", ["scores.csv", "scores.parquet"])
def test_a_write_failing_half_way_leaves_no_partial_file_and_the_old_file(tmp_path, name):
    target = tmp_path / name
    target.write_bytes(b"the previous export")

    done = writer(target, 200_000, limit=64 * 1024)
    _, err = done.communicate(timeout=120)

    assert done.returncode != 0 and "File too large" in err
    assert partials(tmp_path) == []
    assert target.read_bytes() == b"the previous export"


def test_an_interrupted_write_leaves_no_partial_file(tmp_path):
    target = tmp_path / "scores.csv"
    process = writer(target, 1_000_000)
    assert process.stdout.readline() == "writing\n"
    wait_for_partial(tmp_path, process)

    process.send_signal(signal.SIGINT)  # Ctrl-C: KeyboardInterrupt in the middle of the write
    _, err = process.communicate(timeout=120)

    assert "KeyboardInterrupt" in err
    assert partials(tmp_path) == [] and not target.exists()


def test_the_partial_file_of_a_killed_writer_is_removed_by_the_next_write(tmp_path):
    target = tmp_path / "scores.csv"
    process = writer(target, 1_000_000)
    assert process.stdout.readline() == "writing\n"
    wait_for_partial(tmp_path, process)

    process.kill()  # kill -9: nothing in the process can clean up
    process.communicate(timeout=60)
    [left] = partials(tmp_path)
    assert left.startswith(f".scores.csv.{process.pid}.")

    write_frame(pd.DataFrame({"user_id": ["1"]}), target)

    assert partials(tmp_path) == []
    assert target.read_text() == "user_id\n1\n"


def test_a_running_writers_partial_file_is_left_alone(tmp_path):
    target = tmp_path / "scores.csv"
    mine = tmp_path / f".scores.csv.{os.getpid()}.abcd1234{PARTIAL_SUFFIX}"
    other = tmp_path / f".other.csv.999999999.abcd1234{PARTIAL_SUFFIX}"
    mine.write_text("in progress")
    other.write_text("another file's")

    assert remove_stale_partials(target) == []
    assert mine.exists() and other.exists()


def test_a_file_is_created_with_the_usual_permissions(tmp_path):
    path = write_frame(pd.DataFrame({"a": [1]}), tmp_path / "a.parquet")
    umask = os.umask(0)
    os.umask(umask)

    assert path.stat().st_mode & 0o777 == 0o666 & ~umask
