"""Running the feature definitions on Spark (local mode here, a cluster in production).

The definitions are the same Ibis expressions as on DuckDB; only the tables
differ. The dataset is validated with DuckDB first (cheap, one scan), then
Spark reads the same Parquet files and casts each column to the contract type
that the DuckDB reader decided, so both engines see identical inputs.
"""

from __future__ import annotations

import os
import sys
from typing import TYPE_CHECKING

import ibis
import ibis.expr.types as ir

from features import contract as C
from features.dataset import Dataset
from features.errors import ConfigError

if TYPE_CHECKING:
    from pyspark.sql import SparkSession

LOCAL_MASTER = "local[2]"


def local_session(app_name: str = "churn-features", master: str = LOCAL_MASTER) -> SparkSession:
    """A Spark session in local mode with UTC time and no web UI."""
    from pyspark.sql import SparkSession

    # Python workers (mapInPandas) must run this interpreter, with this environment's packages;
    # PySpark reads the variable only when the session starts.
    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    session = (
        SparkSession.builder.appName(app_name)
        .master(master)
        .config("spark.ui.enabled", "false")
        .config("spark.ui.showConsoleProgress", "false")
        .config("spark.sql.session.timeZone", "UTC")
        .config("spark.sql.shuffle.partitions", "8")
        .config("spark.driver.memory", "4g")
        .config("spark.sql.ansi.enabled", "false")
        .getOrCreate()
    )
    session.sparkContext.setLogLevel("ERROR")
    return session


def spark_tables(dataset: Dataset, session: SparkSession) -> dict[str, ir.Table]:
    """The dataset's tables in contract form, read by Spark from the same Parquet files."""
    con = ibis.pyspark.connect(session)
    out: dict[str, ir.Table] = {}
    for name in dataset.tables:
        if dataset.formats.get(name) != "parquet":
            raise ConfigError(
                f"--engine spark reads Parquet datasets; {dataset.label(name)} is {dataset.formats.get(name)} "
                "(convert it to Parquet or use --engine duckdb)"
            )
        raw = con.read_parquet(dataset.files[name], table_name=f"churn_{name}")
        schema = dataset.table(name).schema()
        columns = {}
        for column, dtype in schema.items():
            value = raw[column].cast(dtype)
            if (name, column) == (C.ORDERS, C.Orders.STATUS):
                value = value.fill_null(C.STATUS_PAID)
            columns[column] = value
        out[name] = raw.select(**columns)
    return out
