"""Scoring benchmark: nightly churn scoring of N users end to end, against a bare booster.predict.

Usage: python -m benchmarks.scoring [--users N] [--train-users U] [--cache DIR] [--repeat R] [--explain-share S]

1. Simulates U users over 2025 (default 20,000; cached under ``--cache``, the
   same dataset as benchmarks.training), fits the churn model (ChurnClassifier
   defaults) on three monthly snapshots ending 2025-11-30, and computes the
   features of the churn population at 2025-12-30 (the real rows).
2. Builds a frame of N users (default 1,000,000) by drawing the real rows with
   replacement: new user ids 1..N, float features jittered by 1 % so that the
   users are not exact copies (integer counts and categories as drawn).
3. Times, one after the other in this process, on the same N users:
     bare predict: booster.predict on the model's matrix of the users, the
                   baseline (what any scoring costs);
     score_frame:  probabilities, contributions (LightGBM pred_contrib) and
                   reasons of the riskiest share (``--explain-share``, default
                   the nightly job's NIGHTLY_EXPLAIN_SHARE), bands, percentiles,
                   sorted; with where its time goes, each function's own time
                   (without the listed functions it calls);
     publish:      ScoreStore("duckdb:///TMP/scores.duckdb").publish(scores),
                   one transaction, as the nightly job does;
     Parquet:      the nightly job's export of the scores (features.files.write_frame);
     on demand:    reasons for a list of 10,000 users the night did not explain
                   (serving.batch.contributions.ReasonsOnDemand.fill), what a list
                   beyond the explained share costs when it is pulled.
   Each step runs ``--repeat`` times (default 1); the table shows medians.
   Peak memory is the process's peak resident set during each step (Linux
   ``VmHWM``, reset before the step), so it includes what earlier steps hold.
Target: 1M users end to end (score_frame + publish + Parquet export) within 60 s on 2 cores,
and at most 8 times the bare predict of the same run.
The machine's load average is printed: other work on the machine slows every step.
"""

from __future__ import annotations

import argparse
import datetime as dt
import gc
import os
import tempfile
import time
from collections import defaultdict
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

DEFAULT_USERS = 1_000_000
DEFAULT_TRAIN_USERS = 20_000
DEFAULT_CACHE = Path(__file__).resolve().parent / ".cache"
DAYS, SEED = 365, 0  # as benchmarks.training, so both use one cached dataset
TRAIN_UNTIL = "2025-11-30"  # last training snapshot; labels need the 30 days after it
AS_OF = "2025-12-30"  # the scoring date: the day before the data ends
JITTER = 0.01
TARGET_SECONDS = 60.0
TARGET_RATIO = 8.0
TARGET_USERS = 1_000_000
ON_DEMAND_USERS = 10_000


def _peak_rss() -> int | None:
    """This process's peak resident memory in bytes since the last :func:`_reset_peak` (None off Linux)."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) * 1024
    except OSError:
        pass
    return None


def _reset_peak() -> None:
    """Restart the peak at the current resident size (Linux: ``5`` to ``/proc/self/clear_refs``)."""
    try:
        Path("/proc/self/clear_refs").write_text("5")
    except OSError:
        pass


class _OwnTime:
    """Each wrapped function's own time: a call's duration minus that of the wrapped functions it calls.

    ``seconds``: wall-clock time; ``cpu``: this process's CPU time over all its threads.
    """

    def __init__(self) -> None:
        self.seconds: dict[str, float] = defaultdict(float)
        self.cpu: dict[str, float] = defaultdict(float)
        self.calls: dict[str, int] = defaultdict(int)
        self._inner: list[list[float]] = []

    def wrap(self, name: str, fn: Callable) -> Callable:
        def timed(*args, **kwargs):
            self._inner.append([0.0, 0.0])
            started, cpu = time.perf_counter(), time.process_time()
            try:
                return fn(*args, **kwargs)
            finally:
                took, took_cpu = time.perf_counter() - started, time.process_time() - cpu
                inner, inner_cpu = self._inner.pop()
                self.seconds[name] += took - inner
                self.cpu[name] += took_cpu - inner_cpu
                self.calls[name] += 1
                if self._inner:
                    self._inner[-1][0] += took
                    self._inner[-1][1] += took_cpu

        return timed


@contextmanager
def _instrumented(model, own: _OwnTime) -> Iterator[None]:
    """Time score_frame's parts while it runs: the model's methods and the scoring module's functions."""
    import serving.batch.scoring as scoring

    module = {name: getattr(scoring, name) for name in ("score_rows", "reasons", "finish_scores")}
    for name, fn in module.items():
        setattr(scoring, name, own.wrap(name, fn))
    for name in ("matrix", "predict_proba", "contributions"):
        setattr(model, name, own.wrap(name, getattr(model, name)))  # instance attributes shadow the methods
    try:
        yield
    finally:
        for name, fn in module.items():
            setattr(scoring, name, fn)
        for name in ("matrix", "predict_proba", "contributions"):
            delattr(model, name)


@dataclass
class _Step:
    label: str
    seconds: float
    cpu: float  # CPU seconds of this process, all threads
    peak: int | None = None  # bytes
    output: str = ""


def _step(label: str, fn: Callable[[], object], repeat: int = 1) -> tuple[object, _Step]:
    """Run ``fn`` ``repeat`` times: its last result, the median time and CPU time, the highest peak resident bytes."""
    import statistics

    seconds, cpus, peaks, result = [], [], [], None
    for _ in range(repeat):
        result = None
        gc.collect()
        _reset_peak()
        started, cpu = time.perf_counter(), time.process_time()
        result = fn()
        seconds.append(time.perf_counter() - started)
        cpus.append(time.process_time() - cpu)
        peaks.append(_peak_rss())
    peak = max((p for p in peaks if p is not None), default=None)
    return result, _Step(label, statistics.median(seconds), statistics.median(cpus), peak)


def _population(train_users: int, cache: Path, console):
    """The fitted model and the real feature rows of the churn population at ``AS_OF``."""
    from features.build import compute_features
    from features.labels import churn_population, training_set
    from features.simulator.config import SimulationConfig
    from features.simulator.run import MANIFEST, simulate
    from features.validation import load_dataset
    from training.estimator import ChurnClassifier

    data = cache / f"training-users{train_users}-days{DAYS}-seed{SEED}"
    if not (data / MANIFEST).exists():
        with console.status(f"simulating {train_users:,} users x {DAYS} days (once; cached in {cache})"):
            simulate(SimulationConfig(users=train_users, days=DAYS, seed=SEED), data, overwrite=True)
    dataset = load_dataset(data)
    tables = {name: dataset.table(name) for name in dataset.tables}
    with console.status("fitting the churn model"):
        train = training_set(tables, TRAIN_UNTIL, snapshots=3, every_days=30)
        model = ChurnClassifier().fit(train, train["label"], groups=train["as_of"])
    with console.status(f"features of the churn population at {AS_OF}"):
        features = compute_features(tables, AS_OF, users=churn_population(tables, AS_OF))
    return model, features, len(train)


def _resample(features, users: int):
    """``users`` rows drawn from ``features`` with replacement: new ids 1..users, float features jittered."""
    import numpy as np

    from features.catalog import USER_ID

    rng = np.random.default_rng(SEED)
    out = features.iloc[rng.integers(0, len(features), users)].reset_index(drop=True)
    out[USER_ID] = np.arange(1, users + 1, dtype=features[USER_ID].dtype)
    floats = [c for c in out.columns if c != USER_ID and out[c].dtype == np.float64]
    out[floats] = out[floats].to_numpy() * rng.normal(1.0, JITTER, size=(users, len(floats)))
    return out


def _tree_shape(booster, iterations: int) -> tuple[int, int]:
    """Mean leaves and maximum depth of the first ``iterations`` trees."""

    def depth(node: dict) -> int:
        return 0 if "leaf_index" in node else 1 + max(depth(node["left_child"]), depth(node["right_child"]))

    trees = booster.dump_model(num_iteration=iterations)["tree_info"]
    return round(sum(t["num_leaves"] for t in trees) / len(trees)), max(depth(t["tree_structure"]) for t in trees)


def _gib(n: int | None) -> str:
    return "" if n is None else f"{n / 2**30:.2f}"


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--users", type=int, default=DEFAULT_USERS, help="users scored (default: %(default)s)")
    parser.add_argument("--train-users", type=int, default=DEFAULT_TRAIN_USERS, help="users simulated to fit the model (default: %(default)s)")
    parser.add_argument("--cache", type=Path, default=DEFAULT_CACHE, help="where the simulated dataset is kept (default: %(default)s)")
    parser.add_argument("--repeat", type=int, default=1, help="runs of each timed step; medians are shown (default: %(default)s)")
    parser.add_argument("--explain-share", type=float, default=None, help="riskiest share explained by score_frame (default: the nightly job's)")
    args = parser.parse_args(argv)
    if args.users < 1:
        parser.error("--users must be at least 1")
    if args.repeat < 1:
        parser.error("--repeat must be at least 1")

    from rich.console import Console
    from rich.table import Table

    from features.files import write_frame
    from serving.batch.contributions import ReasonsOnDemand, unexplained
    from serving.batch.scoring import NIGHTLY_EXPLAIN_SHARE, score_frame
    from serving.batch.store import ScoreStore

    share = NIGHTLY_EXPLAIN_SHARE if args.explain_share is None else args.explain_share
    repeat = args.repeat

    console = Console(width=max(Console().width, 150))
    load_before = os.getloadavg()
    started = time.perf_counter()
    model, real, train_rows = _population(args.train_users, args.cache, console)
    with console.status(f"drawing {args.users:,} users from {len(real):,} real rows"):
        features = _resample(real, args.users)
    prepared = time.perf_counter() - started
    n = len(features)
    iterations = model.best_iteration_
    leaves, depth = _tree_shape(model.booster_, iterations)

    with console.status("bare booster.predict"):
        matrix = model.matrix(features)
        _, bare = _step("bare booster.predict (baseline)", lambda: model.booster_.predict(matrix, num_iteration=iterations), repeat)
        del matrix

    own = _OwnTime()
    scored_at = dt.datetime(2025, 12, 31, 2, 0)
    with console.status(f"score_frame on {n:,} users, reasons for the riskiest {share:.0%}"), _instrumented(model, own):
        scores, scoring = _step(
            f"score_frame (reasons for the riskiest {share:.0%})",
            lambda: score_frame(features, model, as_of=AS_OF, model_name="churn", model_version="1", scored_at=scored_at, explain_share=share),
            repeat,
        )
    for name in list(own.seconds):  # the parts' medians: their totals over the runs, per run
        own.seconds[name] /= repeat
        own.cpu[name] /= repeat
        own.calls[name] //= repeat
    if len(scores) != n:
        raise SystemExit(f"score_frame returned {len(scores):,} rows for {n:,} users")

    with tempfile.TemporaryDirectory() as tmp:
        store = ScoreStore(f"duckdb:///{tmp}/scores.duckdb")
        with console.status("publishing to the DuckDB score store"):
            written, publish = _step("publish to the DuckDB score store", lambda: store.publish(scores), repeat)
        if written != n:
            raise SystemExit(f"the store wrote {written:,} rows for {n:,} users")
        publish.output = f"{(Path(tmp) / 'scores.duckdb').stat().st_size / 2**20:,.0f} MiB"
        export = Path(tmp) / "scores.parquet"
        with console.status("Parquet export"):
            _, parquet = _step("Parquet export (write_frame)", lambda: write_frame(scores, export), repeat)
        parquet.output = f"{export.stat().st_size / 2**20:,.0f} MiB"
    listed = scores.iloc[unexplained(scores)[:ON_DEMAND_USERS]]
    with console.status(f"reasons on demand for {len(listed):,} listed users"):
        _, demand = _step(
            f"on demand: reasons for a list of {len(listed):,} unexplained users",
            lambda: ReasonsOnDemand(features, model, dt.date.fromisoformat(AS_OF)).fill(listed),
            repeat,
        )
    explained_rows = int(len(scores) - len(unexplained(scores)))
    load_after = os.getloadavg()

    parts = [
        _Step(f"  {label}", own.seconds[name], own.cpu[name])
        for name, label in (
            ("matrix", f"model.matrix ({own.calls['matrix']} calls)"),
            ("predict_proba", "booster.predict + calibration"),
            ("contributions", "pred_contrib (contributions)"),
            ("reasons", "reasons"),
            ("score_rows", "score_rows, the rest (text columns)"),
            ("finish_scores", "finish_scores (sort, bands, percentiles)"),
        )
    ]
    written = _Step("total: score_frame + publish", scoring.seconds + publish.seconds, scoring.cpu + publish.cpu)
    everything = _Step("end to end: score_frame + publish + Parquet", written.seconds + parquet.seconds, written.cpu + parquet.cpu)
    table = Table(
        title=f"nightly scoring of {n:,} users (drawn from {len(real):,} real rows), {os.cpu_count()} cores",
        caption=(
            f"model: {len(model.features_)} features, {iterations} trees, {leaves} leaves, depth <= {depth} "
            f"(fitted on {train_rows:,} snapshot rows). score_frame's parts: each function's own time. "
            f"cores used: CPU seconds / seconds (at most {os.cpu_count()}; less when other work shares the machine). "
            f"peak: the process's resident set during the step. "
            f"Load average (1 min) {load_before[0]:.1f} before, {load_after[0]:.1f} after. "
            f"Preparation (simulation cache, fit, features, drawing) {prepared:.0f} s, not timed below. "
            f"Medians of {repeat} run(s) per step; {explained_rows:,} users explained by score_frame."
        ),
    )
    for col in ("step", "seconds", "rows/s", "x bare predict", "share of score_frame", "CPU s", "cores used", "peak (GiB)", "output"):
        table.add_column(col, justify="left" if col == "step" else "right")
    for step in (bare, scoring, *parts, publish, parquet, written, everything, demand):
        table.add_row(
            step.label,
            f"{step.seconds:.2f}",
            f"{n / step.seconds:,.0f}" if step.seconds > 0 else "",
            f"{step.seconds / bare.seconds:,.1f}",
            f"{step.seconds / scoring.seconds:.0%}" if step in parts else "",
            f"{step.cpu:.2f}",
            f"{step.cpu / step.seconds:.1f}" if step.seconds > 0 else "",
            _gib(step.peak),
            step.output,
        )
    console.print(table)

    contrib = parts[2]
    console.print(
        f"pred_contrib: {contrib.seconds:.1f} s ({contrib.cpu:.1f} CPU s), {contrib.seconds / scoring.seconds:.0%} of score_frame, "
        f"{contrib.seconds / bare.seconds:,.0f} x the bare predict of the same users ({n / contrib.seconds:,.0f} rows/s); "
        f"reasons: {parts[3].seconds:.1f} s.",
        highlight=False,
    )
    ratio = everything.seconds / bare.seconds
    if n == TARGET_USERS:
        verdict = "met" if everything.seconds <= TARGET_SECONDS and ratio <= TARGET_RATIO else "NOT met"
        console.print(
            f"target: {TARGET_USERS:,} users end to end within {TARGET_SECONDS:.0f} s and {TARGET_RATIO:.0f}x the bare predict: "
            f"{verdict} ({everything.seconds:.1f} s, {ratio:.1f}x)",
            highlight=False,
        )
    else:
        console.print(
            f"target ({TARGET_USERS:,} users within {TARGET_SECONDS:.0f} s, {TARGET_RATIO:.0f}x) is checked at --users {TARGET_USERS}; "
            f"here {everything.seconds:.1f} s for {n:,} ({ratio:.1f}x the bare predict)",
            highlight=False,
        )


if __name__ == "__main__":
    main()
