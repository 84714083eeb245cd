"""The issue-12 measures on a hand-made order log: population, label, recency AUC, true AUC, dormant returns."""

from __future__ import annotations

import datetime as dt

import duckdb
import pandas as pd
import pytest

from features import contract as C
from features.simulator.difficulty import measure_date, measure_dates

AS_OF = dt.date(2025, 6, 30)


def _orders(folder):
    rows = [  # user, ordered_at, status
        (1, "2025-06-20 10:00", "paid"),
        (1, "2025-07-05 10:00", "paid"),  # buys again: not churned
        (2, "2025-03-01 10:00", "paid"),  # 121 days ago: in the population and dormant; never again
        (3, "2025-06-29 10:00", "paid"),
        (3, "2025-07-02 10:00", "cancelled"),  # a cancelled order is no purchase: churned
        (4, "2024-10-01 10:00", "paid"),  # dormant, outside the 180-day population...
        (4, "2025-07-10 10:00", "refunded"),  # ...and comes back (a refunded order was a purchase)
        (5, "2025-07-01 00:00", "paid"),  # first order after as_of: not a buyer yet
    ]
    frame = pd.DataFrame(rows, columns=[C.Orders.USER_ID, C.Orders.ORDERED_AT, C.Orders.STATUS])
    frame[C.Orders.ORDERED_AT] = pd.to_datetime(frame[C.Orders.ORDERED_AT]).dt.tz_localize("UTC")
    frame.to_parquet(folder / f"{C.ORDERS}.parquet", index=False)


def test_measures_of_one_date(tmp_path):
    _orders(tmp_path)
    (tmp_path / "truth").mkdir()
    truth = pd.DataFrame({"user_id": [1, 2, 3, 4], "as_of": [AS_OF] * 4, "p_churn": [0.2, 0.9, 0.6, 0.5]})
    truth.to_parquet(tmp_path / "truth" / "churn.parquet", index=False)
    con = duckdb.connect()
    con.execute("SET TimeZone='UTC'")
    m = measure_date(con, tmp_path, AS_OF)
    assert m.population == 3  # users 1, 2, 3
    assert m.churn_rate == pytest.approx(2 / 3)
    # churned 2 (recency 121 d) and 3 (1 d) against 1 (10 d): one pair of two ordered right
    assert m.recency_auc == pytest.approx(0.5)
    assert m.true_auc == pytest.approx(1.0)
    assert (m.dormant, m.dormant_return) == (2, pytest.approx(0.5))  # users 2 and 4; 4 came back


def test_without_truth_the_true_auc_is_missing(tmp_path):
    _orders(tmp_path)
    con = duckdb.connect()
    m = measure_date(con, tmp_path, AS_OF)
    assert m.true_auc != m.true_auc  # NaN


def test_the_last_three_month_ends_with_a_full_label_window():
    assert measure_dates(dt.date(2025, 1, 1), dt.date(2026, 2, 4)) == (dt.date(2025, 10, 31), dt.date(2025, 11, 30), dt.date(2025, 12, 31))
    assert measure_dates(dt.date(2025, 1, 1), dt.date(2025, 12, 31)) == (dt.date(2025, 9, 30), dt.date(2025, 10, 31), dt.date(2025, 11, 30))
    assert measure_dates(dt.date(2025, 1, 1), dt.date(2025, 3, 15)) == (dt.date(2025, 1, 31),)
