"""Does activity carry signal that orders do not? LightGBM on every feature vs on order features only.

Snapshots at the three month-ends of :func:`features.simulator.difficulty.measure_dates`,
with the population and label there (users with a purchase in the 180 days
before ``as_of``; no purchase in the next 30 days). Both models train on the
first two dates and are scored on the third, strictly out of time: the
second date's label window ends at the third date. Features come from
:func:`features.build.compute_features`; "order features" are the catalogue's
features computed from the ``orders`` table alone.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from pathlib import Path

import duckdb
import pandas as pd

from features import contract as C
from features.build import compute_features
from features.catalog import FEATURES, USER_ID
from features.dataset import open_dataset
from features.simulator.difficulty import POPULATION_DAYS, buyers_at, measure_dates

MIN_GAIN = 0.03
LGB_PARAMS = {
    "objective": "binary",
    "learning_rate": 0.05,
    "num_leaves": 15,
    "min_data_in_leaf": 40,
    "feature_fraction": 0.8,
    "bagging_fraction": 0.8,
    "bagging_freq": 1,
    "lambda_l2": 1.0,
    "verbose": -1,
    "deterministic": True,
    "force_row_wise": True,
    "num_threads": 2,
    "seed": 0,
}
ROUNDS = 300
ORDER_FEATURES = tuple(f.name for f in FEATURES if f.table == C.ORDERS)


@dataclass(frozen=True)
class ActivitySignal:
    train_dates: tuple[dt.date, ...]
    test_date: dt.date
    full_auc: float
    orders_auc: float

    @property
    def gain(self) -> float:
        return self.full_auc - self.orders_auc


def snapshots(path: Path, dates: tuple[dt.date, ...]) -> pd.DataFrame:
    """Features plus ``churned`` and ``as_of`` for the population at each date (one frame, rows in date then user order)."""
    dataset = open_dataset(path)
    tables = {name: dataset.table(name) for name in dataset.tables}
    con = duckdb.connect()
    con.execute("SET TimeZone='UTC'")
    frames = []
    for d in dates:
        buyers = buyers_at(con, Path(path), d)
        population = buyers.loc[buyers["recency_days"] <= POPULATION_DAYS, [USER_ID, "churned"]]
        features = compute_features(tables, d)
        frame = features.merge(population, on=USER_ID, how="inner")
        frame["as_of"] = d
        frames.append(frame)
    out = pd.concat(frames, ignore_index=True)
    for column in out.columns:
        if isinstance(out[column].dtype, pd.CategoricalDtype) or out[column].dtype == object or pd.api.types.is_string_dtype(out[column]):
            if column == "as_of":
                continue
            values = out[column].astype("string")
            out[column] = pd.Categorical(values, categories=sorted(values.dropna().unique()))
    return out


def _auc(train: pd.DataFrame, test: pd.DataFrame, columns: list[str]) -> float:
    import lightgbm as lgb
    from sklearn.metrics import roc_auc_score

    data = lgb.Dataset(train[columns], label=train["churned"].astype(int), free_raw_data=True)
    booster = lgb.train(LGB_PARAMS, data, num_boost_round=ROUNDS)
    return float(roc_auc_score(test["churned"].astype(int), booster.predict(test[columns])))


def measure_activity_signal(path: Path, first_day: dt.date, last_day: dt.date) -> ActivitySignal | None:
    """Out-of-time ROC-AUC of LightGBM on every feature and on order features; None with fewer than three dates."""
    dates = measure_dates(first_day, last_day)
    if len(dates) < 3:
        return None
    frame = snapshots(path, dates)
    train, test = frame[frame["as_of"] < dates[-1]], frame[frame["as_of"] == dates[-1]]
    features = [c for c in frame.columns if c not in (USER_ID, "churned", "as_of")]
    orders = [c for c in features if c in ORDER_FEATURES]
    return ActivitySignal(
        train_dates=dates[:-1],
        test_date=dates[-1],
        full_auc=_auc(train, test, features),
        orders_auc=_auc(train, test, orders),
    )

