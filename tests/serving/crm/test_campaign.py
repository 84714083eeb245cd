"""The campaign readout: a hand-computed campaign, leakage, the interval's coverage, errors, and the simulator's truth.

The hand-computed campaign ``spring``: coupons issued 2025-03-01 10:00 (ISSUED),
horizon 30 days, so each unit's window is (03-01 10:00, 03-31 10:00]; as_of
2025-04-05 (cutoff 04-06 00:00).

treatment (value 10 each)                          retained  spend
  u1  paid 100 at +1 day; redeemed at +1 day          yes     100
  u2  paid 50 exactly at ISSUED (not in the window),
      paid 40 exactly at ISSUED + 30 days (in it)     yes      40
  u3  refunded 70 at +5 days (a purchase); redeemed   yes      70
  u4  cancelled 200 at +3 days, paid 30 one
      microsecond after the window; redeemed after
      the window (not counted)                         no       0
  u5  paid 25 the day before ISSUED                    no       0
  u10 issued 03-20 (horizon open at as_of): pending, not counted
control (value 10 each, costs nothing)
  u6  paid 60 at +10 days; got a 'winter' coupon
      at +3 days (another campaign, in the horizon)   yes      60
  u7  cancelled at +2 days, paid at +40 days           no       0
  u8  nothing                                          no       0
  u9  paid 20 and 30 at +29 days 23:59                 yes      50
u1 also got a 'winter' coupon 5 days before ISSUED (not in the horizon).

treatment: 5 units, 3 retained (0.6), spend 210 (42 per unit), 2 of 5 redeemed, cost 50
control:   4 units, 2 retained (0.5), spend 110 (27.5 per unit), 1 with another campaign's coupon
difference 0.1; score test: pooled rate 5/9, variance 5/9 * 4/9 * (1/5 + 1/4) * 9/8 = 1/8,
z = 0.1 / sqrt(1/8), p = 0.7773; incremental retained 0.5; spend difference 14.5,
incremental spend 72.5; no cost per incremental retained user: the interval includes 0.
"""

from __future__ import annotations

import datetime as dt
import io
import json
import math

import duckdb
import numpy as np
import pandas as pd
import pytest
from rich.console import Console
from scipy import stats

from features.build import memtables
from features.contract import COUPONS, ORDERS, STATUS_CANCELLED, STATUS_PAID, STATUS_REFUNDED, Coupons, Orders
from features.errors import ConfigError
from features.simulator.config import SimulationConfig
from features.simulator.run import EFFECT, P_CHURN, TRUTH_CHURN, TRUTH_COUPON_EFFECT, TRUTH_DIR, simulate
from features.validation import load_dataset
from serving.crm.campaign import CampaignReadout, campaign_readout, readout_dict, readout_table
from serving.crm.statistics import (
    holdout_needed,
    minimum_detectable_effect,
    retention_difference_interval,
    score_test_p_value,
    welch_interval,
)

D = dt.datetime
US = dt.timedelta(microseconds=1)
DAY = dt.timedelta(days=1)
ISSUED = D(2025, 3, 1, 10, 0)
END = ISSUED + 30 * DAY
AS_OF = dt.date(2025, 4, 5)
CUTOFF = D(2025, 4, 6)
T, CTL = "treatment", "control"
PAID, REFUNDED, CANCELLED = STATUS_PAID, STATUS_REFUNDED, STATUS_CANCELLED


def _ts(values) -> pd.Series:
    return pd.Series(pd.to_datetime(list(values)), dtype="datetime64[us]")


def coupons_frame(rows) -> pd.DataFrame:
    """rows: (coupon_id, user_id, issued_at, campaign_id, group, redeemed_at or None); value 10."""
    cid, user, issued, campaign, group, redeemed = zip(*rows, strict=True)
    return pd.DataFrame(
        {
            Coupons.COUPON_ID: np.asarray(cid, dtype="int64"),
            Coupons.USER_ID: np.asarray(user, dtype="int64"),
            Coupons.ISSUED_AT: _ts(issued),
            Coupons.VALUE: np.full(len(rows), 10.0),
            Coupons.CAMPAIGN_ID: pd.Series(list(campaign), dtype="str"),
            Coupons.GROUP: pd.Series(list(group), dtype="str"),
            Coupons.REDEEMED_AT: _ts([pd.NaT if r is None else r for r in redeemed]),
        }
    )


def orders_frame(rows) -> pd.DataFrame:
    """rows: (user_id, ordered_at, amount, status); order ids 1, 2, ..."""
    user, at, amount, status = zip(*rows, strict=True)
    return pd.DataFrame(
        {
            Orders.ORDER_ID: np.arange(1, len(rows) + 1, dtype="int64"),
            Orders.USER_ID: np.asarray(user, dtype="int64"),
            Orders.ORDERED_AT: _ts(at),
            Orders.AMOUNT: np.asarray(amount, dtype="float64"),
            Orders.STATUS: pd.Series(list(status), dtype="str"),
        }
    )


COUPON_ROWS = [
    (1, 1, ISSUED, "spring", T, ISSUED + DAY),
    (2, 2, ISSUED, "spring", T, None),
    (3, 3, ISSUED, "spring", T, ISSUED + 5 * DAY),
    (4, 4, ISSUED, "spring", T, END + DAY),
    (5, 5, ISSUED, "spring", T, None),
    (6, 10, D(2025, 3, 20, 10, 0), "spring", T, None),
    (7, 6, ISSUED, "spring", CTL, None),
    (8, 7, ISSUED, "spring", CTL, None),
    (9, 8, ISSUED, "spring", CTL, None),
    (10, 9, ISSUED, "spring", CTL, None),
    (11, 6, ISSUED + 3 * DAY, "winter", T, None),
    (12, 1, ISSUED - 5 * DAY, "winter", T, None),
]
ORDER_ROWS = [
    (1, ISSUED + DAY, 100.0, PAID),
    (2, ISSUED, 50.0, PAID),
    (2, END, 40.0, PAID),
    (3, ISSUED + 5 * DAY, 70.0, REFUNDED),
    (4, ISSUED + 3 * DAY, 200.0, CANCELLED),
    (4, END + US, 30.0, PAID),
    (5, ISSUED - DAY, 25.0, PAID),
    (10, D(2025, 3, 21), 80.0, PAID),
    (6, ISSUED + 10 * DAY, 60.0, PAID),
    (7, ISSUED + 2 * DAY, 15.0, CANCELLED),
    (7, ISSUED + 40 * DAY, 15.0, PAID),
    (9, D(2025, 3, 30, 23, 59), 20.0, PAID),
    (9, D(2025, 3, 30, 23, 59), 30.0, PAID),
]


def _tables(coupon_rows=COUPON_ROWS, order_rows=ORDER_ROWS):
    return memtables({COUPONS: coupons_frame(coupon_rows), ORDERS: orders_frame(order_rows)})


def test_hand_computed_campaign():
    r = campaign_readout(_tables(), "spring", as_of=AS_OF)
    assert (r.campaign_id, r.as_of, r.horizon_days, r.confidence) == ("spring", AS_OF, 30, 0.95)
    assert (r.first_issued_at, r.last_issued_at, r.pending_users) == (ISSUED, ISSUED, 1)

    t, c = r.treatment, r.control
    assert (t.users, t.retained, t.retention_rate, t.spend, t.spend_per_user) == (5, 3, 0.6, 210.0, 42.0)
    assert t.spend_per_user_sd == pytest.approx(np.std([100, 40, 70, 0, 0], ddof=1))
    assert (c.users, c.retained, c.retention_rate, c.spend, c.spend_per_user) == (4, 2, 0.5, 110.0, 27.5)
    assert c.spend_per_user_sd == pytest.approx(np.std([60, 0, 0, 50], ddof=1))
    assert (t.other_campaign_users, c.other_campaign_users) == (0, 1)
    assert (r.coupons.redeemed, r.coupons.redemption_rate, r.coupons.coupon_cost) == (2, 0.4, 50.0)

    e = r.effect
    assert e.retention_difference == pytest.approx(0.1)
    low, high = retention_difference_interval(3, 5, 2, 4)
    assert e.retention_difference_interval == pytest.approx((low, high))
    assert low < 0 < 0.1 < high
    assert e.p_value == pytest.approx(2 * stats.norm.sf(0.1 / math.sqrt(1 / 8)))
    assert e.p_value == pytest.approx(0.7773, abs=1e-4)
    assert e.incremental_retained_users == pytest.approx(0.5)
    assert e.incremental_retained_users_interval == pytest.approx((5 * low, 5 * high))
    assert e.spend_per_user_difference == pytest.approx(14.5)
    welch = stats.ttest_ind([100, 40, 70, 0, 0], [60, 0, 0, 50], equal_var=False).confidence_interval(0.95)
    assert e.spend_per_user_difference_interval == pytest.approx((welch.low, welch.high))
    assert e.incremental_spend == pytest.approx(72.5)
    assert e.incremental_spend_interval == pytest.approx((5 * welch.low, 5 * welch.high))
    # The gain may be chance: no cost per kept user is given.
    assert e.cost_per_incremental_retained_user is None and e.cost_per_incremental_retained_user_interval is None
    assert r.verdict.kind == "inconclusive" and r.verdict.text.startswith("No measurable effect")

    assert "1 user given coupons less than 30 days before as_of are not counted yet" in r.notes
    assert "the control group has only 4 users: the intervals are wide, the spend one rough" in r.notes


def test_horizon_boundary_at_an_as_of_timestamp():
    # With as_of exactly at ISSUED + 30 days the horizons are complete and the order at that instant counts.
    r = campaign_readout(_tables(), "spring", as_of=END)
    assert (r.treatment.retained, r.treatment.spend, r.pending_users) == (3, 210.0, 1)
    with pytest.raises(ConfigError, match=r"possible from as_of 2025-03-31$"):
        campaign_readout(_tables(), "spring", as_of=END - US)


def test_rows_after_as_of_change_nothing():
    before = campaign_readout(_tables(), "spring", as_of=AS_OF)
    future = CUTOFF + 2 * DAY
    coupon_rows = [*COUPON_ROWS, (20, 11, CUTOFF, "spring", CTL, None), (21, 8, CUTOFF + US, "winter", T, future)]
    coupon_rows[4] = (5, 5, ISSUED, "spring", T, future)  # redeemed after as_of
    order_rows = [
        *ORDER_ROWS,
        *[(u, CUTOFF, 500.0, PAID) for u in range(1, 12)],
        (8, future, 90.0, PAID),
        (10, future, 90.0, PAID),
    ]
    after = campaign_readout(_tables(coupon_rows, order_rows), "spring", as_of=AS_OF)
    assert after == before


def test_options_and_shorter_horizon():
    r = campaign_readout(_tables(), "spring", as_of=AS_OF, horizon_days=7)
    # 7 days: (03-01 10:00, 03-08 10:00]: u1 (+1), u3 (+5); u6 (+10) and u9 (+29) are outside;
    # u10 (issued 03-20) now has a complete horizon and bought on 03-21.
    assert (r.treatment.retained, r.control.retained, r.treatment.users) == (3, 0, 6)  # u10 (bought 03-21) is complete too
    assert r.pending_users == 0
    with pytest.raises(ConfigError, match="horizon 0"):
        campaign_readout(_tables(), "spring", as_of=AS_OF, horizon_days=0)
    with pytest.raises(ConfigError, match="confidence 1.5"):
        campaign_readout(_tables(), "spring", as_of=AS_OF, confidence=1.5)
    wider = campaign_readout(_tables(), "spring", as_of=AS_OF, confidence=0.99).effect.retention_difference_interval
    narrower = campaign_readout(_tables(), "spring", as_of=AS_OF).effect.retention_difference_interval
    assert wider[0] < narrower[0] and wider[1] > narrower[1]


def test_unknown_campaign_lists_known_ones():
    rows = [(i, i, ISSUED + i * DAY, f"monthly-{i:02d}", T, None) for i in range(1, 9)]
    tables = _tables(rows)
    with pytest.raises(ConfigError) as caught:
        campaign_readout(tables, "monthly-99", as_of=AS_OF)
    message = caught.value.message
    assert message.startswith("unknown campaign 'monthly-99'; known campaigns")
    assert message.count("'monthly-") == 6 and message.endswith("and 3 more")
    with pytest.raises(ConfigError) as caught:
        campaign_readout(tables, "xmas", as_of=AS_OF)
    # Nothing is close to 'xmas': the most recent five.
    assert "(most recent first): 'monthly-08', 'monthly-07', 'monthly-06', 'monthly-05', 'monthly-04' and 3 more" in caught.value.message


def test_missing_coupons_table():
    tables = _tables()
    del tables[COUPONS]
    with pytest.raises(ConfigError, match=r"the dataset has no coupons table \(tables present: orders\)"):
        campaign_readout(tables, "spring", as_of=AS_OF)


def test_incomplete_horizon_says_when_the_readout_is_possible():
    with pytest.raises(ConfigError) as caught:
        campaign_readout(_tables(), "spring", as_of=dt.date(2025, 3, 20))
    assert caught.value.message == (
        "campaign 'spring': no 30-day horizon is complete at as_of 2025-03-20; its first coupons were issued "
        "2025-03-01 10:00 UTC, so the readout is possible from as_of 2025-03-31"
    )
    assert caught.value.exit_code == 2


def test_campaign_without_control_reports_treatment_only():
    rows = [row for row in COUPON_ROWS if row[4] == T]
    r = campaign_readout(_tables(rows), "spring", as_of=AS_OF)
    assert r.control is None and r.effect is None
    assert (r.treatment.users, r.treatment.retained, r.coupons.coupon_cost) == (5, 3, 50.0)
    assert any("no control group" in n and "cannot be measured" in n for n in r.notes)
    data = readout_dict(r)
    assert data["control"] is None and data["effect"] is None
    text = _render(r)
    assert "cannot be measured" in text and "60.0%" in text


def test_without_redeemed_at_the_redemptions_are_unknown():
    tables = _tables()
    tables[COUPONS] = tables[COUPONS].drop(Coupons.REDEEMED_AT)
    r = campaign_readout(tables, "spring", as_of=AS_OF)
    assert (r.coupons.redeemed, r.coupons.redemption_rate, r.coupons.coupon_cost) == (None, None, 50.0)
    assert r.treatment == campaign_readout(_tables(), "spring", as_of=AS_OF).treatment
    assert "unknown" in _render(r)


def _render(readout: CampaignReadout) -> str:
    console = Console(width=160, file=io.StringIO())
    console.print(readout_table(readout))
    return console.file.getvalue()


def test_table_and_dict():
    r = campaign_readout(_tables(), "spring", as_of=AS_OF)
    text = _render(r)
    for expected in ("campaign spring: 30-day readout as of 2025-04-05", "3 (60.0%)", "2 (50.0%)", "+10.0 pts",
                     "p = 0.777", "42.00", "27.50", "2 (40.0%)", "+0.5", "+72 (", "not given: no measured gain",
                     "verdict: No measurable effect"):
        assert expected in text, expected
    data = json.loads(json.dumps(readout_dict(r)))
    assert data["as_of"] == "2025-04-05" and data["first_issued_at"] == "2025-03-01T10:00:00"
    assert data["treatment"]["retained"] == 3 and data["coupons"]["coupon_cost"] == 50.0
    assert data["effect"]["retention_difference_interval"] == pytest.approx(list(r.effect.retention_difference_interval))
    assert data["effect"]["cost_per_incremental_retained_user_interval"] is None


# --- the statistics -----------------------------------------------------------


@pytest.mark.parametrize(
    ("counts", "published"),
    [
        # Newcombe (1998), Statistics in Medicine 17:873-890, Table II, Miettinen-Nurminen method.
        ((56, 70, 48, 80), (0.0528, 0.3382)),
        ((9, 10, 3, 10), (0.1700, 0.8406)),
        ((6, 7, 2, 7), (0.0342, 0.8534)),
        ((5, 56, 0, 29), (-0.0326, 0.1933)),
        ((0, 10, 0, 20), (-0.1658, 0.2844)),
        ((10, 10, 0, 20), (0.7156, 1.0)),
    ],
)
def test_interval_matches_published_values(counts, published):
    assert retention_difference_interval(*counts) == pytest.approx(published, abs=6e-5)


@pytest.mark.parametrize(
    ("n_t", "n_c", "p_t", "p_c", "seed"),
    [
        (300, 40, 0.45, 0.35, 1),  # a campaign's shape: large treatment, small control
        (60, 15, 0.30, 0.20, 2),  # small groups
        (40, 40, 0.10, 0.05, 3),  # rare outcomes
    ],
)
def test_interval_coverage(n_t, n_c, p_t, p_c, seed):
    """400 synthetic campaigns with a known difference: the 95 % interval covers it 92-98 % of the time
    (3 standard errors of a 400-sample share around 95 %)."""
    rng = np.random.default_rng(seed)
    x_t, x_c = rng.binomial(n_t, p_t, 400), rng.binomial(n_c, p_c, 400)
    truth = p_t - p_c
    covered = [low <= truth <= high for low, high in (retention_difference_interval(a, n_t, b, n_c) for a, b in zip(x_t, x_c))]
    assert 0.92 <= np.mean(covered) <= 0.98


def test_p_value_agrees_with_the_interval():
    rng = np.random.default_rng(4)
    for _ in range(300):
        n_t, n_c = rng.integers(1, 200, 2)
        x_t, x_c = rng.integers(0, n_t + 1), rng.integers(0, n_c + 1)
        low, high = retention_difference_interval(x_t, n_t, x_c, n_c)
        p = score_test_p_value(x_t, n_t, x_c, n_c)
        if abs(p - 0.05) > 1e-6:
            assert (low > 0 or high < 0) == (p < 0.05), (x_t, n_t, x_c, n_c, low, high, p)


def test_welch_interval_matches_scipy():
    rng = np.random.default_rng(5)
    a, b = rng.exponential(100, 50), rng.exponential(80, 12)
    expected = stats.ttest_ind(a, b, equal_var=False).confidence_interval(0.9)
    got = welch_interval(a.mean(), a.var(ddof=1), len(a), b.mean(), b.var(ddof=1), len(b), 0.9)
    assert got == pytest.approx((expected.low, expected.high))
    assert welch_interval(5.0, 0.0, 3, 2.0, 0.0, 4) == (3.0, 3.0)


# --- verdicts on hand-built campaigns -------------------------------------------------------


def _campaign(treated: int, treated_kept: int, control: int, control_kept: int):
    """Campaign 'c': ``treated`` + ``control`` users issued at ISSUED; the first ``*_kept`` of each group buy 50 at +1 day."""
    coupons, orders, user = [], [], 0
    for group, n, kept in ((T, treated, treated_kept), (CTL, control, control_kept)):
        for i in range(n):
            user += 1
            coupons.append((user, user, ISSUED, "c", group, None))
            if i < kept:
                orders.append((user, ISSUED + DAY, 50.0, PAID))
    return _tables(coupons, orders)


def test_verdict_of_a_measured_gain():
    # 60 of 100 treated kept, 30 of 100 held out: +30 points, MN interval about +16.6 to +42.4 points.
    r = campaign_readout(_campaign(100, 60, 100, 30), "c", as_of=AS_OF)
    low, high = retention_difference_interval(60, 100, 30, 100)
    assert 0.15 < low < 0.3 < high < 0.45
    e, v = r.effect, r.verdict
    assert v.kind == "gain"
    # 30 kept users; coupons cost 100 x 10 = 1,000: 33 per kept user, 1000 / (100 high) to 1000 / (100 low).
    assert e.cost_per_incremental_retained_user == pytest.approx(1000 / 30)
    assert e.cost_per_incremental_retained_user_interval == pytest.approx((1000 / (100 * high), 1000 / (100 * low)))
    assert v.text.startswith(
        f"The coupons kept 30 more users than the holdout would have (95 % interval {round(100 * low)} to {round(100 * high)}): "
        f"a measured gain. Cost per kept user 33 ({1000 / (100 * high):,.0f} to {1000 / (100 * low):,.0f})."
    )
    # Spend: 30 more buyers of 50 each: +1,500 in total, its Welch interval above 0.
    assert "Spend: the treated users spent 1,500 more in total (95 % interval" in v.text
    assert v.minimum_detectable_effect is None


def test_verdict_of_a_measured_loss():
    r = campaign_readout(_campaign(100, 30, 100, 60), "c", as_of=AS_OF)
    v = r.verdict
    assert v.kind == "loss" and r.effect.cost_per_incremental_retained_user is None
    low, high = retention_difference_interval(30, 100, 60, 100)
    assert v.text.startswith(
        f"The treated users came back less: 30 fewer kept than the holdout would have "
        f"(95 % interval {round(-100 * high)} to {round(-100 * low)} fewer): a measured loss."
    )
    assert "Spend: the treated users spent 1,500 less in total" in v.text
    assert "Cost per kept user" not in v.text


def test_verdict_of_an_inconclusive_campaign_gives_the_power_figures():
    # 50 of 100 treated, 10 of 20 held out: no difference, and a holdout far too small to see 3 points.
    r = campaign_readout(_campaign(100, 50, 20, 10), "c", as_of=AS_OF)
    v = r.verdict
    assert v.kind == "inconclusive" and r.effect.cost_per_incremental_retained_user is None
    mde = minimum_detectable_effect(0.5, 100, 20)
    assert v.minimum_detectable_effect == pytest.approx(mde) and 0.3 < mde < 0.4
    # With only 100 treated users a 3-point effect cannot be seen whatever the holdout: (0.03 / 2.80)^2 < 0.53 * 0.47 / 100.
    assert v.stated_effect == 0.03 and v.holdout_needed is None
    assert v.text.startswith(
        f"No measurable effect: retention {100 * r.effect.retention_difference_interval[0]:+.1f} to "
        f"{100 * r.effect.retention_difference_interval[1]:+.1f} points (95 % interval, includes 0). "
        f"With 20 users held out, only an effect above {100 * mde:.1f} points could have been seen (80 % power). "
        "A 3-point effect cannot be seen with 100 treated users, however many are held out."
    )
    assert "Spend: no measurable difference (+0 in total" in v.text
    # A stated effect of 30 points with the same 100 treated users needs a holdout larger than 20.
    wider = campaign_readout(_campaign(100, 50, 20, 10), "c", as_of=AS_OF, stated_effect=0.3).verdict
    assert wider.holdout_needed == holdout_needed(0.5, 0.3, 100) and wider.holdout_needed > 20
    assert f"To see a 30-point effect, hold out {wider.holdout_needed:,} users." in wider.text
    assert readout_dict(r)["verdict"]["kind"] == "inconclusive"
    with pytest.raises(ConfigError, match="stated effect 0"):
        campaign_readout(_campaign(100, 50, 20, 10), "c", as_of=AS_OF, stated_effect=0)


def test_campaign_without_control_has_no_verdict():
    r = campaign_readout(_tables([row for row in COUPON_ROWS if row[4] == T]), "spring", as_of=AS_OF)
    assert r.verdict.kind == "unmeasured" and "nobody was held out" in r.verdict.text


def test_power_calculation_matches_the_textbook_sample_size():
    # Two groups, 50 % vs 60 %, alpha 0.05 two-sided, power 0.8: n = (1.960 + 0.842)^2 (0.25 + 0.24) / 0.1^2 = 384.6,
    # so 385 per group (Fleiss, Statistical Methods for Rates and Proportions, unpooled-variance formula).
    assert holdout_needed(0.5, 0.1, 385) in (384, 385)
    # The minimum detectable effect is the inverse: with 385 in each group it is 10 points.
    assert minimum_detectable_effect(0.5, 385, 385) == pytest.approx(0.1, abs=0.001)
    # More users, a smaller detectable effect; a higher power, a larger one.
    assert minimum_detectable_effect(0.5, 1000, 1000) < minimum_detectable_effect(0.5, 1000, 100)
    assert minimum_detectable_effect(0.5, 1000, 100, power=0.9) > minimum_detectable_effect(0.5, 1000, 100)
    # The empirical power of the score test at the minimum detectable effect is close to 80 %.
    rng = np.random.default_rng(3)
    n_t, n_c, p_c = 400, 300, 0.3
    d = minimum_detectable_effect(p_c, n_t, n_c)
    found = [
        retention_difference_interval(int(rng.binomial(n_t, p_c + d)), n_t, int(rng.binomial(n_c, p_c)), n_c)[0] > 0
        for _ in range(400)
    ]
    assert 0.72 < np.mean(found) < 0.88


# --- against the simulator's ground truth -------------------------------------------


CAMPAIGN = "618-warmup-2025"  # issued 2025-06-01; the truth at 2025-05-31 is for a coupon that day
NIGHT_BEFORE = "2025-05-31"


@pytest.fixture(scope="module")
def simulated(tmp_path_factory):
    out = simulate(SimulationConfig(users=6000, days=183, seed=21), tmp_path_factory.mktemp("campaign") / "data").out
    dataset = load_dataset(out)
    return out, {name: dataset.table(name) for name in dataset.tables}


def test_simulated_campaign_agrees_with_the_truth(simulated):
    out, tables = simulated
    r = campaign_readout(tables, CAMPAIGN, as_of="2025-07-01")
    assert r.pending_users == 0 and r.treatment.users > 500 and r.control.users > 50
    truth = duckdb.sql(
        f"""
        WITH c AS (SELECT user_id, "group" AS g FROM '{out}/coupons.parquet' WHERE campaign_id = '{CAMPAIGN}'),
        churn AS (SELECT user_id, {P_CHURN} AS p FROM '{out}/{TRUTH_DIR}/{TRUTH_CHURN}.parquet' WHERE as_of = '{NIGHT_BEFORE}'),
        eff AS (SELECT user_id, {EFFECT} AS e FROM '{out}/{TRUTH_DIR}/{TRUTH_COUPON_EFFECT}.parquet' WHERE as_of = '{NIGHT_BEFORE}')
        SELECT coalesce(g, 'none') AS g, count(*) AS n, sum(1 - p) AS expected, sqrt(sum(p * (1 - p))) AS sd, avg(-e) AS uplift
        FROM churn JOIN eff USING (user_id) LEFT JOIN c USING (user_id) GROUP BY 1
        """
    ).df().set_index("g")
    # Each group's retained count is what the exact truth expects of those very users, within 4 standard deviations.
    for name, fig in ((T, r.treatment), (CTL, r.control)):
        assert fig.users == truth.loc[name, "n"]
        assert abs(fig.retained - truth.loc[name, "expected"]) < 4 * truth.loc[name, "sd"], name
    # The true average effect of the coupon on 30-day retention, over the users the campaign drew from
    # (treated users' effect is 0 in the truth: their coupon is already in the plan), lies in the interval.
    population = truth.loc[[CTL, "none"]]
    true_effect = (population["uplift"] * population["n"]).sum() / population["n"].sum()
    low, high = r.effect.retention_difference_interval
    assert low <= true_effect <= high
    # So does the difference the truth expects between these two groups (chance imbalance included).
    expected_gap = truth.loc[T, "expected"] / truth.loc[T, "n"] - truth.loc[CTL, "expected"] / truth.loc[CTL, "n"]
    assert low <= expected_gap <= high
    assert r.coupons.coupon_cost == 30.0 * r.treatment.users
    assert 0.1 < r.coupons.redemption_rate < 0.6
