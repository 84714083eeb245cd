"""Assembling the feature table: one row per user signed up by ``as_of``.

The same expression runs on any Ibis backend (embedded DuckDB by default,
Spark for clusters) and on a user's raw rows online (:mod:`features.online`).
"""

from __future__ import annotations

from collections.abc import Mapping

import ibis
import ibis.expr.types as ir
import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from features import contract as C
from features.activity import activity_features
from features.asof import AsOf, cutoff
from features.catalog import BY_NAME, FEATURES, USER_ID, ZERO_WHEN_NOTHING, FeatureKind
from features.engagement import coupon_features, review_features, ticket_features
from features.purchases import FIRST_ORDER_AT, purchase_features
from features.window import SECONDS_PER_DAY, Cut, epoch_seconds, join_users, visible

PROFILE = (C.Users.MEMBER_TIER, C.Users.CITY_TIER, C.Users.REGION, C.Users.CHANNEL)


def feature_expression(tables: Mapping[str, ir.Table], as_of: AsOf, users: ir.Table | None = None) -> ir.Table:
    """The feature table at ``as_of`` as an (unexecuted) Ibis expression.

    tables: contract tables in normalised form (``users`` and ``orders`` required).
    as_of: a date (its end) or a timestamp; rows after it are never read.
    users: optional subset of users (a table with ``user_id``) to restrict the result to.
    Returns ``user_id`` and the features whose tables and columns are present, in catalogue order.
    """
    cut = Cut(cutoff(as_of))
    u = visible(tables[C.USERS], C.Users.SIGNUP_AT, cut)
    if users is not None:
        u = u.filter(u[USER_ID].isin(users[USER_ID]))
    base = u.select(
        USER_ID,
        _signup_at=u[C.Users.SIGNUP_AT],
        days_since_signup=cut.days_since(u[C.Users.SIGNUP_AT]),
        **{col: u[col].cast("string") for col in PROFILE if col in u.columns},
    )
    families: list[ir.Table] = [purchase_features(tables[C.ORDERS], cut)]
    if C.EVENTS in tables:
        families.append(activity_features(tables[C.EVENTS], cut))
    if C.COUPONS in tables:
        families.append(coupon_features(tables[C.COUPONS], cut))
    if C.TICKETS in tables:
        families.append(ticket_features(tables[C.TICKETS], cut))
    if C.REVIEWS in tables:
        families.append(review_features(tables[C.REVIEWS], cut))
    out = base
    for family in families:
        out = join_users(out, family, USER_ID)
    first, signup = epoch_seconds(out[FIRST_ORDER_AT]), epoch_seconds(out["_signup_at"])
    out = out.mutate(days_signup_to_first_order=(first - signup) / SECONDS_PER_DAY)
    fills = {name: 0 for name in out.columns if name in BY_NAME and BY_NAME[name].kind is FeatureKind.COUNT}
    fills |= {name: 0.0 for name in ZERO_WHEN_NOTHING if name in out.columns}
    out = out.mutate(**{name: out[name].fill_null(value) for name, value in fills.items()})
    present = [f.name for f in FEATURES if f.name in out.columns]
    return out.select(USER_ID, *present)


def to_frame(result: pa.Table | pd.DataFrame) -> pd.DataFrame:
    """Stable column order and dtypes: user_id first, counts int64, numbers float64, categories ``category``.

    result: the executed feature expression, as Arrow or pandas. Rows are
    sorted by user_id. Category levels are the sorted observed values.
    """
    table = result if isinstance(result, pa.Table) else pa.Table.from_pandas(result, preserve_index=False)
    present = set(table.column_names)  # a property that builds a new list on every call
    names, columns = [USER_ID], [table.column(USER_ID)]
    for f in FEATURES:
        if f.name not in present:
            continue
        column = table.column(f.name)
        if f.kind is FeatureKind.COUNT:
            column = _typed(column, pa.int64())
            if column.null_count:
                column = pc.fill_null(column, 0)
        elif f.kind is FeatureKind.NUMBER:
            column = _typed(column, pa.float64())  # nulls become NaN in pandas
        else:
            column = _sorted_dictionary(column)  # a pandas categorical in pandas
        names.append(f.name)
        columns.append(column)
    out = pa.table(columns, names=names).to_pandas()
    if not out[USER_ID].is_monotonic_increasing:
        out = out.sort_values(USER_ID, kind="stable", ignore_index=True)
    return out


def _typed(column: pa.ChunkedArray, dtype: pa.DataType) -> pa.ChunkedArray:
    return column if column.type == dtype else column.cast(dtype)


def _sorted_dictionary(column: pa.ChunkedArray) -> pa.ChunkedArray:
    """Text ``column`` dictionary-encoded with its distinct values, sorted, as the dictionary."""
    column = _typed(column, pa.string())
    levels = pc.unique(pc.drop_null(column))
    levels = levels.take(pc.array_sort_indices(levels))
    codes = pc.index_in(column, value_set=levels)
    chunks = [pa.DictionaryArray.from_arrays(chunk, levels) for chunk in codes.chunks]
    return pa.chunked_array(chunks, type=pa.dictionary(pa.int32(), pa.string()))


def compute_features(tables: Mapping[str, ir.Table], as_of: AsOf, users: ir.Table | None = None) -> pd.DataFrame:
    """Execute :func:`feature_expression` and return a pandas frame (see :func:`to_frame`)."""
    return to_frame(feature_expression(tables, as_of, users).to_pyarrow())


def memtables(frames: Mapping[str, pd.DataFrame]) -> dict[str, ir.Table]:
    """Ibis tables over in-memory pandas frames already in contract form (tests, online)."""
    return {name: ibis.memtable(frame) for name, frame in frames.items()}
