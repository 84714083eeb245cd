"""The vectorised reasons give exactly the words of the straightforward per-row loop they replaced.

``reference_reasons`` below is the original implementation of
:func:`serving.batch.reasons.reasons` (a ``DataFrame.iterrows`` loop that sorts each
row), copied unchanged apart from names. It is the straightforward reference
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

# ---- straightforward reference: the original per-row loop, used only to check equivalence ----
# It walks each row's contributions sorted with pandas, as the first implementation did; the wording
# comes from the shared templates (serving.batch.reasons.template), which have their own tests.

Row = pd.Series


def _num(value: object) -> float | None:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return None
    return float(value)


def _say_row(name: str) -> tuple[str, Callable[[Row], str | None]]:
    t = template(name)
    return t.group, lambda row: t.say(*((_num(row.get(c)) if t.numbers else row.get(c)) for c in t.reads))


def reference_reasons(contributions: pd.DataFrame, features: pd.DataFrame, top: int = 3) -> list[list[str]]:
    """The original per-row implementation, kept only as the reference for the equivalence tests."""
    out: list[list[str]] = []
    columns = [c for c in contributions.columns if c != "baseline"]
    values = contributions[columns]
    for index, row in values.iterrows():
        said: list[str] = []
        groups: set[str] = set()
        for name, weight in row.sort_values(ascending=False).items():
            if weight <= 0 or len(said) == top:
                break
            group, say = _say_row(name)
            if group in groups:
                continue
            text = say(features.loc[index])
            if text:
                said.append(text)
                groups.add(group)
        out.append(said)
    return out


# ---- end of the reference ----


def assert_same(contributions: pd.DataFrame, features: pd.DataFrame, tops: tuple[int, ...] = (3,)) -> list[list[str]]:
    """Both implementations give the same reasons for every row at every ``top``; returns those of ``tops[0]``."""
    first = None
    for top in tops:
        expected = reference_reasons(contributions, features, top)
        got = reasons(contributions, features, top)
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
    assert sum(len(r) == 3 for r in got) > 0.9 * len(got)  # the comparison covers real, full reason lists


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
    # order_gap_median and spend_90d are not in the frame: no usual gap, and "missing" for the generic feature.
    features = _frame(days_since_last_order=[46.2, np.nan], complaints_30d=[2, 1])
    contributions = _frame(order_overdue=[1.1, 0.9], spend_90d=[0.5, 0.4], complaints_30d=[0.2, 0.3], order_gap_std=[0.1, 0.1])
    got = assert_same(contributions, features)
    assert got[0][0] == "46 days since last order" and got[1][0] == "no purchase yet"
    assert got[0][1] == "2 complaints in the last 30 days"


def test_value_types_as_a_row_shows_them():
    # Mixed frame: an int count stays an int ("12345"); all-number frame: the row is float ("1.23e+04").
    mixed = _frame(orders_all=[12345, 2], spend_all=[1234.5678, np.nan], region=pd.Categorical(["north", None]), flag=[True, False])
    numbers = mixed[["orders_all", "spend_all"]]
    contributions = _frame(orders_all=[0.3, 0.2], spend_all=[0.2, 0.3], region=[0.1, 0.4], flag=[0.05, 0.05])
    got = assert_same(contributions, mixed, tops=(4,))
    assert got[0][:2] == ["12345 purchases ever", "spent in all: 1,235"]
    got = assert_same(contributions[["orders_all", "spend_all"]], numbers)
    assert got[0][0] == "12345 purchases ever"
    strings = _frame(region=pd.Series(["north", None], dtype="str"), city_tier=pd.Series(["1", "2"], dtype="str"))
    assert_same(contributions[["region"]].assign(city_tier=[0.1, 0.2]), strings)
    float32 = _frame(spend_all=np.array([1234.5678, 2.5], dtype="float32"), region=["a", "b"])
    assert_same(contributions[["spend_all"]], float32)


def test_empty_inputs():
    features = _frame(days_since_last_order=pd.Series([], dtype=float))
    assert reasons(_frame(days_since_last_order=pd.Series([], dtype=float), baseline=pd.Series([], dtype=float)), features) == []
    only_baseline = _frame(baseline=[0.1, 0.2])
    assert reasons(only_baseline, _frame(days_since_last_order=[1.0, 2.0])) == [[], []]
    assert_same(only_baseline, _frame(days_since_last_order=[1.0, 2.0]))
