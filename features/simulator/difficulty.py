"""How hard a simulated shop is to read: the measures of issue 12, on the written files.

Population and label, at each of the last three month-ends whose next 30 days
are inside the window (``as_of`` = the end of that day, UTC):

* population: users with a purchase (status paid or refunded) in
  ``(as_of - 180 d, as_of]``;
* label: no purchase in ``(as_of, as_of + 30 d]``.

Measures: the ROC-AUC of days since the last purchase alone, the ROC-AUC of
the simulator's true probabilities (``truth/churn.parquet``), the churn rate
of the population, and the share of buyers dormant 90+ days (a purchase
before, none in ``(as_of - 90 d, as_of]``) who buy in the next 30 days.
The activity-signal measure (LightGBM on every feature vs on order features
only) lives in :mod:`features.simulator.activity_signal`.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from pathlib import Path

import duckdb
import numpy as np
import pandas as pd
from sklearn.metrics import roc_auc_score

from features import contract as C
from features.simulator.run import AS_OF, P_CHURN, TRUTH_CHURN, TRUTH_DIR

POPULATION_DAYS = 180
LABEL_DAYS = 30
DORMANT_DAYS = 90
DATES = 3
RECENCY_AUC_RANGE = (0.62, 0.75)
TRUE_AUC_MAX = 0.90
DORMANT_RETURN_RANGE = (0.02, 0.06)


@dataclass(frozen=True)
class DateMeasures:
    """The measures at one ``as_of`` (NaN where undefined)."""

    as_of: dt.date
    population: int
    churn_rate: float
    recency_auc: float
    true_auc: float
    dormant: int
    dormant_return: float


def measure_dates(first_day: dt.date, last_day: dt.date, count: int = DATES) -> tuple[dt.date, ...]:
    """The last ``count`` month-ends of [first_day, last_day] whose next LABEL_DAYS days are inside it."""
    out = []
    d = last_day - dt.timedelta(days=LABEL_DAYS)
    while d >= first_day and len(out) < count:
        if (d + dt.timedelta(days=1)).day == 1:
            out.append(d)
        d -= dt.timedelta(days=1)
    return tuple(sorted(out))


def buyers_at(con: duckdb.DuckDBPyConnection, path: Path, as_of: dt.date) -> pd.DataFrame:
    """Every user with a purchase by ``as_of``: user_id, recency_days (since the last purchase), churned (no purchase in the next LABEL_DAYS)."""
    statuses = ", ".join(f"'{s}'" for s in C.PURCHASE_STATUSES)
    cut = (as_of + dt.timedelta(days=1)).isoformat()
    return con.execute(
        f"""
        WITH p AS (
            SELECT {C.Orders.USER_ID} AS u, {C.Orders.ORDERED_AT} AS ts FROM read_parquet('{path / f'{C.ORDERS}.parquet'}')
            WHERE coalesce({C.Orders.STATUS}, '{C.STATUS_PAID}') IN ({statuses})
        ),
        past AS (SELECT u, max(ts) AS last FROM p WHERE ts < TIMESTAMPTZ '{cut}' GROUP BY u),
        later AS (
            SELECT DISTINCT u FROM p
            WHERE ts >= TIMESTAMPTZ '{cut}' AND ts < TIMESTAMPTZ '{cut}' + INTERVAL {LABEL_DAYS} DAY
        )
        SELECT past.u AS {C.Orders.USER_ID},
               epoch(TIMESTAMPTZ '{cut}' - past.last) / 86400.0 AS recency_days,
               later.u IS NULL AS churned
        FROM past LEFT JOIN later USING (u) ORDER BY past.u
        """
    ).df()


def _auc(label: np.ndarray, score: np.ndarray) -> float:
    if len(label) == 0 or label.min() == label.max():
        return float("nan")
    return float(roc_auc_score(label, score))


def measure_date(con: duckdb.DuckDBPyConnection, path: Path, as_of: dt.date) -> DateMeasures:
    """The measures at ``as_of`` on the dataset at ``path`` (truth from its ``truth/``, when there)."""
    buyers = buyers_at(con, path, as_of)
    population = buyers[buyers["recency_days"] <= POPULATION_DAYS]
    dormant = buyers[buyers["recency_days"] > DORMANT_DAYS]
    label = population["churned"].to_numpy(dtype=int)
    true_auc = float("nan")
    truth_file = path / TRUTH_DIR / f"{TRUTH_CHURN}.parquet"
    if truth_file.exists():
        truth = pd.read_parquet(truth_file, columns=[C.Users.USER_ID, AS_OF, P_CHURN], filters=[(AS_OF, "=", as_of)])
        joined = population.merge(truth, on=C.Users.USER_ID, how="inner")
        if len(joined) == len(population):
            true_auc = _auc(joined["churned"].to_numpy(dtype=int), joined[P_CHURN].to_numpy())
    return DateMeasures(
        as_of=as_of,
        population=len(population),
        churn_rate=float(label.mean()) if len(label) else float("nan"),
        recency_auc=_auc(label, population["recency_days"].to_numpy()),
        true_auc=true_auc,
        dormant=len(dormant),
        dormant_return=float(1.0 - dormant["churned"].mean()) if len(dormant) else float("nan"),
    )


def measure_difficulty(path: Path, first_day: dt.date, last_day: dt.date) -> tuple[DateMeasures, ...]:
    """The measures at each of :func:`measure_dates` (oldest first)."""
    path = Path(path)
    con = duckdb.connect()
    con.execute("SET TimeZone='UTC'")
    return tuple(measure_date(con, path, d) for d in measure_dates(first_day, last_day))
