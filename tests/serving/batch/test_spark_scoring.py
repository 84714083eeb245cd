"""Scoring on Spark (features by Spark, partitions scored with mapInPandas) gives the default engine's scores."""

from __future__ import annotations

import datetime as dt
import sys

import pandas as pd
import pytest

from features.build import memtables
from features.catalog import USER_ID
from features.contract import ORDERS, USERS, Orders, Users
from features.definition import ORDERS_ONLY
from features.errors import ConfigError
from features.labels import churn_population
from features.validation import load_dataset
from serving.batch.scoring import BAND, PERCENTILE, PROBABILITY, REASONS, ROW_COLUMNS, SEGMENTS, TOP_CATEGORY, VALUE_AT_RISK
from serving.batch.scoring import finish_scores, score_frame, score_rows
from training.estimator import ChurnClassifier

AS_OF = "2025-08-31"  # the date of the session's small model (tests/conftest.py)
RUN = dt.datetime(2025, 9, 1, 2, 0)
STAMP = {"as_of": AS_OF, "model_name": "churn", "model_version": "7", "scored_at": RUN}


def test_tables_on_another_engine_are_refused():
    from serving.batch.spark_scoring import spark_score_rows

    users = pd.DataFrame({Users.USER_ID: [1], Users.SIGNUP_AT: pd.Series([dt.datetime(2025, 1, 1)], dtype="datetime64[us]")})
    orders = pd.DataFrame(
        {
            Orders.ORDER_ID: [1],
            Orders.USER_ID: [1],
            Orders.ORDERED_AT: pd.Series([dt.datetime(2025, 8, 1)], dtype="datetime64[us]"),
            Orders.AMOUNT: [10.0],
        }
    )
    tables = memtables({USERS: users, ORDERS: orders})
    with pytest.raises(ConfigError, match="pyspark backend; these are on duckdb"):
        spark_score_rows(tables, AS_OF, churn_population(tables, AS_OF, ORDERS_ONLY), ChurnClassifier())


@pytest.fixture(scope="module")
def scored(small_model):
    from features.spark import local_session, spark_tables
    from serving.batch.spark_scoring import spark_score_rows

    assert small_model.as_of == AS_OF
    model, features = small_model.model, small_model.features
    expected_rows = score_rows(features, model)
    with pytest.MonkeyPatch.context() as env:
        # Executors run the scoring in Python: the interpreter running the tests, not the first python3 on PATH.
        env.setenv("PYSPARK_PYTHON", sys.executable)
        session = local_session()
        try:
            spark = spark_tables(load_dataset(small_model.data), session)
            got_rows = spark_score_rows(spark, AS_OF, churn_population(spark, AS_OF), model)
        finally:
            session.stop()
    return expected_rows, got_rows, score_frame(features, model, **STAMP), finish_scores(got_rows, **STAMP)


@pytest.mark.slow
def test_rows_have_the_default_engines_columns_and_dtypes(scored):
    expected_rows, got_rows, _, _ = scored
    assert tuple(got_rows.columns) == ROW_COLUMNS
    assert got_rows.dtypes.to_dict() == expected_rows.dtypes.to_dict()


@pytest.mark.slow
def test_spark_scores_equal_duckdb_scores(scored):
    _, _, expected, got = scored
    assert len(expected) > 500 and expected[REASONS[0]].notna().sum() > 500
    assert expected[USER_ID].is_unique
    assert set(got[USER_ID]) == set(expected[USER_ID])
    # Matched by user: probabilities a rounding error apart could swap nearly tied users in finish_scores' order.
    got = got.set_index(USER_ID).loc[expected[USER_ID]].reset_index()
    pd.testing.assert_series_equal(got[PROBABILITY], expected[PROBABILITY], check_exact=False, rtol=0, atol=1e-9)
    same = [BAND, PERCENTILE, *REASONS, VALUE_AT_RISK, *SEGMENTS, TOP_CATEGORY]
    pd.testing.assert_frame_equal(got[same], expected[same])
    assert expected[TOP_CATEGORY].notna().any() and expected[SEGMENTS[0]].notna().all()
