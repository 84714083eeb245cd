"""Realism checks of a simulated dataset, measured on the files it wrote.

Targets (from the behaviour of real platforms):
* at least 40 % of buyers have a single purchase in the window;
* of the users who bought in the 90 days before a month-end, 25-50 % do not
  buy in the next 30 days;
* order amounts are heavy-tailed (99th percentile >= 5x the median) and differ
  by category (largest category median >= 3x the smallest);
* at least 5 % of the users sign up in every full calendar month of the window;
* the measures of :mod:`features.simulator.difficulty` at the last three
  month-ends: recency-only ROC-AUC 0.62-0.75, true-probability ROC-AUC at most
  0.90, 30-day return of 90-day-dormant buyers 2-6 % (the churn rate is
  reported, without a target);
* optionally (``with_model``), LightGBM on every feature beats LightGBM on
  order features by at least 0.03 ROC-AUC (:mod:`features.simulator.activity_signal`).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from pathlib import Path

import duckdb
import numpy as np

from features import contract as C
from features.simulator import difficulty as D
from features.simulator.run import P_CHURN, TRUTH_CHURN, TRUTH_COUPON_EFFECT, TRUTH_DIR, EFFECT

SINGLE_ORDER_MIN = 0.40
CHURN_RANGE = (0.25, 0.50)
LOOKBACK_DAYS = 90
HORIZON_DAYS = 30
TAIL_RATIO_MIN = 5.0
CATEGORY_SPREAD_MIN = 3.0
MONTHLY_SIGNUP_MIN = 0.05


@dataclass(frozen=True)
class Check:
    name: str
    value: str
    target: str
    ok: bool


@dataclass(frozen=True)
class Realism:
    counts: dict[str, int]
    first_day: dt.date
    last_day: dt.date
    checks: tuple[Check, ...]
    truth: dict[str, float]
    reported: dict[str, str]

    @property
    def ok(self) -> bool:
        return all(c.ok for c in self.checks)


def _purchases(path: Path) -> str:
    statuses = ", ".join(f"'{s}'" for s in C.PURCHASE_STATUSES)
    return (
        f"(SELECT {C.Orders.USER_ID} AS u, {C.Orders.ORDERED_AT} AS ts, {C.Orders.AMOUNT} AS amount, "
        f"{C.Orders.CATEGORY} AS category FROM read_parquet('{path / 'orders.parquet'}') "
        f"WHERE coalesce({C.Orders.STATUS}, '{C.STATUS_PAID}') IN ({statuses}))"
    )


def _span(values: list[float], fmt: str) -> str:
    return f"{min(values):{fmt}}-{max(values):{fmt}}" if values else "n/a"


def difficulty_checks(path: Path, first_day: dt.date, last_day: dt.date) -> tuple[list[Check], dict[str, str]]:
    """The issue-12 checks at the last three month-ends, and the reported (target-free) measures."""
    per_date = D.measure_difficulty(path, first_day, last_day)
    dates = f"{len(per_date)} month-ends"
    ok_dates = len(per_date) == D.DATES

    def check(name: str, values: list[float], fmt: str, target: str, inside) -> Check:
        finite = [v for v in values if np.isfinite(v)]
        good = ok_dates and len(finite) == len(values) and all(inside(v) for v in finite)
        return Check(name, f"{_span(finite, fmt)} at {dates}", target, good)

    lo, hi = D.RECENCY_AUC_RANGE
    dlo, dhi = D.DORMANT_RETURN_RANGE
    checks = [
        check("ROC-AUC of days since the last purchase alone", [m.recency_auc for m in per_date], ".3f", f"{lo:.2f}-{hi:.2f}", lambda v: lo <= v <= hi),
        check("ROC-AUC of the true probabilities", [m.true_auc for m in per_date], ".3f", f"<= {D.TRUE_AUC_MAX:.2f}", lambda v: v <= D.TRUE_AUC_MAX),
        check("90-day-dormant buyers buying in the next 30 days", [m.dormant_return for m in per_date], ".1%", f"{dlo:.0%}-{dhi:.0%}", lambda v: dlo <= v <= dhi),
    ]
    reported = {
        "measured at": ", ".join(m.as_of.isoformat() for m in per_date),
        "churn rate of the scored population": _span([m.churn_rate for m in per_date], ".1%"),
        "scored population": _span([m.population for m in per_date], ",.0f"),
    }
    return checks, reported


def activity_check(path: Path, first_day: dt.date, last_day: dt.date) -> Check:
    """LightGBM on every feature vs on order features only (out of time)."""
    from features.simulator.activity_signal import MIN_GAIN, measure_activity_signal

    signal = measure_activity_signal(path, first_day, last_day)
    name = "LightGBM ROC-AUC gain of all features over order features"
    if signal is None:
        return Check(name, "fewer than three month-ends", f">= {MIN_GAIN:.2f}", False)
    value = f"{signal.gain:+.3f} ({signal.full_auc:.3f} vs {signal.orders_auc:.3f}, on {signal.test_date})"
    return Check(name, value, f">= {MIN_GAIN:.2f}", signal.gain >= MIN_GAIN)


def measure(path: Path, first_day: dt.date, last_day: dt.date, *, with_model: bool = False) -> Realism:
    """Measure the realism targets on the dataset at ``path`` simulated over [first_day, last_day]."""
    path = Path(path)
    con = duckdb.connect()
    con.execute("SET TimeZone='UTC'")
    counts = {
        t: con.execute(f"SELECT count(*) FROM read_parquet('{path / f'{t}.parquet'}')").fetchone()[0]
        for t in C.TABLE_NAMES
        if (path / f"{t}.parquet").exists()
    }
    purchases = _purchases(path)
    checks: list[Check] = []

    single, buyers = con.execute(
        f"SELECT avg((n = 1)::DOUBLE), count(*) FROM (SELECT u, count(*) n FROM {purchases} GROUP BY u)"
    ).fetchone()
    checks.append(Check("buyers with a single purchase", f"{single:.1%} of {buyers:,}", f">= {SINGLE_ORDER_MIN:.0%}", single >= SINGLE_ORDER_MIN))

    rates = []
    d = first_day
    while d <= last_day:
        nxt = d + dt.timedelta(days=1)
        if nxt.day == 1 and (d - first_day).days + 1 >= LOOKBACK_DAYS and (last_day - d).days >= HORIZON_DAYS:
            cut = nxt.isoformat()
            rate = con.execute(
                f"""
                WITH p AS {purchases},
                recent AS (SELECT DISTINCT u FROM p WHERE ts >= TIMESTAMP '{cut}' - INTERVAL {LOOKBACK_DAYS} DAY AND ts < TIMESTAMP '{cut}'),
                later AS (SELECT DISTINCT u FROM p WHERE ts >= TIMESTAMP '{cut}' AND ts < TIMESTAMP '{cut}' + INTERVAL {HORIZON_DAYS} DAY)
                SELECT avg((later.u IS NULL)::DOUBLE) FROM recent LEFT JOIN later USING (u)
                """
            ).fetchone()[0]
            if rate is not None:
                rates.append((d, rate))
        d = nxt
    if rates:
        lo, hi = min(r for _, r in rates), max(r for _, r in rates)
        ok = CHURN_RANGE[0] <= lo and hi <= CHURN_RANGE[1]
        value = f"{lo:.1%}-{hi:.1%} over {len(rates)} month-ends"
    else:
        ok, value = False, "no month-end with 90 days before and 30 after"
    checks.append(Check("recent buyers not buying in the next 30 days", value, f"{CHURN_RANGE[0]:.0%}-{CHURN_RANGE[1]:.0%}", ok))

    p50, p99 = con.execute(f"SELECT quantile_cont(amount, 0.5), quantile_cont(amount, 0.99) FROM {purchases}").fetchone()
    checks.append(Check("order amount p99 / median", f"{p99 / p50:.1f} (median {p50:,.0f})", f">= {TAIL_RATIO_MIN:.0f}", p99 / p50 >= TAIL_RATIO_MIN))
    medians = con.execute(f"SELECT category, median(amount) FROM {purchases} GROUP BY category ORDER BY 2").fetchall()
    spread = medians[-1][1] / medians[0][1]
    checks.append(
        Check(
            "category median amounts, largest / smallest",
            f"{spread:.1f} ({medians[-1][0]} {medians[-1][1]:,.0f} vs {medians[0][0]} {medians[0][1]:,.0f})",
            f">= {CATEGORY_SPREAD_MIN:.0f}",
            spread >= CATEGORY_SPREAD_MIN,
        )
    )

    monthly = con.execute(
        f"""
        SELECT date_trunc('month', {C.Users.SIGNUP_AT})::DATE AS m, count(*) / (SELECT count(*) FROM read_parquet('{path / 'users.parquet'}'))
        FROM read_parquet('{path / 'users.parquet'}') GROUP BY 1 ORDER BY 1
        """
    ).fetchall()
    full = [
        (m, share)
        for m, share in monthly
        if m >= first_day and (m.replace(day=28) + dt.timedelta(days=4)).replace(day=1) - dt.timedelta(days=1) <= last_day
    ]
    if full:
        low = min(share for _, share in full)
        checks.append(Check("users signing up in each full month", f"min {low:.1%} over {len(full)} months", f">= {MONTHLY_SIGNUP_MIN:.0%}", low >= MONTHLY_SIGNUP_MIN))
    else:
        checks.append(Check("users signing up in each full month", "no full month in the window", f">= {MONTHLY_SIGNUP_MIN:.0%}", False))

    more, reported = difficulty_checks(path, first_day, last_day)
    checks.extend(more)
    if with_model:
        checks.append(activity_check(path, first_day, last_day))

    truth = {}
    churn_file = path / TRUTH_DIR / f"{TRUTH_CHURN}.parquet"
    effect_file = path / TRUTH_DIR / f"{TRUTH_COUPON_EFFECT}.parquet"
    if churn_file.exists():
        truth["mean true p_churn"] = con.execute(f"SELECT avg({P_CHURN}) FROM read_parquet('{churn_file}')").fetchone()[0] or float("nan")
    if effect_file.exists():
        truth["mean true coupon effect"] = con.execute(f"SELECT avg({EFFECT}) FROM read_parquet('{effect_file}')").fetchone()[0] or float("nan")
    return Realism(counts=counts, first_day=first_day, last_day=last_day, checks=tuple(checks), truth=truth, reported=reported)
