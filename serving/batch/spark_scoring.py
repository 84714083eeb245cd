"""Scoring on Spark: features computed by Spark, partitions scored on the executors.

The features are the same Ibis expression as on DuckDB (:func:`features.build.feature_expression`),
run by Spark; each partition is turned into the pandas frame
:func:`features.build.compute_features` would give and scored with
:func:`serving.batch.scoring.score_rows`, the same code the default engine runs. The
model travels to the executors in its saved form (booster text and JSON, see
:meth:`ChurnClassifier.save`), never as a pickle, and each partition rebuilds it
with :meth:`ChurnClassifier.load`. The population-wide step
(:func:`serving.batch.scoring.finish_scores`) runs once on the driver.
"""

from __future__ import annotations

import contextlib
import tempfile
import uuid
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import TYPE_CHECKING

import ibis.expr.types as ir
import pandas as pd

from features.asof import AsOf
from features.build import feature_expression, to_frame
from features.catalog import USER_ID
from features.errors import ConfigError
from serving.batch.bands import BandCutoffs
from serving.batch.scoring import PROBABILITY, ROW_COLUMNS, VALUE_AT_RISK, score_rows
from training.estimator import BOOSTER_FILE, META_FILE, ChurnClassifier

if TYPE_CHECKING:
    from pyspark.sql import DataFrame as SparkFrame
    from pyspark.sql.types import DataType, StructType

_DOUBLES = (PROBABILITY, VALUE_AT_RISK)  # the other row columns except user_id are text


def spark_score_rows(
    tables: Mapping[str, ir.Table],
    as_of: AsOf,
    users: ir.Table,
    model: ChurnClassifier,
    *,
    cutoffs: BandCutoffs = BandCutoffs(),
    explain_share: float = 1.0,
) -> pd.DataFrame:
    """Per-user scores (``ROW_COLUMNS``) of ``users`` at ``as_of``, computed and scored on Spark.

    tables: contract tables on the Spark backend (:func:`features.spark.spark_tables`).
    as_of: the feature cutoff (a date means its end); nothing after it is read.
    users: the population to score (a table with ``user_id`` on the same backend,
    e.g. :func:`features.labels.churn_population` of ``tables``).
    model: a fitted classifier, sent to the executors as text.
    cutoffs, explain_share: as for :func:`serving.batch.scoring.score_rows` (the share is each partition's).
    Returns what ``score_rows(compute_features(tables, as_of, users=users), model, ...)``
    returns, with the same columns and dtypes, in no particular row order; pass it to
    :func:`serving.batch.scoring.finish_scores`.
    """
    expr = feature_expression(tables, as_of, users)
    schema = expr.schema()  # ibis types of the feature columns, to convert each batch as to_pandas does

    def score_partition(batches: Iterator[pd.DataFrame]) -> Iterator[pd.DataFrame]:
        from ibis.backends.pyspark.converter import PySparkPandasData

        scorer = _load_model(shipped.value)
        for batch in batches:
            if len(batch) == 0:
                continue
            frame = to_frame(PySparkPandasData.convert_table(batch, schema))
            yield score_rows(frame, scorer, cutoffs=cutoffs, explain_share=explain_share)

    with _spark_frame(expr) as features:
        shipped = features.sparkSession.sparkContext.broadcast(_model_files(model))
        try:
            scored = features.mapInPandas(score_partition, _row_schema(features.schema[USER_ID].dataType))
            collected = scored.toArrow()
        finally:
            shipped.unpersist()
    # Built column by column from arrays as score_rows builds its frame, so the dtypes
    # (int64 or str ids, float64, pandas str with NaN for missing text) are the same.
    return pd.DataFrame({name: collected.column(name).to_numpy(zero_copy_only=False) for name in ROW_COLUMNS})


@contextlib.contextmanager
def _spark_frame(expr: ir.Table) -> Iterator[SparkFrame]:
    """The PySpark DataFrame of an Ibis expression on the PySpark backend (unexecuted), for the ``with`` block.

    Public calls only: the expression becomes a temporary view (Ibis's ``create_view`` registers the
    in-memory tables it reads, such as a population given as a memtable, with the session), read
    back with ``raw_sql``, and dropped afterwards through PySpark's catalog (Ibis 12's ``drop_view``
    writes a nameless ``DROP VIEW`` with sqlglot 30.18 and later: ibis-project/ibis#12108).
    """
    backend = expr.get_backend()
    if backend.name != "pyspark":
        raise ConfigError(f"Spark scoring needs tables on the pyspark backend; these are on {backend.name}")
    view = f"churn_features_{uuid.uuid4().hex}"
    backend.create_view(view, expr)
    frame = backend.raw_sql(f"SELECT * FROM `{view}`")
    try:
        yield frame
    finally:
        frame.sparkSession.catalog.dropTempView(view)


def _model_files(model: ChurnClassifier) -> dict[str, str]:
    """The model's saved form (file name -> text), as :meth:`ChurnClassifier.save` writes it."""
    with tempfile.TemporaryDirectory(prefix="churn-model-") as directory:
        model.save(Path(directory))
        return {name: (Path(directory) / name).read_text() for name in (BOOSTER_FILE, META_FILE)}


def _load_model(files: Mapping[str, str]) -> ChurnClassifier:
    """Rebuild a model from :func:`_model_files` with :meth:`ChurnClassifier.load`."""
    with tempfile.TemporaryDirectory(prefix="churn-model-") as directory:
        for name, text in files.items():
            (Path(directory) / name).write_text(text)
        return ChurnClassifier.load(Path(directory))


def _row_schema(user_id_type: DataType) -> StructType:
    """Spark schema of the ``score_rows`` columns; ``user_id`` keeps the features' type."""
    from pyspark.sql.types import DoubleType, StringType, StructField, StructType

    fields = []
    for name in ROW_COLUMNS:
        if name == USER_ID:
            fields.append(StructField(name, user_id_type, False))
        elif name in _DOUBLES:
            fields.append(StructField(name, DoubleType(), True))
        else:
            fields.append(StructField(name, StringType(), True))
    return StructType(fields)
