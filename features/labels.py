"""Populations and labels, and the training-set builder that stacks snapshots.

Churn is what the marketer defines (:class:`ChurnDefinition`): the population at
``as_of`` is every user with a paid order in the last ``order_days`` and, by
default, a session (any event) in the last ``session_days``: users still active,
so that a warning can reach them. The label is 1 if the churn ``event`` (a paid
order, or any session) does not happen in ``(as_of, as_of + horizon_days]``.
Users with an order in the last ``order_days`` but no session in the last
``session_days`` have already lapsed: they form the :func:`winback_population`.

Activation: the population is every user who signed up in the
``signup_days`` before ``as_of`` and has not bought yet; the label is 1 if
their first purchase falls in ``(as_of, as_of + horizon_days]``.

Windows ending at ``as_of`` cover ``(as_of - w, as_of]`` in days (up to the end
of the ``as_of`` day). Labels are the only code that reads rows after ``as_of``;
the training-set builder never reads anything after its "today".
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
from features.definition import (  # noqa: F401  (re-exported: the definition is part of the labels' API)
    CHURN,
    CHURN_EVENTS,
    DEFAULT_HORIZON_DAYS,
    DEFAULT_LOOKBACK_DAYS,
    DEFAULT_SESSION_DAYS,
    DEFINITION_FILE,
    EVENT_ORDER,
    EVENT_SESSION,
    ORDERS_ONLY,
    ChurnDefinition,
    definition_from,
)
from features.errors import ConfigError
from features.purchases import purchases
from features.window import Cut, visible

ACTIVATION = "activation"
TASKS = (CHURN, ACTIVATION)
ACTIVATION_SIGNUP_DAYS = 14
ACTIVATION_HORIZON_DAYS = 14


def _purchases_between(orders: ir.Table, start: dt.datetime, end: dt.datetime) -> ir.Table:
    p = purchases(orders)
    at = p[C.Orders.ORDERED_AT]
    return p.filter((at >= ibis.literal(start, type="timestamp")) & (at < ibis.literal(end, type="timestamp")))


def _events_between(tables: Mapping[str, ir.Table], start: dt.datetime, end: dt.datetime, definition: ChurnDefinition) -> ir.Table:
    if C.EVENTS not in tables:
        raise ConfigError(
            f"churn definition needs table {C.EVENTS} (session_days={definition.session_days}, event={definition.event}); "
            "for orders-only data use session_days=None (--session-days 0) and event=order"
        )
    e = tables[C.EVENTS]
    at = e[C.Events.EVENT_AT]
    return e.filter((at >= ibis.literal(start, type="timestamp")) & (at < ibis.literal(end, type="timestamp")))


def _buyers(tables: Mapping[str, ir.Table], as_of: AsOf, definition: ChurnDefinition) -> ir.Table:
    cut = cutoff(as_of)
    return _purchases_between(tables[C.ORDERS], cut - dt.timedelta(days=definition.order_days), cut).select(USER_ID).distinct()


def _visitors(tables: Mapping[str, ir.Table], as_of: AsOf, definition: ChurnDefinition) -> ir.Table:
    cut = cutoff(as_of)
    days = definition.session_days or 0
    return _events_between(tables, cut - dt.timedelta(days=days), cut, definition).select(USER_ID).distinct()


def churn_population(tables: Mapping[str, ir.Table], as_of: AsOf, definition: ChurnDefinition | None = None) -> ir.Table:
    """Users (``user_id``) the churn model scores at ``as_of`` under ``definition`` (default: :class:`ChurnDefinition`()).

    A paid order in ``(as_of - order_days, as_of]`` and, unless ``session_days`` is None, a session in
    ``(as_of - session_days, as_of]``. ConfigError when a session is needed and there is no events table.
    """
    definition = definition or ChurnDefinition()
    buyers = _buyers(tables, as_of, definition)
    if definition.session_days is None:
        return buyers
    visitors = _visitors(tables, as_of, definition)
    return buyers.filter(buyers[USER_ID].isin(visitors[USER_ID]))


def winback_population(tables: Mapping[str, ir.Table], as_of: AsOf, definition: ChurnDefinition | None = None) -> ir.Table:
    """Users who have already lapsed under ``definition``: a paid order in the last ``order_days`` but no session in the
    last ``session_days`` (empty when the definition needs no session). The win-back list starts from them."""
    definition = definition or ChurnDefinition()
    buyers = _buyers(tables, as_of, definition)
    if definition.session_days is None:
        return buyers.filter(ibis.literal(False))
    visitors = _visitors(tables, as_of, definition)
    return buyers.filter(~buyers[USER_ID].isin(visitors[USER_ID]))


def churn_labels(tables: Mapping[str, ir.Table], as_of: AsOf, definition: ChurnDefinition | None = None) -> ir.Table:
    """The churn population with ``label`` = 1 if the churn event does not happen in ``(as_of, as_of + horizon_days]``."""
    definition = definition or ChurnDefinition()
    population = churn_population(tables, as_of, definition)
    cut = cutoff(as_of)
    end = cut + dt.timedelta(days=definition.horizon_days)
    if definition.event == EVENT_ORDER:
        future = _purchases_between(tables[C.ORDERS], cut, end)
    else:
        future = _events_between(tables, cut, end, definition)
    return _label_future(population, future, label_if_seen=False)


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
    return _label_future(population, future, label_if_seen=label_if_bought)


def _label_future(population: ir.Table, future: ir.Table, *, label_if_seen: bool) -> ir.Table:
    """``population`` with ``label``: whether each user has a row in ``future`` (or has none, ``label_if_seen=False``)."""
    seen = future.select(USER_ID).distinct().mutate(_seen=ibis.literal(1))
    joined = population.left_join(seen, population[USER_ID] == seen[USER_ID])
    did = joined["_seen"].notnull()
    return joined.select(population[USER_ID], **{LABEL: (did if label_if_seen else ~did).cast("int8")})


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
    definition: ChurnDefinition | None = None,
    dates: list[dt.date] | None = None,
    on_snapshot: Callable[[dt.date], None] | None = None,
) -> pd.DataFrame:
    """Stacked (user, as_of) snapshots with features and ``label``, oldest first.

    today: nothing after it is read; every label window ends by it.
    definition: the churn task's population and label (default :class:`ChurnDefinition`()); its
    horizon is used unless ``horizon_days`` is given. Activation ignores it.
    dates: explicit snapshot dates instead of ``snapshots`` every ``every_days`` (each label window
    must end by ``today``; ConfigError otherwise).
    Returns columns ``user_id``, ``as_of`` (date), the features, ``label``.
    """
    if task not in TASKS:
        raise ConfigError(f"task {task!r} is not one of {', '.join(TASKS)}")
    definition = definition or ChurnDefinition()
    if task == CHURN and horizon_days is not None and horizon_days != definition.horizon_days:
        definition = definition.model_copy(update={"horizon_days": horizon_days})
    horizon = definition.horizon_days if task == CHURN else (horizon_days or ACTIVATION_HORIZON_DAYS)
    safe = restrict(tables, today)
    frames = []
    if dates is not None:
        late = [d for d in dates if d + dt.timedelta(days=horizon) > as_of_date(today)]
        if late or not dates:
            raise ConfigError(f"snapshot dates must be given and end their {horizon}-day label window by {as_of_date(today)}; {late[:1] or 'none given'}")
    for date in sorted(dates) if dates is not None else snapshot_dates(today, snapshots, every_days, horizon):
        if task == CHURN:
            labels = churn_labels(safe, date, definition)
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
