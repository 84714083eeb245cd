"""Simulator benchmark: time and peak memory by size, against a per-user loop baseline.

Usage: python -m benchmarks.simulator [--size small|default|large]
  small:   5k users x 365 days
  default: + 100k users x 180 days
  large:   + 1M users x 180 days (about 4 minutes, 2 GB)

Each size runs in a fresh process so that its peak memory is its own. The
baseline steps the same model one user at a time (a Python loop per user per
day) on a sample of users; the ratio compares simulated user-days per second.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

SIZES = {
    "small": [(5_000, 365)],
    "default": [(5_000, 365), (100_000, 180)],
    "large": [(5_000, 365), (100_000, 180), (1_000_000, 180)],
}
BASELINE_USERS = 40
BASELINE_DAYS = 180


def _one_run(users: int, days: int) -> dict:
    """Simulate in this process and report time, rows and peak memory."""
    import resource

    from features.simulator.config import SimulationConfig
    from features.simulator.run import simulate

    with tempfile.TemporaryDirectory() as tmp:
        started = time.perf_counter()
        result = simulate(SimulationConfig(users=users, days=days, seed=1), Path(tmp) / "data")
        seconds = time.perf_counter() - started
        size = sum(p.stat().st_size for p in result.out.rglob("*") if p.is_file())
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    return {"users": users, "days": days, "seconds": seconds, "rows": result.rows, "peak_bytes": peak, "bytes": size}


def _baseline(users: int, days: int) -> float:
    """User-days per second when the same model is stepped one user at a time."""
    import numpy as np

    from features.simulator import engine, population, world

    rng = np.random.default_rng(1)
    pop = population.draw_population(rng, users, days)
    state = population.initial_state(rng, pop)
    calendar = world.build_calendar(dt.date(2025, 1, 1), days)
    plan = engine.draw_coupon_plan(rng, pop, world.build_campaigns(dt.date(2025, 1, 1), days), days)
    started = time.perf_counter()
    for i in range(users):
        one, s = pop.take(np.array([i])), state.take(np.array([i]))
        for t in range(days):
            engine.step_day(rng, one, s, t, calendar, plan.issued[i : i + 1, t], plan.active[i : i + 1, t])
    return users * days / (time.perf_counter() - started)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", choices=sorted(SIZES), default="default")
    parser.add_argument("--one", nargs=2, type=int, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.one:
        print(json.dumps(_one_run(*args.one)))
        return

    from rich.console import Console
    from rich.table import Table

    console = Console(width=max(Console().width, 130))
    with console.status("baseline: one user at a time"):
        baseline = _baseline(BASELINE_USERS, BASELINE_DAYS)
    table = Table(title=f"simulator (baseline: per-user loop, {baseline:,.0f} user-days/s)")
    for col in ("users", "days", "time", "user-days/s", "x baseline", "events", "orders", "peak memory", "on disk"):
        table.add_column(col, justify="right")
    for users, days in SIZES[args.size]:
        with console.status(f"simulating {users:,} users x {days} days"):
            run = subprocess.run(
                [sys.executable, "-m", "benchmarks.simulator", "--one", str(users), str(days)],
                check=True,
                capture_output=True,
                text=True,
            )
        r = json.loads(run.stdout.strip().splitlines()[-1])
        rate = users * days / r["seconds"]
        table.add_row(
            f"{users:,}",
            str(days),
            f"{r['seconds']:.1f} s",
            f"{rate:,.0f}",
            f"{rate / baseline:,.0f}",
            f"{r['rows']['events']:,}",
            f"{r['rows']['orders']:,}",
            f"{r['peak_bytes'] / 2**30:.2f} GiB",
            f"{r['bytes'] / 2**20:,.0f} MiB",
        )
    console.print(table)


if __name__ == "__main__":
    main()
