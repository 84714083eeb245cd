"""The same feature and label definitions give the same tables on Spark (local mode) as on DuckDB."""

from __future__ import annotations

import pandas as pd
import pytest

from features.build import compute_features
from features.labels import churn_labels
from features.simulator.config import SimulationConfig
from features.simulator.run import simulate
from features.validation import load_dataset

pytestmark = pytest.mark.slow
AS_OF = "2025-04-30"


@pytest.fixture(scope="module")
def engines(tmp_path_factory):
    from features.spark import local_session, spark_tables

    out = simulate(SimulationConfig(users=400, days=150, seed=5), tmp_path_factory.mktemp("spark") / "data").out
    dataset = load_dataset(out)
    session = local_session()
    try:
        yield {name: dataset.table(name) for name in dataset.tables}, spark_tables(dataset, session)
    finally:
        session.stop()


def test_features_on_spark_equal_duckdb(engines):
    duck, spark = engines
    expected = compute_features(duck, AS_OF)
    got = compute_features(spark, AS_OF)
    assert len(expected) > 300 and expected.shape[1] > 60
    pd.testing.assert_frame_equal(got, expected, check_exact=False, rtol=0, atol=1e-9)


def test_labels_on_spark_equal_duckdb(engines):
    duck, spark = engines
    expected = churn_labels(duck, AS_OF).to_pandas().sort_values("user_id", ignore_index=True)
    got = churn_labels(spark, AS_OF).to_pandas().sort_values("user_id", ignore_index=True)
    assert 0 < expected["label"].mean() < 1
    pd.testing.assert_frame_equal(got, expected, check_dtype=False)
