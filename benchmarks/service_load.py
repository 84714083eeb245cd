"""HTTP service load: latency at a fixed rate, the saturation point, and the 1,000-row batch endpoint.

Usage: python -m benchmarks.service_load [--users N] [--seconds S] [--rates R1,R2,...]

Builds a small world in a temporary directory (N simulated users over 243
days, the churn model trained and registered by the real pipeline, the nightly
job's scores and snapshot, the champion imported into a temporary BentoML
home), starts a real server (``python -m bentoml serve
serving.api.service:ChurnService``, one worker) on a loopback port, and loads it
from this process (a second process) with an async httpx client, open loop:
requests leave on a fixed schedule whatever the answers, and latency is
measured from the scheduled time, so a slow server cannot hide its queue.

1. single-user score by id (``/score_users``) at 100 requests/s for S seconds:
   p50, p99, errors. Target: p99 <= 20 ms.
2. the same at increasing rates, S seconds each, until a rate is not held
   (achieved < 98 % of the target, or >= 0.1 % errors; an answer later than
   1 s after its scheduled time is an error): the saturation point is the
   highest rate held.
3. ``/score_features`` with 1,000 feature rows, one request at a time.
Baselines in the same run, in this process without HTTP: the by-id method
of a service instance, and ``score_rows`` on 1,000 rows (what the batch
endpoint runs); ``score_rows`` on one row shows what a single-row
``/score_features`` or ``/score_raw`` call pays for scoring alone.
The load generator shares the machine's cores with the server; on 2 cores it
takes a good part of one.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import json
import os
import re
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

AS_OF = "2025-08-31"
TOKEN = "bench:benchmark-token-000000000001"
TIMEOUT_S = 1.0
CONNECTIONS = 32


@dataclass
class Step:
    label: str
    rate: float
    sent: int
    ok: int
    errors: int
    seconds: float
    p50_ms: float
    p99_ms: float
    server_p50_ms: float = float("nan")  # from the server's access log: time inside the server
    server_p99_ms: float = float("nan")
    client_cpu_ms: float = float("nan")  # CPU time per request of this process (the load generator)
    server_cpu_ms: float = float("nan")  # CPU time per request of the server's processes

    @property
    def achieved(self) -> float:
        return self.ok / self.seconds

    @property
    def error_share(self) -> float:
        return self.errors / self.sent if self.sent else 0.0

    def held(self) -> bool:
        return self.error_share < 0.001 and self.achieved >= 0.98 * self.rate


def _quantile(samples: list[float], q: float) -> float:
    if len(samples) < 2:
        return samples[0] if samples else float("nan")
    return statistics.quantiles(samples, n=1000, method="inclusive")[int(q * 1000) - 1]


def prepare(root: Path, users: int, console) -> dict:
    """Simulate, train, score nightly and import the champion under ``root``; the server's environment."""
    from features.simulator.config import SimulationConfig
    from features.simulator.run import simulate
    from features.validation import load_dataset
    from serving.api.bundle import import_champions
    from serving.batch.nightly import NightlyConfig, run_nightly
    from training.pipeline import TrainConfig, train
    from training.tracking import use_tracking

    with console.status(f"simulating {users:,} users"):
        data = simulate(SimulationConfig(users=users, days=243, seed=11), root / "shop").out
    cwd = os.getcwd()
    os.chdir(root)
    try:
        use_tracking(f"sqlite:///{root / 'mlflow.db'}")
        with console.status("training and registering the churn model"):
            trained = train(load_dataset(data), TrainConfig(as_of=AS_OF, snapshots=2, max_rounds=200, experiment="bench", activation=False))
            if not trained.results[0].decision.promoted:  # a small benchmark world may fail the promotion gate; the service needs a champion
                from training.registry import promote

                promote("churn", trained.results[0].version)
        with console.status("nightly scoring"):
            run_nightly(
                NightlyConfig(data=data, as_of=AS_OF, store=f"duckdb:///{root / 'scores.duckdb'}", features_dir=root / "features",
                              activation_model=None, allow_drift=True),
                scored_at=dt.datetime(2025, 9, 1, 3),
            )  # fmt: skip
        bundle = import_champions("models:/churn@champion", None)  # into BENTOML_HOME, set by main() before BentoML is imported
    finally:
        os.chdir(cwd)
    env = {k: v for k, v in os.environ.items() if not k.startswith("CHURN_API_")}
    env |= {
        "BENTOML_HOME": str(root / "bentoml"),
        "BENTOML_DO_NOT_TRACK": "true",
        "CHURN_API_TOKENS": TOKEN,
        "CHURN_API_STORE": f"duckdb:///{root / 'scores.duckdb'}",
        "CHURN_API_FEATURES_DIR": str(root / "features"),
        "CHURN_API_AUDIT_LOG": str(root / "audit.jsonl"),
        "CHURN_API_MODEL_TAG": bundle.tag,
    }
    return env


def start_server(env: dict, log: Path, timeout: float = 300) -> tuple[subprocess.Popen, str]:
    import httpx

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    command = [sys.executable, "-m", "bentoml", "serve", "serving.api.service:ChurnService", "--host", "127.0.0.1", "--port", str(port)]
    repo = Path(__file__).resolve().parents[1]
    process = subprocess.Popen(command, cwd=repo, env=env, stdout=log.open("w"), stderr=subprocess.STDOUT, start_new_session=True)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"server exited with {process.returncode}:\n{log.read_text()[-2000:]}")
        try:
            if httpx.get(f"{url}/readyz", timeout=2).status_code == 200:
                return process, url
        except httpx.TransportError:
            pass
        time.sleep(0.3)
    stop_server(process)
    raise TimeoutError(f"server not ready in {timeout} s")


_ACCESS = re.compile(r"path=(?P<path>/[^,]+),.*\(status=(?P<status>\d+),.*\) (?P<ms>[\d.]+)ms")


class ServerWatch:
    """The server's CPU time (all its processes) and its access log's durations, read between two points."""

    def __init__(self, process: subprocess.Popen, log: Path) -> None:
        import psutil

        self.root = psutil.Process(process.pid)
        self.log = log
        self._cpu, self._offset = self.cpu(), log.stat().st_size

    def cpu(self) -> float:
        total = 0.0
        for p in [self.root, *self.root.children(recursive=True)]:
            try:
                times = p.cpu_times()
                total += times.user + times.system
            except Exception:  # a process that just ended
                pass
        return total

    def since(self, path: str) -> tuple[float, list[float]]:
        """CPU seconds and the durations (ms) of successful ``path`` requests since the last call."""
        cpu = self.cpu()
        with self.log.open() as f:
            f.seek(self._offset)
            text = f.read()
            self._offset = f.tell()
        found = (_ACCESS.search(line) for line in text.splitlines())
        durations = [float(m["ms"]) for m in found if m and m["path"] == path and m["status"] == "200"]
        used, self._cpu = cpu - self._cpu, cpu
        return used, durations


def stop_server(process: subprocess.Popen) -> None:
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(30)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)


async def open_loop(url: str, path: str, bodies: list[bytes], rate: float, seconds: float, label: str, watch: ServerWatch | None = None) -> Step:
    """Send ``rate`` requests per second for ``seconds`` on a fixed schedule; latency from the scheduled time."""
    import httpx

    if watch is not None:
        watch.since(path)
    cpu_started = time.process_time()

    headers = {"Authorization": f"Bearer {TOKEN.split(':', 1)[1]}", "content-type": "application/json"}
    # A few dozen keep-alive connections: enough for the rates held here, and httpx's pool slows down with hundreds.
    limits = httpx.Limits(max_connections=CONNECTIONS, max_keepalive_connections=CONNECTIONS)
    latencies: list[float] = []
    errors = 0
    total = int(rate * seconds)
    async with httpx.AsyncClient(base_url=url, headers=headers, limits=limits, timeout=TIMEOUT_S) as client:

        # At most CONNECTIONS requests in flight; the others wait here (O(1)) rather than in httpx's pool,
        # whose waiting is slow with thousands of waiters and would make the client, not the server, the limit.
        slots = asyncio.Semaphore(CONNECTIONS)

        async def one(i: int, scheduled: float) -> None:
            nonlocal errors
            try:
                async with slots:
                    response = await client.post(path, content=bodies[i % len(bodies)])
                if response.status_code != 200:
                    errors += 1
                    return
            except httpx.HTTPError:
                errors += 1
                return
            latency = (time.perf_counter() - scheduled) * 1000
            if latency > TIMEOUT_S * 1000:  # answered, but too late: counted as an error
                errors += 1
                return
            latencies.append(latency)

        tasks = []
        start = time.perf_counter() + 0.05
        for i in range(total):
            scheduled = start + i / rate
            delay = scheduled - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)
            tasks.append(asyncio.create_task(one(i, scheduled)))
        await asyncio.gather(*tasks)
        elapsed = max(time.perf_counter() - start, seconds)
    step = Step(label, rate, total, len(latencies), errors, elapsed, _quantile(latencies, 0.5), _quantile(latencies, 0.99))
    step.client_cpu_ms = (time.process_time() - cpu_started) * 1000 / max(total, 1)
    if watch is not None:
        time.sleep(0.5)  # the last access-log lines
        server_cpu, durations = watch.since(path)
        step.server_cpu_ms = server_cpu * 1000 / max(total, 1)
        step.server_p50_ms, step.server_p99_ms = _quantile(durations, 0.5), _quantile(durations, 0.99)
    return step


def sequential(url: str, path: str, body: bytes, calls: int) -> list[float]:
    import httpx

    headers = {"Authorization": f"Bearer {TOKEN.split(':', 1)[1]}", "content-type": "application/json"}
    out = []
    with httpx.Client(base_url=url, headers=headers, timeout=60) as client:
        client.post(path, content=body).raise_for_status()  # warm-up
        for _ in range(calls):
            t0 = time.perf_counter()
            client.post(path, content=body).raise_for_status()
            out.append((time.perf_counter() - t0) * 1000)
    return out


def in_process(features, model, calls: int) -> list[float]:
    from serving.batch.scoring import score_rows

    score_rows(features, model)
    out = []
    for _ in range(calls):
        t0 = time.perf_counter()
        score_rows(features, model)
        out.append((time.perf_counter() - t0) * 1000)
    return out


def in_process_by_id(env: dict, ids: list[int], calls: int) -> list[float]:
    """The by-id endpoint's own work without HTTP: the service method on an instance in this process."""
    from serving.api import schemas as M

    saved = dict(os.environ)
    os.environ.update(env)
    try:
        import serving.api.service as service

        instance = service.ChurnService.inner()
        while not instance.ready():
            time.sleep(0.05)
        method = service.ChurnService.inner.score_users.func
        requests = [M.ScoreByIdRequest(user_ids=[u]) for u in ids[:calls]]

        async def run() -> list[float]:
            out = []
            for request in requests:
                t0 = time.perf_counter()
                (await method(instance, request)).model_dump_json()
                out.append((time.perf_counter() - t0) * 1000)
            return out

        return asyncio.run(run())
    finally:
        os.environ.clear()
        os.environ.update(saved)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--users", type=int, default=3000, help="simulated users (the snapshot holds the churn population)")
    parser.add_argument("--seconds", type=float, default=30.0, help="duration of each fixed-rate step")
    parser.add_argument("--rates", default="100,150,200,250,300,400,500,600,800", help="rates of the step-up, requests/s")
    parser.add_argument("--batch-calls", type=int, default=20, help="sequential calls of the 1,000-row batch")
    args = parser.parse_args(argv)
    os.environ.setdefault("BENTOML_DO_NOT_TRACK", "true")
    os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")

    import numpy as np
    from rich.console import Console
    from rich.table import Table

    console = Console(width=max(Console().width, 160))
    load_before = ", ".join(f"{x:.1f}" for x in os.getloadavg())
    with tempfile.TemporaryDirectory(prefix="service-load-") as tmp:
        root = Path(tmp)
        os.environ["BENTOML_HOME"] = str(root / "bentoml")  # this process's BentoML store too (the in-process baseline)
        env = prepare(root, args.users, console)
        from serving.api.bundle import latest_bundle, load_bundle
        from serving.batch.snapshots import FeatureSnapshots

        _, snapshot = FeatureSnapshots(root / "features").latest("churn")
        model = load_bundle(latest_bundle())["churn"].model
        ids = [int(u) for u in snapshot["user_id"]]
        rng = np.random.default_rng(0)
        single = [json.dumps({"user_ids": [int(u)]}).encode() for u in rng.choice(ids, 5000)]
        rows = snapshot.sample(1000, replace=len(snapshot) < 1000, random_state=0).drop_duplicates("user_id")
        records = rows.astype(object).where(rows.notna(), None).to_dict("records")
        batch = json.dumps({"as_of": AS_OF, "rows": records}, default=str).encode()

        with console.status("starting the server"):
            started = time.perf_counter()
            process, url = start_server(env, root / "server.log")
            start_seconds = time.perf_counter() - started
        watch = ServerWatch(process, root / "server.log")
        try:
            with console.status(f"single-user score at 100 requests/s for {args.seconds:.0f} s"):
                asyncio.run(open_loop(url, "/score_users", single, 100, 5, "warm-up"))
                fixed = asyncio.run(open_loop(url, "/score_users", single, 100, args.seconds, "100/s", watch))
            steps: list[Step] = []
            for rate in (float(r) for r in args.rates.split(",")):
                with console.status(f"step-up: {rate:.0f} requests/s for {args.seconds:.0f} s"):
                    step = asyncio.run(open_loop(url, "/score_users", single, rate, args.seconds, f"{rate:.0f}/s", watch))
                steps.append(step)
                if not step.held():
                    break
            with console.status("batch of 1,000 feature rows"):
                batch_ms = sequential(url, "/score_features", batch, args.batch_calls)
        finally:
            stop_server(process)
        with console.status("baselines in this process"):
            lib_by_id = in_process_by_id(env, ids * 3, 2000)
            lib_single = in_process(snapshot.head(1), model, 200)
            lib_batch = in_process(rows, model, max(5, args.batch_calls))

    table = Table(title=f"HTTP service load ({args.users:,} simulated users, {len(snapshot):,} in the snapshot; server ready in {start_seconds:.0f} s)")
    columns = ("measurement", "rate /s", "sent", "achieved /s", "errors", "p50 ms", "p99 ms", "server p50/p99 ms",
               "CPU ms/req client, server", "held", "p50 vs library")  # fmt: skip
    for col in columns:
        table.add_column(col, justify="right")
    lib_p50 = statistics.median(lib_by_id)
    for step in [fixed, *steps]:
        name = "single user by id, fixed rate" if step is fixed else "single user by id, step-up"
        table.add_row(
            name, f"{step.rate:.0f}", f"{step.sent:,}", f"{step.achieved:.0f}", f"{step.errors} ({step.error_share:.2%})",
            f"{step.p50_ms:.1f}", f"{step.p99_ms:.1f}", f"{step.server_p50_ms:.1f} / {step.server_p99_ms:.1f}",
            f"{step.client_cpu_ms:.1f}, {step.server_cpu_ms:.1f}", "yes" if step.held() else "no", f"{step.p50_ms / lib_p50:.2f}x",
        )  # fmt: skip
    table.add_row("same in process, no HTTP (baseline)", "", f"{len(lib_by_id):,}", "", "", f"{lib_p50:.2f}", f"{_quantile(lib_by_id, 0.99):.2f}", "", "", "", "1.00x")
    table.add_row("library score_rows, 1 row", "", f"{len(lib_single)}", "", "", f"{statistics.median(lib_single):.1f}",
                  f"{_quantile(lib_single, 0.99):.1f}", "", "", "", "")  # fmt: skip
    b50, b99 = statistics.median(batch_ms), _quantile(batch_ms, 0.99)
    l50 = statistics.median(lib_batch)
    table.add_row(f"batch {len(rows):,} rows (/score_features)", "", f"{len(batch_ms)}", f"{len(rows) / b50 * 1000:,.0f} rows", "0",
                  f"{b50:.0f}", f"{b99:.0f}", "", "", "", f"{b50 / l50:.2f}x")  # fmt: skip
    table.add_row(f"library score_rows, {len(rows):,} rows", "", f"{len(lib_batch)}", f"{len(rows) / l50 * 1000:,.0f} rows", "",
                  f"{l50:.0f}", f"{_quantile(lib_batch, 0.99):.0f}", "", "", "", "1.00x")  # fmt: skip
    console.print(table)
    load = ", ".join(f"{x:.1f}" for x in os.getloadavg())
    console.print(f"load average (1, 5, 15 min) before: {load_before}; after: {load}; {os.cpu_count()} cores shared by the server and this client")
    held = [s for s in steps if s.held()]
    saturation = f"{held[-1].rate:.0f} requests/s" if held else "below the first step"
    verdict = "met" if fixed.p99_ms <= 20 and fixed.held() else "MISSED"
    console.print(f"single-user p99 at 100/s: {fixed.p99_ms:.1f} ms (target <= 20 ms: {verdict}); saturation point: {saturation}")


if __name__ == "__main__":
    main()
