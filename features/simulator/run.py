"""Running a simulation: chunks of users, written table by table as they finish."""

from __future__ import annotations

import datetime as dt
import json
import shutil
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from features import contract as C
from features.errors import ConfigError
from features.simulator import engine, population, truth, world
from features.simulator.config import COUPON_VALID_DAYS, HORIZON_DAYS, SimulationConfig
from features.simulator.emit import DAY_US, SCHEMAS, IdCounters, emit_chunk

TRUTH_DIR = "truth"
TRUTH_CHURN = "churn"
TRUTH_COUPON_EFFECT = "coupon_effect"
TRUTH_USERS = "users"
MANIFEST = "simulation.json"
# Bumped whenever the simulated behaviour changes, so that a cached dataset is not reused by mistake.
SIMULATOR_VERSION = 4

# Ground-truth column names (not part of the data contract).
AS_OF = "as_of"
P_CHURN = "p_churn"
EFFECT = "effect"
UPLIFT_TYPE = "uplift_type"

TRUTH_SCHEMAS = {
    TRUTH_CHURN: pa.schema([(C.Users.USER_ID, pa.int64()), (AS_OF, pa.date32()), (P_CHURN, pa.float64())]),
    TRUTH_COUPON_EFFECT: pa.schema([(C.Users.USER_ID, pa.int64()), (AS_OF, pa.date32()), (EFFECT, pa.float64())]),
    TRUTH_USERS: pa.schema([(C.Users.USER_ID, pa.int64()), (UPLIFT_TYPE, pa.string())]),
}


@dataclass(frozen=True)
class SimulationResult:
    out: Path
    rows: dict[str, int]
    truth_dates: tuple[dt.date, ...]


def truth_days(config: SimulationConfig) -> list[int]:
    """Day numbers of the month-ends whose next HORIZON_DAYS days are inside the window."""
    out = []
    for t in range(config.days - HORIZON_DAYS):
        d = config.start + dt.timedelta(days=t)
        if (d + dt.timedelta(days=1)).day == 1:
            out.append(t)
    return out


class _Writers:
    """One Parquet writer per table; each chunk becomes a row group."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self._writers: dict[str, pq.ParquetWriter] = {}
        self.rows: dict[str, int] = {}

    def write(self, name: str, table: pa.Table, schema: pa.Schema) -> None:
        if name not in self._writers:
            path = self.root / f"{name}.parquet"
            path.parent.mkdir(parents=True, exist_ok=True)
            self._writers[name] = pq.ParquetWriter(path, schema, compression="zstd")
            self.rows[name] = 0
        self._writers[name].write_table(table, row_group_size=1_000_000)
        self.rows[name] += table.num_rows

    def close(self) -> None:
        for w in self._writers.values():
            w.close()


def _simulate_chunk(
    config: SimulationConfig,
    index: int,
    n: int,
    calendar: world.Calendar,
    campaigns: tuple[world.Campaign, ...],
    ids: IdCounters,
    on_day: Callable[[int], None],
) -> tuple[dict[str, pa.Table], dict[str, pa.Table]]:
    rng = np.random.default_rng([config.seed, index])
    pop = population.draw_population(rng, n, config.days)
    state = population.initial_state(rng, pop)
    plan = engine.draw_coupon_plan(rng, pop, campaigns, config.days)
    first_user_id = 1 + index * config.chunk_users
    user_ids = first_user_id + np.arange(n, dtype=np.int64)
    ends = set(truth_days(config))
    churn_parts: list[pa.Table] = []
    effect_parts: list[pa.Table] = []

    def on_day_end(t: int, state: population.State) -> None:
        on_day(n)
        if t not in ends:
            return
        alive = np.flatnonzero(pop.signup_day <= t)
        window = slice(t + 1, t + 1 + HORIZON_DAYS)
        p, effect = truth.churn_and_coupon_effect(
            pop.take(alive),
            state.take(alive),
            t + 1,
            calendar.orders[window],
            plan.active[alive, window],
            plan.issued[alive, window],
            COUPON_VALID_DAYS,
        )
        as_of = pa.array(np.full(len(alive), np.datetime64(config.start, "D") + t)).cast(pa.date32())
        ids_ = pa.array(user_ids[alive])
        churn_parts.append(pa.table([ids_, as_of, pa.array(p)], schema=TRUTH_SCHEMAS[TRUTH_CHURN]))
        effect_parts.append(pa.table([ids_, as_of, pa.array(effect)], schema=TRUTH_SCHEMAS[TRUTH_COUPON_EFFECT]))

    hist = engine.run_chunk(rng, pop, state, calendar, plan, on_day_end)
    day0_us = (config.start - dt.date(1970, 1, 1)).days * DAY_US
    tables = emit_chunk(rng, first_user_id, day0_us, pop, hist, plan, calendar, campaigns, ids)
    hidden = pa.table(
        [pa.array(user_ids), pa.array(np.asarray(world.UPLIFT_TYPES)[pop.uplift])], schema=TRUTH_SCHEMAS[TRUTH_USERS]
    )
    truths = {
        TRUTH_CHURN: pa.concat_tables(churn_parts) if churn_parts else TRUTH_SCHEMAS[TRUTH_CHURN].empty_table(),
        TRUTH_COUPON_EFFECT: pa.concat_tables(effect_parts) if effect_parts else TRUTH_SCHEMAS[TRUTH_COUPON_EFFECT].empty_table(),
        TRUTH_USERS: hidden,
    }
    return tables, truths


def simulate(
    config: SimulationConfig,
    out: Path,
    *,
    overwrite: bool = False,
    progress: Callable[[int], None] | None = None,
) -> SimulationResult:
    """Simulate ``config`` and write the dataset to ``out``.

    Files appear only when complete: everything is written to a sibling
    temporary directory that replaces ``out`` at the end. ``progress(k)`` is
    called with the number of user-days just simulated (total users * days).
    """
    out = Path(out)
    if out.exists() and any(out.iterdir()) and not overwrite:
        raise ConfigError(f"--out {out} exists and is not empty; pass --overwrite to replace it")
    tmp = out.parent / f".{out.name}.partial"
    if tmp.exists():
        shutil.rmtree(tmp)
    tmp.mkdir(parents=True)
    calendar = world.build_calendar(config.start, config.days)
    campaigns = world.build_campaigns(config.start, config.days)
    data = _Writers(tmp)
    truths = _Writers(tmp / TRUTH_DIR)
    ids = IdCounters()
    try:
        for index, first in enumerate(range(0, config.users, config.chunk_users)):
            n = min(config.chunk_users, config.users - first)
            tables, truth_tables = _simulate_chunk(
                config, index, n, calendar, campaigns, ids, progress or (lambda k: None)
            )
            for name, table in tables.items():
                data.write(name, table, SCHEMAS[name])
            for name, table in truth_tables.items():
                truths.write(name, table, TRUTH_SCHEMAS[name])
    except BaseException:
        data.close()
        truths.close()
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    data.close()
    truths.close()
    dates = tuple(config.start + dt.timedelta(days=t) for t in truth_days(config))
    manifest = {
        "simulator_version": SIMULATOR_VERSION,
        "config": json.loads(config.model_dump_json()),
        "rows": data.rows,
        "truth_dates": [d.isoformat() for d in dates],
        "horizon_days": HORIZON_DAYS,
    }
    (tmp / MANIFEST).write_text(json.dumps(manifest, indent=2) + "\n")
    if out.exists():
        shutil.rmtree(out)
    tmp.rename(out)
    return SimulationResult(out=out, rows=dict(data.rows), truth_dates=dates)
