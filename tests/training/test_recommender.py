"""The first-category recommender on hand-built new users with a known rule, its baselines and hit rates."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
import pytest

from features.errors import ConfigError
from features.first_purchase import EVENTS_TOTAL, PROFILE
from training.recommender import (
    CategoryRecommender,
    MostBrowsedRecommender,
    PopularityRecommender,
    depth,
    hit_rates,
)

CATEGORIES = ("apparel", "beauty", "digital", "fresh", "home")


def users(n: int, seed: int) -> tuple[pd.DataFrame, pd.Series]:
    """The rule: a user who browsed buys the category they carted (views are noise); a user who browsed nothing
    buys digital in the south and fresh elsewhere. Fresh is the most common first category overall (0.36,
    apparel 0.24, digital 0.22), so popularity alone gets the south's non-browsers wrong."""
    rng = np.random.default_rng(seed)
    rows, bought = [], []
    for i in range(n):
        region = rng.choice(["south", "north", "east"])
        row = {"channel": rng.choice(["organic", "ads"]), "region": region, "city_tier": str(rng.integers(1, 5)), "signup_quarter": "Q1"}
        browses = rng.random() < 0.6
        carted = rng.choice(CATEGORIES, p=[0.4, 0.15, 0.15, 0.15, 0.15]) if browses else None
        for c in CATEGORIES:
            row[f"views_{c}"] = int(rng.poisson(2)) if browses else 0
            row[f"carts_{c}"] = int(c == carted)
        row[EVENTS_TOTAL] = sum(row[f"views_{c}"] + row[f"carts_{c}"] for c in CATEGORIES)
        if browses and row[EVENTS_TOTAL] == 0:
            row[EVENTS_TOTAL] = 1
        rows.append(row)
        bought.append(carted if browses else ("digital" if region == "south" else "fresh"))
        row["as_of"] = dt.date(2025, 1, 1) + dt.timedelta(days=7 * (i % 8))
    return pd.DataFrame(rows), pd.Series(bought)


@pytest.fixture(scope="module")
def fitted():
    X, y = users(3000, seed=1)
    return CategoryRecommender().fit(X, y), PopularityRecommender().fit(X, y), MostBrowsedRecommender().fit(X, y)


def test_the_model_learns_both_the_browsing_and_the_profile_rule(fitted):
    model, popularity, _ = fitted
    X, y = users(1000, seed=2)
    top = model.recommend(X)
    assert top.columns.tolist() == ["category_1", "category_2", "category_3"]
    assert (top["category_1"] == y).mean() > 0.95
    quiet = X[EVENTS_TOTAL] == 0
    assert (top.loc[quiet, "category_1"] == y[quiet]).all()
    assert popularity.recommend(X).iloc[0].tolist()[0] == "fresh"


def test_every_row_gets_k_distinct_categories(fitted):
    model, *_ = fitted
    X, _ = users(200, seed=3)
    top = model.recommend(X, k=3)
    assert top.notna().all().all()
    assert (top.nunique(axis=1) == 3).all()
    proba = model.predict_proba(X)
    assert np.allclose(proba.sum(axis=1), 1.0)
    assert list(proba.columns) == sorted(CATEGORIES)


def test_the_model_beats_popularity_out_of_sample_and_most_browsed_where_nothing_was_browsed(fitted):
    model, popularity, browsed = fitted
    X, y = users(1000, seed=4)
    table = hit_rates({"model": model.recommend(X, k=1), "popularity": popularity.recommend(X, k=1), "most browsed": browsed.recommend(X, k=1)}, y, X[EVENTS_TOTAL])
    assert table.loc["model", "all"] > table.loc["popularity", "all"] + 0.3
    assert table.loc["model", "no browsing"] > table.loc["most browsed", "no browsing"] + 0.3
    assert table.loc["users", "all"] == 1000


def test_a_profile_value_never_seen_falls_back_to_the_overall_prior(fitted):
    model, *_ = fitted
    X, _ = users(5, seed=5)
    X[list(PROFILE)] = "never-seen"
    for c in CATEGORIES:
        X[f"views_{c}"] = 0
        X[f"carts_{c}"] = 0
    X[EVENTS_TOTAL] = 0
    proba = model.predict_proba(X)
    assert np.allclose(proba.to_numpy(), proba.to_numpy()[0])  # everyone alike
    assert proba.iloc[0].idxmax() == model.popularity_.idxmax()


def test_hit_rates_and_depths_are_hand_computed():
    actual = pd.Series(["a", "b", "c", "d"])
    recommended = {"r": pd.DataFrame({"category_1": ["a", "x", "c", "x"], "category_2": ["x", "b", "x", "x"]})}
    events = pd.Series([0, 3, 6, 12])
    table = hit_rates(recommended, actual, events)
    assert depth(events).tolist() == ["no browsing", "1-5 events", "6+ events", "6+ events"]
    assert table.loc["r"].tolist() == [0.75, 1.0, 1.0, 0.5]
    assert table.loc["users"].tolist() == [4, 1, 1, 2]


def test_bad_input_is_named():
    with pytest.raises(ConfigError, match="no new user with a first purchase"):
        CategoryRecommender().fit(pd.DataFrame(columns=[*PROFILE, EVENTS_TOTAL]), [])
    X, y = users(100, seed=6)
    model = CategoryRecommender().fit(X, y)
    with pytest.raises(ConfigError, match="recommender input lacks column region"):
        model.recommend(X.drop(columns=["region"]))
