"""Scoring a population: one row per user, readable reasons, deterministic."""

from __future__ import annotations

import datetime as dt

import pandas as pd
import pytest

from serving.batch.scoring import BAND, PERCENTILE, PROBABILITY, REASONS, SCORE_COLUMNS, VALUE_AT_RISK, score_frame

AS_OF = "2025-08-31"
RUN = dt.datetime(2025, 9, 1, 2, 0)


@pytest.fixture(scope="module")
def fitted(small_model):
    """The session's small model (tests/conftest.py) and the churn population's features at AS_OF."""
    assert small_model.as_of == AS_OF
    return small_model.model, small_model.features


def test_scores_table(fitted):
    model, features = fitted
    scores = score_frame(features, model, as_of=AS_OF, model_name="churn", model_version="3", scored_at=RUN)
    assert tuple(scores.columns) == SCORE_COLUMNS
    assert len(scores) == len(features) and scores["user_id"].is_unique
    assert scores[PROBABILITY].is_monotonic_decreasing
    assert set(scores[BAND]) <= {"low", "medium", "high"}
    assert scores[PERCENTILE].max() == 100.0
    assert (scores["as_of"] == dt.date(2025, 8, 31)).all() and (scores["model_version"] == "3").all()
    merged = scores.merge(features[["user_id", "spend_90d"]], on="user_id")
    assert (merged[VALUE_AT_RISK] == merged["spend_90d"]).all()
    top = scores.head(20)
    assert top[REASONS[0]].notna().all()
    assert top[REASONS[0]].str.len().gt(5).all()


def test_scoring_is_deterministic_and_does_not_touch_its_input(fitted):
    model, features = fitted
    before = features.copy()
    a = score_frame(features, model, as_of=AS_OF, model_name="churn", model_version="3", scored_at=RUN)
    b = score_frame(features, model, as_of=AS_OF, model_name="churn", model_version="3", scored_at=RUN)
    pd.testing.assert_frame_equal(a, b)
    pd.testing.assert_frame_equal(features, before)


def test_top_category_is_the_most_bought_else_the_most_browsed(fitted):
    model, features = fitted
    assert "top_browsed_category_30d" in features.columns
    no_orders = features.copy()
    no_orders.loc[no_orders.index[:50], "main_category"] = None  # as for a new user
    rows = score_frame(no_orders, model, as_of=AS_OF, model_name="churn", model_version="3", scored_at=RUN).set_index("user_id")
    first = no_orders.head(50).set_index("user_id")
    browsed = first["top_browsed_category_30d"].astype(object)
    shown = rows.loc[first.index, "top_category"]
    assert (shown[browsed.notna()] == browsed[browsed.notna()].astype(str)).all()
    rest = no_orders.iloc[50:].set_index("user_id")
    bought = rest["main_category"].astype(object)
    assert (rows.loc[rest.index, "top_category"][bought.notna()] == bought[bought.notna()].astype(str)).all()


def test_reasons_for_the_riskiest_share_now_and_the_same_reasons_on_demand(fitted):
    from serving.batch.contributions import ReasonsOnDemand, unexplained
    from serving.batch.scoring import riskiest

    model, features = fitted
    everyone = score_frame(features, model, as_of=AS_OF, model_name="churn", model_version="3", scored_at=RUN)
    night = score_frame(features, model, as_of=AS_OF, model_name="churn", model_version="3", scored_at=RUN, explain_share=0.1)
    k = -(-len(features) // 10)  # ceil
    explained = night[REASONS[0]].notna().to_numpy()
    assert 0.5 * k < explained.sum() <= k  # the top tenth (a user with nothing to say has none)
    assert not explained[k:].any() or night[PROBABILITY].to_numpy()[explained].min() >= night[PROBABILITY].iloc[k - 1] - 1e-12
    pd.testing.assert_frame_equal(night.drop(columns=list(REASONS)), everyone.drop(columns=list(REASONS)))
    # a list pulled later gets the reasons the night would have given
    demand = ReasonsOnDemand(features, model, dt.date(2025, 8, 31))
    filled = demand.fill(night)
    pd.testing.assert_frame_equal(filled, everyone)
    assert len(unexplained(filled)) == len(unexplained(everyone))
    assert demand.fill(night.head(5)).equals(everyone.head(5))  # from the cache: the same answer
    assert list(riskiest([0.2, 0.9, 0.9, 0.1], 0.5)) == [1, 2] and list(riskiest([0.2, 0.9], 0.0)) == []
