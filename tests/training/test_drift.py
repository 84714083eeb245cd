"""Population stability index on hand-computed examples."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from training import drift


def test_numeric_profile_is_deciles_and_psi_matches_the_formula():
    train = pd.DataFrame({"x": np.arange(1.0, 11.0)})
    ref = drift.profile(train, [], score=np.arange(1.0, 11.0) / 10)
    column = ref["features"]["x"]
    assert column["edges"] == pytest.approx([1.9, 2.8, 3.7, 4.6, 5.5, 6.4, 7.3, 8.2, 9.1])
    assert column["shares"] == pytest.approx([0.1] * 10 + [0.0])  # ten bins and "missing"
    # Same distribution: nothing moved.
    assert drift.stability(ref, train, np.arange(1.0, 11.0) / 10) == {"x": pytest.approx(0.0), "score": pytest.approx(0.0)}
    # Everyone in the top bin: nine bins go from 0.1 to the floor, one from 0.1 to 1.
    moved = drift.stability(ref, pd.DataFrame({"x": [10.0] * 4}), np.full(4, 1.0))
    floor = drift.FLOOR
    expected = 9 * (floor - 0.1) * math.log(floor / 0.1) + (1 - 0.1) * math.log(1 / 0.1)
    assert moved["x"] == pytest.approx(expected) and moved["score"] == pytest.approx(expected)


def test_missing_values_have_their_own_bin():
    ref = drift.profile(pd.DataFrame({"x": [1.0, 2.0, np.nan, np.nan]}), [], score=np.zeros(4))
    assert ref["features"]["x"]["shares"][-1] == pytest.approx(0.5)
    now = drift.stability(ref, pd.DataFrame({"x": [np.nan] * 4}), np.zeros(4))
    shares = np.maximum(np.array(ref["features"]["x"]["shares"]), drift.FLOOR)
    actual = np.maximum(np.array([0.0] * (len(shares) - 1) + [1.0]), drift.FLOOR)
    assert now["x"] == pytest.approx(float(np.sum((actual - shares) * np.log(actual / shares))))


def test_categories_count_unseen_and_missing_apart():
    ref = drift.profile(pd.DataFrame({"tier": pd.Categorical(["a", "b", "a", "b"])}), ["tier"], score=np.zeros(4))
    assert ref["features"]["tier"]["levels"] == ["a", "b"]
    assert ref["features"]["tier"]["shares"] == pytest.approx([0.5, 0.5, 0.0, 0.0])
    now = drift.stability(ref, pd.DataFrame({"tier": ["a", "c", "a", "c"]}), np.zeros(4))  # strings, as from a file
    f = drift.FLOOR
    assert now["tier"] == pytest.approx(2 * (0.5 - f) * math.log(0.5 / f))


def test_a_small_shift_is_small():
    rng = np.random.default_rng(0)
    train = pd.DataFrame({"x": rng.normal(size=20_000)})
    ref = drift.profile(train, [], score=rng.random(20_000))
    same = drift.stability(ref, pd.DataFrame({"x": rng.normal(size=20_000)}), rng.random(20_000))
    shifted = drift.stability(ref, pd.DataFrame({"x": rng.normal(loc=1.0, size=20_000)}), rng.random(20_000))
    assert same["x"] < 0.01 and same["score"] < 0.01
    assert shifted["x"] > 0.25  # a one-standard-deviation shift is a changed population
