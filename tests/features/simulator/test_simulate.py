"""A simulated dataset: deterministic, valid, realistic, and behaving as real platforms do."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import duckdb
import numpy as np
import pandas as pd
import pytest

from features import contract as C
from features.errors import ConfigError
from features.simulator.config import SimulationConfig
from features.simulator.realism import measure
from features.simulator.run import AS_OF, P_CHURN, TRUTH_CHURN, TRUTH_COUPON_EFFECT, TRUTH_DIR, simulate, truth_days
from features.validation import find_problems, open_dataset

CONFIG = SimulationConfig(users=4000, days=365, seed=0)


@pytest.fixture(scope="module")
def simulated(tmp_path_factory) -> Path:
    return simulate(CONFIG, tmp_path_factory.mktemp("sim") / "data").out


def _q(sql: str) -> pd.DataFrame:
    con = duckdb.connect()
    con.execute("SET TimeZone='UTC'")
    return con.execute(sql).df()


def test_same_seed_gives_byte_identical_files(tmp_path):
    config = SimulationConfig(users=700, days=62, seed=3, chunk_users=300)
    a = simulate(config, tmp_path / "a").out
    b = simulate(config, tmp_path / "b").out
    files = sorted(p.relative_to(a) for p in a.rglob("*") if p.is_file())
    assert len(files) >= 10
    for f in files:
        assert (a / f).read_bytes() == (b / f).read_bytes(), f
    c = simulate(config.model_copy(update={"seed": 4}), tmp_path / "c").out
    assert (a / "orders.parquet").read_bytes() != (c / "orders.parquet").read_bytes()


def test_ids_are_unique_across_chunks(tmp_path):
    out = simulate(SimulationConfig(users=700, days=62, seed=3, chunk_users=300), tmp_path / "d").out
    users = pd.read_parquet(out / "users.parquet")
    assert users[C.Users.USER_ID].tolist() == list(range(1, 701))
    for table, column in ((C.ORDERS, C.Orders.ORDER_ID), (C.COUPONS, C.Coupons.COUPON_ID)):
        ids = pd.read_parquet(out / f"{table}.parquet")[column]
        assert ids.is_unique and len(ids) > 0


def test_simulated_dataset_follows_the_contract(simulated):
    dataset = open_dataset(simulated)
    assert set(dataset.tables) == set(C.TABLE_NAMES)
    assert find_problems(dataset) == []


def test_realism_targets(simulated):
    realism = measure(simulated, CONFIG.start, CONFIG.end)
    failed = [c for c in realism.checks[:5] if not c.ok]
    assert not failed, failed
    assert len(realism.checks) == 8


def test_truth_covers_every_user_at_each_month_end(simulated):
    churn = pd.read_parquet(simulated / TRUTH_DIR / f"{TRUTH_CHURN}.parquet")
    effect = pd.read_parquet(simulated / TRUTH_DIR / f"{TRUTH_COUPON_EFFECT}.parquet")
    users = pd.read_parquet(simulated / "users.parquet")
    dates = sorted(pd.to_datetime(churn[AS_OF]).dt.date.unique())
    # Month-ends whose next 30 days are inside 2025: Jan 31 .. Nov 30.
    assert dates == [CONFIG.start + dt.timedelta(days=t) for t in truth_days(CONFIG)]
    assert dates[0] == dt.date(2025, 1, 31) and dates[-1] == dt.date(2025, 11, 30) and len(dates) == 11
    for d in (dates[0], dates[-1]):
        cutoff = pd.Timestamp(d + dt.timedelta(days=1), tz="UTC")
        expected = set(users.loc[users[C.Users.SIGNUP_AT] < cutoff, C.Users.USER_ID])
        assert set(churn.loc[pd.to_datetime(churn[AS_OF]).dt.date == d, C.Users.USER_ID]) == expected
    assert churn[P_CHURN].between(0, 1).all()
    assert len(effect) == len(churn)


def test_truth_agrees_with_what_happened(simulated):
    """Users the truth calls likely to churn did churn more often (the truth is the truth)."""
    frame = _q(
        f"""
        WITH t AS (SELECT * FROM read_parquet('{simulated / TRUTH_DIR / f"{TRUTH_CHURN}.parquet"}')),
        p AS (SELECT user_id, ordered_at FROM read_parquet('{simulated / "orders.parquet"}') WHERE status <> 'cancelled')
        SELECT t.p_churn, NOT EXISTS (
            SELECT 1 FROM p WHERE p.user_id = t.user_id
              AND p.ordered_at >= (t.as_of + 1)::TIMESTAMP AND p.ordered_at < (t.as_of + 31)::TIMESTAMP
        ) AS churned
        FROM t
        """
    )
    # Calibrated: in each decile of the truth, the observed churn rate matches the mean truth.
    frame["decile"] = pd.qcut(frame[P_CHURN].rank(method="first"), 10, labels=False)
    by = frame.groupby("decile").agg(p=(P_CHURN, "mean"), rate=("churned", "mean"), n=("churned", "size"))
    se = np.sqrt(by.p * (1 - by.p) / by.n) + 1e-3
    assert (np.abs(by.rate - by.p) < 4 * se).all(), by


def test_activity_falls_before_purchases_stop(simulated):
    """Among users who bought in the last 30 days, a drop in sessions signals churn that recency does not."""
    as_of = dt.date(2025, 8, 31)
    cut = f"TIMESTAMP '{as_of + dt.timedelta(days=1)}'"
    frame = _q(
        f"""
        WITH s AS (
            SELECT user_id,
                   count(DISTINCT session_id) FILTER (WHERE event_at >= {cut} - INTERVAL 30 DAY) AS last30,
                   count(DISTINCT session_id) FILTER (WHERE event_at < {cut} - INTERVAL 30 DAY) AS prev60
            FROM read_parquet('{simulated / "events.parquet"}')
            WHERE event_at >= {cut} - INTERVAL 90 DAY AND event_at < {cut}
            GROUP BY user_id),
        recent AS (
            SELECT DISTINCT user_id FROM read_parquet('{simulated / "orders.parquet"}')
            WHERE status <> 'cancelled' AND ordered_at >= {cut} - INTERVAL 30 DAY AND ordered_at < {cut})
        SELECT t.p_churn, s.last30, s.prev60
        FROM recent JOIN s USING (user_id)
        JOIN read_parquet('{simulated / TRUTH_DIR / f"{TRUTH_CHURN}.parquet"}') t USING (user_id)
        WHERE t.as_of = DATE '{as_of}' AND s.prev60 >= 4
        """
    )
    trend = frame["last30"] / (frame["prev60"] / 2)
    falling, steady = frame.loc[trend < 0.5, P_CHURN], frame.loc[trend >= 1.0, P_CHURN]
    assert len(falling) >= 20 and len(steady) >= 20
    assert falling.mean() > steady.mean() + 0.1


def test_complaints_raise_the_risk(simulated):
    """Compared with users who bought as often, users who complained are likelier to churn."""
    frame = pd.concat([_complaints_at(simulated, dt.date(2025, m, 1) - dt.timedelta(days=1)) for m in range(4, 12)])
    frame["stratum"] = pd.cut(frame.purchases, [0, 2, 4, 7, 12, 1000])
    by = frame.groupby(["stratum", "complained"], observed=True)[P_CHURN].mean().unstack()
    weights = frame[frame.complained].groupby("stratum", observed=True).size()
    gap = ((by[True] - by[False]) * weights).sum() / weights.sum()
    assert frame.complained.sum() >= 100
    assert gap > 0.01, by
    assert ((by[True] - by[False]) > 0).sum() >= 3, by


def _complaints_at(simulated: Path, as_of: dt.date) -> pd.DataFrame:
    cut = f"TIMESTAMP '{as_of + dt.timedelta(days=1)}'"
    return _q(
        f"""
        WITH c AS (SELECT DISTINCT user_id FROM read_parquet('{simulated / "tickets.parquet"}')
                   WHERE kind = 'complaint' AND created_at >= {cut} - INTERVAL 30 DAY AND created_at < {cut}),
        b AS (SELECT user_id, count(*) AS purchases FROM read_parquet('{simulated / "orders.parquet"}')
              WHERE status <> 'cancelled' AND ordered_at >= {cut} - INTERVAL 60 DAY AND ordered_at < {cut}
              GROUP BY user_id)
        SELECT t.p_churn, b.purchases, c.user_id IS NOT NULL AS complained
        FROM b JOIN read_parquet('{simulated / TRUTH_DIR / f"{TRUTH_CHURN}.parquet"}') t USING (user_id)
        LEFT JOIN c USING (user_id) WHERE t.as_of = DATE '{as_of}'
        """
    )


def test_new_users_who_do_not_buy_early_mostly_never_do(simulated):
    frame = _q(
        f"""
        SELECT u.user_id,
               min(o.ordered_at) FILTER (WHERE o.status <> 'cancelled') AS first_purchase,
               any_value(u.signup_at) AS signup_at
        FROM read_parquet('{simulated / "users.parquet"}') u
        LEFT JOIN read_parquet('{simulated / "orders.parquet"}') o USING (user_id)
        WHERE u.signup_at >= TIMESTAMP '2025-01-01' AND u.signup_at < TIMESTAMP '2025-09-01'
        GROUP BY u.user_id
        """
    )
    days_to_first = (frame.first_purchase - frame.signup_at).dt.days
    no_early = frame[~(days_to_first <= 21)]
    assert len(no_early) > 100
    assert (days_to_first[no_early.index].notna()).mean() < 0.25


def test_coupon_campaigns_have_control_groups(simulated):
    coupons = pd.read_parquet(simulated / "coupons.parquet")
    share = (coupons[C.Coupons.GROUP] == C.GROUP_CONTROL).groupby(coupons[C.Coupons.CAMPAIGN_ID]).mean()
    assert len(share) >= 12 and share.between(0.04, 0.18).all()
    assert coupons.loc[coupons[C.Coupons.GROUP] == C.GROUP_CONTROL, C.Coupons.REDEEMED_AT].isna().all()
    redeemed = coupons[C.Coupons.REDEEMED_AT].notna()
    assert redeemed.sum() > 50
    assert (coupons.loc[redeemed, C.Coupons.REDEEMED_AT] - coupons.loc[redeemed, C.Coupons.ISSUED_AT]).between(
        pd.Timedelta(0), pd.Timedelta(days=14)
    ).all()
    orders = pd.read_parquet(simulated / "orders.parquet")
    assert set(orders[C.Orders.COUPON_ID].dropna()) == set(coupons.loc[redeemed, C.Coupons.COUPON_ID])


def test_refuses_to_overwrite_without_permission(tmp_path):
    out = tmp_path / "taken"
    out.mkdir()
    (out / "keep.txt").write_text("mine")
    with pytest.raises(ConfigError, match="--overwrite"):
        simulate(SimulationConfig(users=200, days=40), out)
    assert (out / "keep.txt").read_text() == "mine"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["taken"]


def test_every_row_is_inside_the_window(simulated):
    """Nothing happens after the last simulated day (orders stay on their simulated day)."""
    end = pd.Timestamp(CONFIG.end + dt.timedelta(days=1), tz="UTC")
    start = pd.Timestamp(CONFIG.start, tz="UTC")
    for table, column in (
        (C.ORDERS, C.Orders.ORDERED_AT),
        (C.EVENTS, C.Events.EVENT_AT),
        (C.TICKETS, C.Tickets.CREATED_AT),
        (C.REVIEWS, C.Reviews.CREATED_AT),
        (C.COUPONS, C.Coupons.ISSUED_AT),
    ):
        times = pd.read_parquet(simulated / f"{table}.parquet", columns=[column])[column]
        assert times.min() >= start and times.max() < end, table
    users = pd.read_parquet(simulated / "users.parquet")
    orders = pd.read_parquet(simulated / "orders.parquet").merge(users, on=C.Users.USER_ID)
    assert (orders[C.Orders.ORDERED_AT] >= orders[C.Users.SIGNUP_AT]).all()
