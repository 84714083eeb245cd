"""Populations and labels, and the training-set builder that stacks snapshots.

Churn: the population at ``as_of`` is every user with at least one purchase in
the ``lookback_days`` before it; the label is 1 if the user makes no purchase
in ``(as_of, as_of + horizon_days]``.

Activation: the population is every user who signed up in the
``signup_days`` before ``as_of`` and has not bought yet; the label is 1 if
their first purchase falls in ``(as_of, as_of + horizon_days]``.

Labels are the only code that reads rows after ``as_of``; the training-set
builder never reads anything after its "today".
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Mapping

import ibis
import ibis.expr.types as ir
import pandas as pd

from features import contract as C
from features.asof import AsOf, as_of_date, cutoff
from features.build import compute_features
from features.catalog import AS_OF, LABEL, USER_ID
from features.errors import ConfigError
from features.purchases import purchases
from features.window import Cut, visible

CHURN = "churn"
ACTIVATION = "activation"
TASKS = (CHURN, ACTIVATION)
DEFAULT_LOOKBACK_DAYS = 180
DEFAULT_HORIZON_DAYS = 30
ACTIVATION_SIGNUP_DAYS = 14
ACTIVATION_HORIZON_DAYS = 14


def _purchases_between(orders: ir.Table, start: dt.datetime, end: dt.datetime) -> ir.Table:
    p = purchases(orders)
    at = p[C.Orders.ORDERED_AT]
    return p.filter((at >= ibis.literal(start, type="timestamp")) & (at < ibis.literal(end, type="timestamp")))


def churn_population(tables: Mapping[str, ir.Table], as_of: AsOf, lookback_days: int = DEFAULT_LOOKBACK_DAYS) -> ir.Table:
    """Users (``user_id``) with a purchase in the ``lookback_days`` up to ``as_of``."""
    cut = cutoff(as_of)
    recent = _purchases_between(tables[C.ORDERS], cut - dt.timedelta(days=lookback_days), cut)
    return recent.select(USER_ID).distinct()


def churn_labels(
    tables: Mapping[str, ir.Table],
    as_of: AsOf,
    horizon_days: int = DEFAULT_HORIZON_DAYS,
    lookback_days: int = DEFAULT_LOOKBACK_DAYS,
) -> ir.Table:
    """The churn population with ``label`` = 1 if no purchase in ``(as_of, as_of + horizon_days]``."""
    population = churn_population(tables, as_of, lookback_days)
    return _label_future_purchase(tables, population, as_of, horizon_days, label_if_bought=False)


def activation_population(tables: Mapping[str, ir.Table], as_of: AsOf, signup_days: int = ACTIVATION_SIGNUP_DAYS) -> ir.Table:
    """Users who signed up in the ``signup_days`` up to ``as_of`` and have not bought by then."""
    cut = Cut(cutoff(as_of))
    users = visible(tables[C.USERS], C.Users.SIGNUP_AT, cut)
    new = users.filter(cut.within(users[C.Users.SIGNUP_AT], signup_days)).select(USER_ID)
    bought = purchases(visible(tables[C.ORDERS], C.Orders.ORDERED_AT, cut)).select(USER_ID).distinct()
    return new.filter(~new[USER_ID].isin(bought[USER_ID]))


def activation_labels(
    tables: Mapping[str, ir.Table],
    as_of: AsOf,
    horizon_days: int = ACTIVATION_HORIZON_DAYS,
    signup_days: int = ACTIVATION_SIGNUP_DAYS,
) -> ir.Table:
    """The activation population with ``label`` = 1 if the first purchase falls in ``(as_of, as_of + horizon_days]``."""
    population = activation_population(tables, as_of, signup_days)
    return _label_future_purchase(tables, population, as_of, horizon_days, label_if_bought=True)


def _label_future_purchase(
    tables: Mapping[str, ir.Table], population: ir.Table, as_of: AsOf, horizon_days: int, *, label_if_bought: bool
) -> ir.Table:
    """``population`` with ``label`` telling whether each user buys in ``(as_of, as_of + horizon_days]``."""
    cut = cutoff(as_of)
    future = _purchases_between(tables[C.ORDERS], cut, cut + dt.timedelta(days=horizon_days))
    bought = future.select(USER_ID).distinct().mutate(_bought=ibis.literal(1))
    joined = population.left_join(bought, population[USER_ID] == bought[USER_ID])
    did_buy = joined["_bought"].notnull()
    return joined.select(population[USER_ID], **{LABEL: (did_buy if label_if_bought else ~did_buy).cast("int8")})


def restrict(tables: Mapping[str, ir.Table], today: AsOf) -> dict[str, ir.Table]:
    """Every table cut at ``today``: rows after it cannot be read by anything downstream."""
    cut = Cut(cutoff(today))
    out = {}
    for name, table in tables.items():
        time_column = C.TABLES[name].time_column
        out[name] = visible(table, time_column, cut) if time_column in table.columns else table
    return out


def snapshot_dates(today: AsOf, snapshots: int, every_days: int, horizon_days: int) -> list[dt.date]:
    """``snapshots`` dates ``every_days`` apart, the last one the latest whose horizon ends by ``today``."""
    if snapshots < 1 or every_days < 1 or horizon_days < 1:
        raise ConfigError(f"snapshots, every_days and horizon_days must be >= 1 (got {snapshots}, {every_days}, {horizon_days})")
    last = as_of_date(today) - dt.timedelta(days=horizon_days)
    return [last - dt.timedelta(days=every_days * k) for k in reversed(range(snapshots))]


def training_set(
    tables: Mapping[str, ir.Table],
    today: AsOf,
    *,
    task: str = CHURN,
    snapshots: int = 6,
    every_days: int = 30,
    horizon_days: int | None = None,
    lookback_days: int = DEFAULT_LOOKBACK_DAYS,
    on_snapshot: Callable[[dt.date], None] | None = None,
) -> pd.DataFrame:
    """Stacked (user, as_of) snapshots with features and ``label``, oldest first.

    today: nothing after it is read; every label window ends by it.
    Returns columns ``user_id``, ``as_of`` (date), the features, ``label``.
    """
    if task not in TASKS:
        raise ConfigError(f"task {task!r} is not one of {', '.join(TASKS)}")
    horizon = horizon_days if horizon_days is not None else (DEFAULT_HORIZON_DAYS if task == CHURN else ACTIVATION_HORIZON_DAYS)
    safe = restrict(tables, today)
    frames = []
    for date in snapshot_dates(today, snapshots, every_days, horizon):
        if task == CHURN:
            labels = churn_labels(safe, date, horizon, lookback_days)
        else:
            labels = activation_labels(safe, date, horizon)
        labelled = labels.to_pandas()
        features = compute_features(safe, date, users=labels)
        frame = features.merge(labelled, on=USER_ID, how="inner", validate="one_to_one")
        frame.insert(1, AS_OF, pd.Timestamp(date).date())
        frames.append(frame)
        if on_snapshot is not None:
            on_snapshot(date)
    out = pd.concat(frames, ignore_index=True)
    for name in out.columns:
        if isinstance(frames[0][name].dtype, pd.CategoricalDtype):
            levels = sorted(set().union(*(f[name].cat.categories for f in frames)))
            out[name] = pd.Categorical(out[name].astype("object"), categories=levels)
    out[LABEL] = out[LABEL].astype("int8")
    return out
