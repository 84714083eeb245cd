"""Online feature latency: one user's raw rows -> the feature row, as the API will call it.

Usage: python -m benchmarks.online_features [--calls N] [--users U]

Compares, in the same run and on the same users:
  compiled: features.online.OnlineFeatures (SQL compiled once, cutoff as a parameter);
  baseline: the straightforward way, building the Ibis expression over the
            request's rows and executing it on DuckDB for every call.
Prints p50/p90/p99 latency, the p50 of the CPU time of the calling thread
(what a call costs when the machine is not shared: wall time also counts the
time other processes hold the cores) and the ratio. Target: <= 20 ms for one user.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

AS_OF = "2025-05-31"


def _percentiles(samples: list[float]) -> tuple[float, float, float]:
    q = statistics.quantiles(samples, n=100, method="inclusive")
    return q[49], q[89], q[98]


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=200, help="timed calls per method")
    parser.add_argument("--users", type=int, default=2000, help="users in the simulated dataset")
    args = parser.parse_args(argv)

    from rich.console import Console
    from rich.table import Table

    from features.build import compute_features, memtables
    from features.catalog import USER_ID
    from features.online import OnlineFeatures
    from features.simulator.config import SimulationConfig
    from features.simulator.run import simulate
    from features.validation import load_dataset

    console = Console(width=max(Console().width, 110))
    with tempfile.TemporaryDirectory() as tmp, console.status("simulating a dataset"):
        out = simulate(SimulationConfig(users=args.users, days=180, seed=3), Path(tmp) / "data").out
        ds = load_dataset(out)
        tables = {name: ds.table(name) for name in ds.tables}
        batch = compute_features(tables, AS_OF)
        # Typical and heavy users: the median and the 99th percentile by events in 90 days.
        ordered = batch.sort_values("events_90d")[USER_ID].tolist()
        picks = {"median user": ordered[len(ordered) // 2], "heavy user (p99)": ordered[int(len(ordered) * 0.99)]}
        requests = {
            label: {name: t.filter(t[USER_ID] == user).to_pandas() for name, t in tables.items()}
            for label, user in picks.items()
        }
    started = time.perf_counter()
    online = OnlineFeatures({name: t.schema() for name, t in tables.items()})
    compile_ms = (time.perf_counter() - started) * 1000

    table = Table(title=f"online features for one user ({args.calls} calls each; compile once: {compile_ms:.0f} ms)")
    for col in ("request", "rows", "method", "p50 ms", "p90 ms", "p99 ms", "cpu p50 ms", "baseline / compiled (p50)"):
        table.add_column(col, justify="right")
    for label, frames in requests.items():
        rows = sum(len(f) for f in frames.values())
        online.compute(frames, AS_OF)  # warm-up
        compiled, compiled_cpu = [], []
        for _ in range(args.calls):
            t0, c0 = time.perf_counter(), time.thread_time()
            online.compute(frames, AS_OF)
            compiled.append((time.perf_counter() - t0) * 1000)
            compiled_cpu.append((time.thread_time() - c0) * 1000)
        baseline, baseline_cpu = [], []
        for _ in range(max(10, args.calls // 10)):
            t0, c0 = time.perf_counter(), time.thread_time()
            compute_features(memtables(frames), AS_OF)
            baseline.append((time.perf_counter() - t0) * 1000)
            baseline_cpu.append((time.thread_time() - c0) * 1000)
        c, b = _percentiles(compiled), _percentiles(baseline)
        c_cpu, b_cpu = statistics.median(compiled_cpu), statistics.median(baseline_cpu)
        table.add_row(label, f"{rows:,}", "compiled", *(f"{x:.1f}" for x in c), f"{c_cpu:.1f}", "")
        table.add_row("", "", "baseline", *(f"{x:.1f}" for x in b), f"{b_cpu:.1f}", f"{b[0] / c[0]:.1f}x")
    console.print(table)


if __name__ == "__main__":
    main()
