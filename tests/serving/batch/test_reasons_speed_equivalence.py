"""The vectorised reasons give exactly the words of a straightforward per-row loop.

``reference_reasons`` below walks each row on its own with Python's sort; it is
used only to check equivalence here: nothing else imports it.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np
import pandas as pd
import pytest

from features.catalog import BY_NAME, FEATURE_NAMES
from serving.batch.reasons import TEMPLATES, reasons, template
from serving.batch.themes import covers

# ---- straightforward reference: a per-row loop, used only to check equivalence ----
# It walks each row's contributions sorted with Python's stable sort; the wording comes from the shared
# templates (serving.batch.themes), which have their own tests.


def _num(value: object) -> float | None:
    if value is None or value is pd.NA or (isinstance(value, float) and math.isnan(value)):
        return None
    return float(value)


def _text(value: object) -> str | None:
    return None if value is None or value is pd.NA or (isinstance(value, float) and math.isnan(value)) else str(value)


def reference_reasons(contributions: pd.DataFrame, features: pd.DataFrame, risk, top: int = 3) -> list[list[str]]:
    """Per row: strongest first in the row's direction, one theme each, no repeated words."""
    out: list[list[str]] = []
    columns = [c for c in contributions.columns if c != "baseline"]
    risk = np.broadcast_to(np.asarray(risk, dtype=bool), (len(contributions),))
    for i, index in enumerate(contributions.index):
        r = bool(risk[i])
        row = [float(contributions.at[index, c]) * (1 if r else -1) for c in columns]
        ranked = sorted(range(len(columns)), key=lambda j: -row[j] if not math.isnan(row[j]) else math.inf)
        said: list[str] = []
        used: set[str] = set()
        for j in ranked:
            if not row[j] > 0 or len(said) >= top:
                break
            t = template(columns[j])
            if t is None or t.theme in used:
                continue
            pick = _num if t.numbers else _text
            text = t.say(r, *(pick(features.at[index, c]) if c in features.columns else None for c in t.reads))
            if not text or text in said or used & set(covers(text, t.theme)):
                continue
            said.append(text)
            used |= set(covers(text, t.theme))
        out.append(said)
    return out


# ---- end of the reference ----


def assert_same(contributions: pd.DataFrame, features: pd.DataFrame, tops: tuple[int, ...] = (3,), risk=None) -> list[list[str]]:
    """Both implementations give the same reasons for every row at every ``top``; returns those of ``tops[0]``.

    risk: each row's direction (default: alternating risk, keep, risk...).
    """
    first = None
    if risk is None:
        risk = np.arange(len(contributions)) % 2 == 0
    for top in tops:
        expected = reference_reasons(contributions, features, risk, top)
        got = reasons(contributions, features, risk, top)
        assert len(got) == len(expected)
        differ = [i for i, (a, b) in enumerate(zip(got, expected)) if a != b]
        assert not differ, f"top={top}: {len(differ)} rows differ, first row {differ[0]}: {got[differ[0]]} != {expected[differ[0]]}"
        first = got if first is None else first
    return first


# ---- a realistic frame: a small model on simulated data ----


@pytest.fixture(scope="module")
def scored(small_model):
    """Contributions and features of the session's small model (tests/conftest.py) at 2025-08-31."""
    return small_model.model.contributions(small_model.features), small_model.features


@pytest.mark.slow
def test_same_reasons_as_the_reference_on_a_fitted_model(scored):
    contributions, features = scored
    got = assert_same(contributions, features, tops=(3, 1, 6))
    assert len(got) == len(features) > 200
    assert sum(len(r) == 3 for r in got) > 0.6 * len(got)  # the comparison covers real, full reason lists


@pytest.mark.slow
def test_same_reasons_in_small_chunks_and_any_row_order(scored, monkeypatch):
    contributions, features = scored
    shuffled = np.random.default_rng(5).permutation(len(features))
    features = features.iloc[shuffled].set_index(pd.Index(shuffled * 10 + 7))  # labels neither 0..n nor in order
    contributions = contributions.iloc[shuffled].set_index(features.index)
    contributions = contributions.iloc[::-1]  # matched to the features by label, not by position
    monkeypatch.setattr("serving.batch.reasons.CHUNK_ROWS", 97)
    assert_same(contributions, features)


# ---- hand-made edge cases ----


def _frame(**columns) -> pd.DataFrame:
    return pd.DataFrame(columns)


def test_missing_values_every_template():
    names = list(TEMPLATES) + ["spend_90d", "main_category", "not_in_the_catalogue"]
    n = 3
    features = pd.DataFrame({name: [np.nan, 0.0, 1.0] for name in names if name != "main_category"})
    features["main_category"] = pd.Categorical([None, "apparel", "digital"])
    features["events_30d"] = np.array([0, 1, 2], dtype="int64")
    features["user_id"] = ["a", "b", "c"]
    for name in names:  # each feature alone raises the risk, so each template speaks (or not) on its own
        contributions = pd.DataFrame({c: [0.5 if c == name else -0.1] * n for c in names} | {"baseline": [0.0] * n})
        assert_same(contributions, features)
    # all at once, with distinct weights
    contributions = pd.DataFrame({c: np.linspace(1, 2, n) + i / 100 for i, c in enumerate(names)})
    assert_same(contributions, features, tops=(3, 50))


def test_all_negative_zero_and_nan_contributions():
    features = _frame(days_since_last_order=[10.0, 20.0, 30.0, 40.0], login_trend_30_60=[0.5, 2.0, np.nan, 1.0], spend_90d=[1.0, 2.0, 3.0, 4.0])
    contributions = _frame(
        days_since_last_order=[-0.1, 0.0, np.nan, 0.3],
        login_trend_30_60=[-0.2, 0.0, 0.4, np.nan],
        spend_90d=[-0.3, 0.0, np.nan, 0.2],
        baseline=[1.0, 1.0, 1.0, 1.0],
    )
    got = assert_same(contributions, features, tops=(3, 1, 0))
    assert got[0] == [] and got[1] == []  # nothing raises the risk: no reasons


def test_ties_keep_the_reference_order():
    # 40 features (the sort is not stable past 16 values), few distinct weights: many ties in every row.
    rng = np.random.default_rng(3)
    names = [n for n in FEATURE_NAMES if n in TEMPLATES or BY_NAME[n].kind.value != "category"][:40]
    features = pd.DataFrame({n: rng.choice([np.nan, 0.0, 0.4, 3.0, 17.6], size=500) for n in names})
    contributions = pd.DataFrame({n: rng.choice([-0.1, 0.0, 0.2, 0.5], size=500) for n in names})
    assert_same(contributions, features, tops=(3, 1, 10))
    same = pd.DataFrame({n: [0.25] * 3 for n in names})  # every contribution equal
    assert_same(same, features.head(3))
    whole = pd.DataFrame({n: rng.choice([-1, 0, 1, 2], size=500) for n in names})  # integer weights sort as integers
    assert_same(whole, features, tops=(3, -1))


@pytest.mark.parametrize("seed", range(4))
def test_random_frames_of_catalogue_features(seed):
    # Every catalogue feature in its own type (int counts, float numbers with NaN, categories with missing levels),
    # a random subset of features absent from the frame, contributions with ties, zeros and negatives.
    rng = np.random.default_rng(seed)
    n = 300
    features = {"user_id": np.arange(n)}
    for name in FEATURE_NAMES:
        kind = BY_NAME[name].kind.value
        if kind == "count":
            features[name] = rng.integers(0, 4, n)
        elif kind == "number":
            features[name] = np.where(rng.random(n) < 0.2, np.nan, rng.choice([0.0, 0.5, 1.0, 2.25, 48.6, 1e5], n))
        else:
            features[name] = pd.Categorical(rng.choice(["a", "b", None], n))
    frame = pd.DataFrame(features).drop(columns=list(rng.choice(FEATURE_NAMES, 8, replace=False)))
    contributions = pd.DataFrame({name: rng.choice([-0.3, 0.0, 0.1, 0.2, 0.35], n) + rng.normal(0, 0.01, n) * (seed % 2) for name in FEATURE_NAMES})
    contributions["baseline"] = -1.0
    assert_same(contributions, frame, tops=(3, 2, 7))


def test_optional_features_absent_from_the_frame():
    # order_gap_median and spend_90d are not in the frame: no usual gap, and nothing said about spend.
    features = _frame(days_since_last_order=[46.2, np.nan], complaints_30d=[2, 1])
    contributions = _frame(order_overdue=[1.1, 0.9], spend_90d=[0.5, 0.4], complaints_30d=[0.2, 0.3], order_gap_std=[0.1, 0.1])
    got = assert_same(contributions, features, risk=True)
    assert got == [["no order for about 7 weeks", "2 complaints in the last month"], ["no purchase yet", "1 complaint in the last month"]]


def test_value_types_as_a_row_shows_them():
    # Counts, floats, categories, text and booleans: numbers are said with thousands separators.
    mixed = _frame(orders_all=[12345, 2], spend_all=[1234.5678, np.nan], member_tier=pd.Categorical(["gold", None]), flag=[True, False])
    numbers = mixed[["orders_all", "spend_all"]]
    contributions = _frame(orders_all=[-0.3, 0.2], spend_all=[-0.2, 0.3], member_tier=[-0.1, 0.4], flag=[-0.05, 0.05])
    got = assert_same(contributions, mixed, tops=(4,), risk=np.array([False, True]))
    assert got == [["12,345 orders so far", "spent 1,235 in all", "gold member"], []]
    got = assert_same(contributions[["orders_all", "spend_all"]], numbers, risk=False)
    assert got[0] == ["12,345 orders so far", "spent 1,235 in all"]
    strings = _frame(region=pd.Series(["north", None], dtype="str"), city_tier=pd.Series(["1", "2"], dtype="str"))
    assert_same(contributions[["member_tier"]].rename(columns={"member_tier": "region"}).assign(city_tier=[0.1, 0.2]), strings)
    float32 = _frame(spend_all=np.array([1234.5678, 2.5], dtype="float32"), region=["a", "b"])
    assert_same(contributions[["spend_all"]], float32)


def test_empty_inputs():
    features = _frame(days_since_last_order=pd.Series([], dtype=float))
    assert reasons(_frame(days_since_last_order=pd.Series([], dtype=float), baseline=pd.Series([], dtype=float)), features) == []
    only_baseline = _frame(baseline=[0.1, 0.2])
    assert reasons(only_baseline, _frame(days_since_last_order=[1.0, 2.0])) == [[], []]
    assert_same(only_baseline, _frame(days_since_last_order=[1.0, 2.0]))
