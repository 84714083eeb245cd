"""Feature benchmark: compute_features (Ibis on DuckDB, from Parquet) by size, against plain pandas.

Usage: python -m benchmarks.features [--size small|default|large|scale] [--cache DIR] [--repeat N]
  small:   ~1M events (6,800 users x 180 days)
  default: + ~10M events (68,000 users x 180 days)
  large:   + ~100M events (680,000 users x 180 days; simulating it once takes ~3 minutes)
  scale:   the scale targets (2 minutes, 6 GB each): ~100M events (680,000 users x 180 days)
           and 5M users (5,000,000 users x 31 days, ~180M events; simulating it once takes
           several minutes); DuckDB only: the pandas baseline would need 15-25 GiB there

Datasets are simulated once (seed 1) and kept under ``--cache``, keyed by
users, days and seed; one simulated by another simulator version is simulated
again. The
``as_of`` is the dataset's last month-end with a 30-day label horizon (where
training rows are built), 60 days before the end of the data; for the 31-day
window of the 5M-user size, which has none, the last simulated day.

Four measurements per size, each run in a fresh process so that its peak
memory (``VmHWM``) is its own; the engines take turns, ``--repeat`` rounds,
so that a slow spell of the machine hits them alike; times are medians:
  DuckDB all:  ``compute_features``, the real feature table (every family);
  DuckDB file: ``write_features``, the same table written to Parquet by DuckDB
               (what ``churn features --out`` needs; no result in Python);
  DuckDB same: the baseline's features, through the same Ibis definitions
               (``feature_expression(...).select(...)``), the like-for-like time;
  pandas:      :func:`benchmarks.pandas_features.pandas_features`, the baseline.
Opening the dataset (``load_dataset``, which checks the data contract) is
timed apart and not in the ratios. Every engine reads the whole Parquet
files; events/s counts every event in the file. At every size the baseline's
values and the file's must equal compute_features' columns within 1e-9, or
the run fails.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

SEED = 1
DEFAULT_CACHE = Path(__file__).resolve().parent / ".cache"
DEFAULT_REPEAT = 3
ATOL = 1e-9


@dataclass(frozen=True)
class Size:
    label: str  # nominal events
    users: int
    days: int
    baseline: bool = True  # run the pandas baseline (it needs about 1.4 GiB per 10M events)


# About 148 events per user over 180 days (measured on the simulator, seed 1).
ONE_M, TEN_M, HUNDRED_M = Size("1M", 6_800, 180), Size("10M", 68_000, 180), Size("100M", 680_000, 180)
# The scale targets, without the pandas baseline (it would need 15-25 GiB there); the file and
# "same" columns are still checked against compute_features.
SCALE_100M, FIVE_M_USERS = Size("100M", 680_000, 180, baseline=False), Size("5M users", 5_000_000, 31, baseline=False)
SIZES = {
    "small": [ONE_M],
    "default": [ONE_M, TEN_M],
    "large": [ONE_M, TEN_M, HUNDRED_M],
    "scale": [SCALE_100M, FIVE_M_USERS],
}
NOT_RUN = {"skipped": "not run at this size"}

DUCKDB_ALL, DUCKDB_FILE, DUCKDB_SAME, PANDAS = "duckdb-all", "duckdb-file", "duckdb-same", "pandas"
ENGINES = (DUCKDB_ALL, DUCKDB_FILE, DUCKDB_SAME, PANDAS)


def _one_run(engine: str, path: Path, as_of: str, out: Path) -> dict:
    """Time ``engine`` once in this process; write its result (the compared columns) to ``out``."""
    import pyarrow.parquet as pq

    from benchmarks.pandas_features import FEATURES, pandas_features
    from features.build import compute_features, feature_expression, to_frame, write_features
    from features.catalog import USER_ID
    from features.validation import load_dataset

    opened = None
    if engine != PANDAS:
        started = time.perf_counter()
        ds = load_dataset(path)
        tables = {name: ds.table(name) for name in ds.tables}
        opened = time.perf_counter() - started
    started = time.perf_counter()
    file = out.with_name(f"{out.stem}-features.parquet")
    if engine == DUCKDB_ALL:
        frame = compute_features(tables, as_of)
    elif engine == DUCKDB_FILE:
        write_features(tables, as_of, file)
    elif engine == DUCKDB_SAME:
        frame = to_frame(feature_expression(tables, as_of).select(USER_ID, *FEATURES).to_pandas())
    else:
        frame = pandas_features(path, as_of)
    seconds = time.perf_counter() - started
    peak = _peak_rss()
    if engine == DUCKDB_FILE:  # read back for the check, after the peak was taken
        frame = to_frame(pq.read_table(file, columns=[USER_ID, *FEATURES]))
        file.unlink()
    frame[[USER_ID, *FEATURES]].to_parquet(out)
    return {"seconds": seconds, "open_seconds": opened, "peak_bytes": peak}


def _peak_rss() -> int:
    """This process's peak resident memory in bytes.

    Not ``ru_maxrss`` alone: on Linux a child's ``ru_maxrss`` starts at the
    parent's resident size when it was forked (kept across exec), so after the
    parent has simulated a dataset every child would report the parent's
    gigabytes. ``VmHWM`` counts only this program's own memory.
    """
    import resource

    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) * 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


def _dataset(cache: Path, size: Size, console) -> Path:
    """The cached dataset of ``size``, simulated first when absent."""
    from features.simulator.config import SimulationConfig
    from features.simulator.run import MANIFEST, SIMULATOR_VERSION, simulate

    path = cache / f"users{size.users}-days{size.days}-seed{SEED}"
    manifest = path / MANIFEST
    if manifest.is_file() and json.loads(manifest.read_text()).get("simulator_version") == SIMULATOR_VERSION:
        return path
    total, done = size.users * size.days, 0
    with console.status(f"simulating {size.users:,} users x {size.days} days (once; cached in {cache})") as status:

        def progress(k: int) -> None:
            nonlocal done
            done += k
            status.update(f"simulating {size.users:,} users x {size.days} days: {done / total:.0%}")

        simulate(SimulationConfig(users=size.users, days=size.days, seed=SEED), path, overwrite=True, progress=progress)
    return path


def _as_of(manifest: dict) -> str:
    """The last month-end with a 30-day label horizon; the last simulated day for windows too short for one."""
    if manifest["truth_dates"]:
        return manifest["truth_dates"][-1]
    config = manifest["config"]
    start = dt.date.fromisoformat(config["start"])
    return (start + dt.timedelta(days=config["days"] - 1)).isoformat()


def _measure(engine: str, path: Path, as_of: str, out: Path) -> dict:
    """Run one engine once in a fresh process; on failure, ``{"error": ...}`` with its last stderr line."""
    started = time.perf_counter()
    run = subprocess.run(
        [sys.executable, "-m", "benchmarks.features", "--one", engine, str(path), as_of, str(out)],
        capture_output=True,
        text=True,
    )
    if run.returncode != 0:
        lines = run.stderr.strip().splitlines() or [f"exit code {run.returncode} (killed?)"]
        return {"error": f"{lines[-1]} (after {time.perf_counter() - started:.0f} s)"}
    return json.loads(run.stdout.strip().splitlines()[-1])


def _summary(runs: list[dict]) -> dict:
    """Median, fastest and slowest time, median open time and largest peak of one engine's runs.

    The first error instead when a run failed.
    """
    for run in runs:
        if "error" in run:
            return run
    opened = [r["open_seconds"] for r in runs if r["open_seconds"] is not None]
    seconds = [r["seconds"] for r in runs]
    return {
        "median": statistics.median(seconds),
        "min": min(seconds),
        "max": max(seconds),
        "open_seconds": statistics.median(opened) if opened else None,
        "peak_bytes": max(r["peak_bytes"] for r in runs),
    }


def _check(out: dict[str, Path], runs: dict[str, dict]) -> tuple[str, str | None]:
    """Compare the baseline's and "DuckDB same" values with compute_features' columns.

    Returns what the table shows and, when values differ, the assertion's message.
    """
    import pandas as pd

    from benchmarks.pandas_features import compare

    if "error" in runs[DUCKDB_ALL] or "error" in runs[PANDAS]:
        return "not checked", None
    expected = pd.read_parquet(out[DUCKDB_ALL])
    try:
        if "skipped" in runs[PANDAS]:
            compared = compare(expected, pd.read_parquet(out[DUCKDB_SAME]), ATOL, what="DuckDB same")
        else:
            compared = compare(expected, pd.read_parquet(out[PANDAS]), ATOL)
        if "error" not in runs[DUCKDB_SAME]:
            compare(expected, pd.read_parquet(out[DUCKDB_SAME]), ATOL, what="DuckDB same")
        if "error" not in runs[DUCKDB_FILE]:
            compare(expected, pd.read_parquet(out[DUCKDB_FILE]), ATOL, what="DuckDB file")
    except AssertionError as exc:
        return "DIFFERENT", str(exc)
    return f"{compared:,} equal", None


def _time(run: dict) -> str:
    """The median, and the range below it when there were several runs."""
    if "skipped" in run:
        return "not run"
    if "error" in run:
        return "[red]failed[/]"
    if run["min"] == run["max"]:
        return f"{run['median']:.2f}"
    return f"{run['median']:.2f}\n[dim]{run['min']:.2f}-{run['max']:.2f}[/]"


def _done(*runs: dict) -> bool:
    return not any("error" in run or "skipped" in run for run in runs)


def _rate(events: int, run: dict) -> str:
    return f"{events / run['median'] / 1e6:.2f}" if _done(run) else ""


def _peak(run: dict) -> str:
    return f"{run['peak_bytes'] / 2**30:.2f}" if _done(run) else ""


def _ratio(num: dict, den: dict) -> str:
    return f"{num['median'] / den['median']:.2f}" if _done(num, den) else ""


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", choices=sorted(SIZES), default="default")
    parser.add_argument("--cache", type=Path, default=DEFAULT_CACHE, help="where simulated datasets are kept (default: %(default)s)")
    parser.add_argument("--repeat", type=int, default=DEFAULT_REPEAT, help="runs of each engine; the median is shown (default: %(default)s)")
    parser.add_argument("--one", nargs=4, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.one:
        engine, path, as_of, out = args.one
        print(json.dumps(_one_run(engine, Path(path), as_of, Path(out))))
        return
    if args.repeat < 1:
        parser.error("--repeat must be at least 1")

    from rich.console import Console
    from rich.table import Table

    from benchmarks.pandas_features import FEATURES
    from features.catalog import FEATURE_NAMES
    from features.simulator.run import MANIFEST

    console = Console(width=max(Console().width, 200))
    results, problems = [], []
    for size in SIZES[args.size]:
        path = _dataset(args.cache, size, console)
        manifest = json.loads((path / MANIFEST).read_text())
        as_of, events = _as_of(manifest), manifest["rows"]["events"]
        tries: dict[str, list[dict]] = {engine: [] for engine in ENGINES}
        with tempfile.TemporaryDirectory() as tmp:
            out = {engine: Path(tmp) / f"{engine}.parquet" for engine in ENGINES}
            for round_ in range(1, args.repeat + 1):
                for engine in ENGINES:
                    if any("error" in run for run in tries[engine]) or (engine == PANDAS and not size.baseline):
                        continue
                    with console.status(f"{size.label} events, round {round_}/{args.repeat}: {engine}"):
                        tries[engine].append(_measure(engine, path, as_of, out[engine]))
            runs = {engine: _summary(tries[engine]) if tries[engine] else NOT_RUN for engine in ENGINES}
            for engine, run in runs.items():
                if "error" in run:
                    problems.append(f"{size.label} events ({path}), {engine} failed: {run['error']}")
            check, difference = _check(out, runs)
            if difference:
                problems.append(f"{size.label} events ({path}): values differ from compute_features:{difference}")
        results.append((size, events, as_of, runs, check))

    all_, same, pd_ = DUCKDB_ALL, DUCKDB_SAME, PANDAS
    as_ofs = ", ".join(sorted({as_of for _, _, as_of, _, _ in results}))
    table = Table(
        title=(
            f"compute_features (Ibis on DuckDB, from Parquet) vs plain pandas; as_of {as_ofs}; "
            f"times: median of {args.repeat} run(s), fastest-slowest below"
        ),
        caption=(
            f"all = compute_features ({len(FEATURE_NAMES)} features); file = write_features (the same table "
            f"written to Parquet by DuckDB); same = the baseline's {len(FEATURES)} features "
            f"through the same Ibis definitions; pandas = benchmarks/pandas_features.py ({len(FEATURES)} features); "
            f"validate = load_dataset (contract checks), not in the ratios; "
            f"check = baseline (where not run: same), file and same values equal compute_features within {ATOL:g}"
        ),
    )
    columns = (
        "size", "users", "events", "validate (s)", "DuckDB all (s)", "DuckDB file (s)", "DuckDB same (s)",
        "pandas (s)", "pandas / all", "pandas / same", "M events/s all", "M events/s pandas",
        "peak all (GiB)", "peak file (GiB)", "peak same (GiB)", "peak pandas (GiB)", "check",
    )  # fmt: skip
    for col in columns:
        table.add_column(col, justify="right")
    for size, events, _, runs, check in results:
        opened = runs[all_].get("open_seconds")
        table.add_row(
            size.label,
            f"{size.users:,}",
            f"{events:,}",
            "" if opened is None else f"{opened:.2f}",
            *(_time(runs[engine]) for engine in ENGINES),
            _ratio(runs[pd_], runs[all_]),
            _ratio(runs[pd_], runs[same]),
            _rate(events, runs[all_]),
            _rate(events, runs[pd_]),
            *(_peak(runs[engine]) for engine in ENGINES),
            check,
        )
    console.print(table)

    if len(results) > 1:
        growth = Table(title="growth between sizes (linear cost: time grows like events)")
        for col in ("from", "to", "events x", "DuckDB all time x", "DuckDB file time x", "DuckDB same time x", "pandas time x"):
            growth.add_column(col, justify="right")
        for (a, ea, _, ra, _), (b, eb, _, rb, _) in zip(results, results[1:]):
            growth.add_row(
                a.label, b.label, f"{eb / ea:.1f}", *(_ratio(rb[engine], ra[engine]) for engine in ENGINES)
            )
        console.print(growth)
    for problem in problems:
        console.print(f"[red]{problem}[/]", highlight=False)
    if problems:
        raise SystemExit(1)


if __name__ == "__main__":
    main()
