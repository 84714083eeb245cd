"""The dashboard's figures on two hand-made nights, and the page built from them (no browser here).

previous night (2025-08-24)            tonight (2025-08-31)
  u1 high   0.80 gold                    u1 high   0.85 gold      still high
  u2 high   0.70 silver                  u2 medium 0.50 silver    recovered
  u3 medium 0.40 gold                    u3 high   0.65 gold      newly at risk (was medium)
  u4 low    0.10 silver                  u4 low    0.20 silver
  u5 high   0.90 gold                    -                        left the population
  -                                      u6 high   0.70 (no tier) newly at risk (not scored before)
  -                                      u7 low    0.05 silver
Bands tonight: high 3, medium 1, low 2 (before: high 3, medium 1, low 1).
"""

from __future__ import annotations

import datetime as dt
import re

import numpy as np
import pandas as pd
import pytest

from serving.columns import SCORE_COLUMNS
from serving.reports import panels
from serving.reports.page import PANELS, nightly_page
from serving.reports.sources import ModelQuality, NightlyInputs, RunInfo

TONIGHT, BEFORE = dt.date(2025, 8, 31), dt.date(2025, 8, 24)
LONG_GAP = "61 days since last order; usual gap 18 days"


def _scores(rows, day: dt.date) -> pd.DataFrame:
    """rows: (user, probability, band, value at risk, member tier, reason_1, reason_2)."""
    user, p, band, value, tier, r1, r2 = zip(*rows, strict=True)
    n = len(rows)
    return pd.DataFrame(
        {
            "user_id": list(user), "as_of": day, "probability": list(p), "risk_band": list(band),
            "percentile": np.linspace(100, 10, n), "reason_1": list(r1), "reason_2": list(r2), "reason_3": None,
            "value_at_risk": list(value), "member_tier": list(tier), "city_tier": "1", "region": "east",
            "channel": ["app"] * (n - 1) + ["web"], "top_category": "books", "model_name": "churn", "model_version": "3",
            "scored_at": pd.Timestamp(day) + pd.Timedelta(hours=27),
        }
    )[list(SCORE_COLUMNS)]  # fmt: skip


PREVIOUS = _scores(
    [
        ("u1", 0.80, "high", 500.0, "gold", LONG_GAP, None),
        ("u2", 0.70, "high", 300.0, "silver", "2 unresolved tickets", None),
        ("u3", 0.40, "medium", 200.0, "gold", "buys in 1 category", None),
        ("u4", 0.10, "low", 50.0, "silver", "mean rating 4.5 of 5", None),
        ("u5", 0.90, "high", 900.0, "gold", LONG_GAP, None),
    ],
    BEFORE,
)
TONIGHT_SCORES = _scores(
    [
        ("u1", 0.85, "high", 500.0, "gold", LONG_GAP, "no purchases in the last 30 days"),
        ("u2", 0.50, "medium", 300.0, "silver", "2 unresolved tickets", None),
        ("u3", 0.65, "high", 200.0, "gold", "5 days since last order; usual gap 2 days", "3 unresolved tickets"),
        ("u4", 0.20, "low", 50.0, "silver", "mean rating 4.5 of 5", None),
        ("u6", 0.70, "high", 800.0, None, "1 day since last order; usual gap 1 day", "no purchases in the last 30 days"),
        ("u7", 0.05, "low", 10.0, "silver", "no purchases in the last 90 days", None),
    ],
    TONIGHT,
)


def test_band_counts_and_change_since_the_previous_run():
    counts = panels.band_counts(TONIGHT_SCORES, PREVIOUS)
    assert counts.index.tolist() == ["high", "medium", "low"]
    assert counts["users"].tolist() == [3, 1, 2]
    assert counts["previous"].tolist() == [3, 1, 1] and counts["change"].tolist() == [0, 0, 1]
    assert counts["value_at_risk"].tolist() == [1500.0, 300.0, 60.0]
    assert counts["share"].tolist() == pytest.approx([0.5, 1 / 6, 1 / 3])
    alone = panels.band_counts(TONIGHT_SCORES, None)
    assert alone["previous"].isna().all() and alone["change"].isna().all()


def test_score_histogram_counts_every_user_in_its_bin():
    edges, now, before = panels.score_histogram(TONIGHT_SCORES, PREVIOUS, bins=10)
    assert edges.tolist() == pytest.approx(np.linspace(0, 1, 11).tolist())
    # 0.05 -> bin 0, 0.20 -> 2, 0.50 -> 5, 0.65 -> 6, 0.70 -> 7, 0.85 -> 8
    assert now.tolist() == [1, 0, 1, 0, 0, 1, 1, 1, 1, 0]
    assert before.sum() == 5 and before.tolist()[9] == 1


def test_bands_by_segment_count_users_and_rates_with_missing_values_as_unknown():
    tiers = panels.segment_bands(TONIGHT_SCORES)["member_tier"]
    assert tiers["member_tier"].tolist() == ["gold", "unknown", "silver"]  # high rate 1, 1, 0
    assert tiers["users"].tolist() == [2, 1, 3] and tiers["high"].tolist() == [2, 1, 0]
    assert tiers["medium"].tolist() == [0, 0, 1] and tiers["low"].tolist() == [0, 0, 2]
    assert tiers["high_rate"].tolist() == [1.0, 1.0, 0.0]
    assert tiers["mean_probability"].tolist() == pytest.approx([0.75, 0.70, 0.25])
    channels = panels.segment_bands(TONIGHT_SCORES)["channel"]
    assert dict(zip(channels["channel"], channels["users"], strict=True)) == {"app": 5, "web": 1}


@pytest.mark.parametrize(
    ("text", "kind"),
    [
        (LONG_GAP, "N days since last order; usual gap N days"),
        ("1 day since last order; usual gap 1 day", "N days since last order; usual gap N days"),
        ("no purchases in the last 30 days", "no purchases in the last 30 days"),  # the window stays
        ("1 unresolved ticket", "N unresolved tickets"),
        ("buys in 1 category", "buys in N categories"),
        ("spent 1,234 in the last 90 days", "spent N in the last 90 days"),
        ("logins down 40 % vs the previous 4 weeks", "logins down N % vs the previous 4 weeks"),
    ],
)
def test_reason_kind_drops_the_users_numbers_and_keeps_windows(text, kind):
    assert panels.reason_kind(text) == kind


def test_most_common_reasons_of_the_high_band_overall_and_per_segment():
    top = panels.top_reasons(TONIGHT_SCORES)
    # high: u1, u3, u6. The long-gap reason: all three; no purchases in 30 days: u1, u6; tickets: u3.
    assert top["reason"].tolist() == ["N days since last order; usual gap N days", "no purchases in the last 30 days", "N unresolved tickets"]
    assert top["users"].tolist() == [3, 2, 1]
    assert top["share"].tolist() == pytest.approx([1.0, 2 / 3, 1 / 3])
    tiers = panels.reasons_by_segment(TONIGHT_SCORES, top=2)["member_tier"]
    assert tiers["member_tier"].tolist() == ["gold", "unknown", "silver"]
    assert tiers["users"].tolist() == [2, 1, 0]
    assert tiers["reasons"].iloc[0] == [("N days since last order; usual gap N days", 1.0),
                                        ("N unresolved tickets", 0.5)]  # fmt: skip
    assert tiers["reasons"].iloc[2] == []


def test_movers_between_the_two_nights():
    moved = panels.movers(TONIGHT_SCORES, PREVIOUS)
    newly = moved["newly_at_risk"]
    assert newly["user_id"].tolist() == ["u6", "u3"]  # most value at risk first
    assert newly["previous_band"].tolist() == ["not scored", "medium"]
    assert moved["recovered"]["user_id"].tolist() == ["u2"] and moved["recovered"]["previous_probability"].tolist() == [0.7]
    assert moved["left"] == 1  # u5
    none = panels.movers(TONIGHT_SCORES, None)
    assert none["newly_at_risk"].empty and none["recovered"].empty and none["left"] == 0


COUPONS = pd.DataFrame(
    {
        "user_id": ["u1", "u3", "u6", "u2"],
        "group": ["treatment", "treatment", "control", "treatment"],
        "action": ["callback", "coupon", "coupon", "coupon"],
        "value": [0.0, 20.0, 0.0, 20.0],
        "expected_value": [900.0, 15.5, 30.0, 4.5],
    }
)


def test_coupon_list_figures():
    assert panels.coupon_list_figures(COUPONS) == {
        "users": 4, "coupons": 2, "callbacks": 1, "control": 1, "cost": 40.0, "expected_value": 920.0,
    }  # fmt: skip


def _run(day: dt.date, checks: dict) -> RunInfo:
    return RunInfo("churn", day, "3", 6, dt.datetime(2025, 9, 1, 3, 0), checks)


def _figures(page: str) -> dict[str, str]:
    return {name: re.sub(r"<[^>]+>", "", value).strip() for name, value in re.findall(r'data-figure="([^"]+)">(.*?)</', page)}


def test_the_page_has_every_panel_with_its_numbers_and_fetches_nothing():
    checks = {
        "row_count": {"status": "ok", "message": "6 rows vs 5 in the previous run (+20%; a drop over 20% fails)"},
        "drift": {"status": "warn", "message": "churn: population stability index over 0.1 for recency 0.14",
                  "psi": {"recency": 0.14, "days_since_last_coupon": 0.9}, "ignored": ["days_since_last_coupon"]},
    }  # fmt: skip
    inputs = NightlyInputs(
        as_of=TONIGHT, scores=TONIGHT_SCORES, run=_run(TONIGHT, checks), previous=PREVIOUS, previous_run=_run(BEFORE, {}),
        activation_run=None, lists={"coupons": COUPONS}, quality=ModelQuality(0.77, 54.0, "good", "2025-07-31"),
        readouts=[], notes=["no at-risk list for 2025-08-31"],
    )  # fmt: skip
    page = nightly_page(inputs)
    for name in PANELS:
        assert f'data-panel="{name}"' in page, name
    f = _figures(page)
    assert (f["band-high-users"], f["band-medium-users"], f["band-low-users"], f["band-low-change"]) == ("3", "1", "2", "+1")
    assert (f["newly-at-risk"], f["recovered"], f["left"]) == ("2", "1", "1")
    assert (f["seg-member_tier-gold-users"], f["seg-member_tier-gold-high"], f["seg-member_tier-unknown-users"]) == ("2", "2", "1")
    assert f["reason-1"] == "N days since last order; usual gap N days"
    assert (f["list-coupons"], f["coupon-cost"], f["expected-value"]) == ("4", "40", "920")
    assert (f["check-churn-drift"], f["check-churn-row_count"]) == ("warn", "ok")
    assert (f["model-version"], f["quality-grade"], f["roc-auc"]) == ("churn v3", "54 of 100: good", "0.770")
    assert "days_since_last_coupon (calendar: not judged)" in page
    assert "no at-risk list for 2025-08-31" in page
    # Self-contained: no script, nothing fetched from elsewhere (the SVG namespace is a name, not a fetch).
    assert "<script" not in page and "url(" not in page and "@import" not in page
    assert not re.search(r'(src|href)="(https?:)?//', page)


def test_the_retention_panel_shows_each_tiers_monthly_rates():
    from serving.crm.retention import retention
    from tests.serving.crm.test_retention import AS_OF as RETENTION_AS_OF
    from tests.serving.crm.test_retention import tables as retention_tables

    frame = retention(retention_tables(), RETENTION_AS_OF, by="member_tier", months=6)
    inputs = NightlyInputs(
        as_of=TONIGHT, scores=TONIGHT_SCORES, run=_run(TONIGHT, {}), previous=None, previous_run=None, activation_run=None,
        lists={}, quality=None, readouts=[], retention=frame,
    )  # fmt: skip
    f = _figures(nightly_page(inputs))
    # the hand-computed shop of the retention tests: gold 2/2, 1/1, 0/1; regular has no observed month 2
    assert (f["retention-gold-m0"], f["retention-gold-m1"], f["retention-gold-m2"]) == ("100.0 %", "100.0 %", "0.0 %")
    assert (f["retention-regular-m1"], f["retention-regular-m2"], f["retention-regular-m3"]) == ("100.0 %", "", "100.0 %")
    empty = nightly_page(NightlyInputs(**{**inputs.__dict__, "retention": None}))
    assert 'data-panel="retention"' in empty and "retention-gold-m0" not in empty
