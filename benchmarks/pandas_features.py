"""The pandas baseline of the feature benchmark: a subset of the features, written plainly.

This is how a data scientist would compute these features in a notebook:
read the needed columns with ``pd.read_parquet``, mask, ``groupby``, join.
It is a yardstick for :func:`features.build.compute_features`, not a second
feature definition: nothing outside ``benchmarks/`` may import it.

Semantics follow :mod:`features.asof` and the catalogue: ``as_of`` date D
means the cutoff D + 1 day 00:00 UTC; a window of w days is
``[cutoff - w days, cutoff)``; ``days_since_*`` are elapsed whole seconds / 86,400;
gaps are calendar days between distinct days; a purchase is an order with
status paid or refunded (a null status means paid).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from features import contract as C
from features.asof import AsOf, cutoff
from features.catalog import USER_ID, WINDOWS

SECONDS_PER_DAY = 86_400.0
SPEND_WINDOWS = (30, 90)  # the catalogue's spend windows

# The features this baseline computes, in the names of features.catalog.
COUNTS: tuple[str, ...] = (
    *(f"events_{w}d" for w in WINDOWS),
    *(f"active_days_{w}d" for w in WINDOWS),
    *(f"logins_{w}d" for w in WINDOWS),
    *(f"orders_{w}d" for w in WINDOWS),
)
NUMBERS: tuple[str, ...] = (
    "days_since_last_event",
    "login_gap_mean_90d",
    "login_gap_std_90d",
    "days_since_last_order",
    "order_gap_mean",
    "order_gap_median",
    *(f"spend_{w}d" for w in SPEND_WINDOWS),
)
FEATURES: tuple[str, ...] = COUNTS + NUMBERS


def pandas_features(path: str | Path, as_of: AsOf) -> pd.DataFrame:
    """The :data:`FEATURES` subset at ``as_of`` for the Parquet dataset in directory ``path``.

    Returns one row per user signed up before the cutoff, sorted by ``user_id``:
    ``user_id``, then :data:`FEATURES` (counts int64, 0 when nothing happened;
    spend 0.0 when nothing was bought; other numbers float64, NaN when undefined).
    """
    path = Path(path)
    cut = pd.Timestamp(cutoff(as_of), tz="UTC")

    users = pd.read_parquet(path / f"{C.USERS}.parquet", columns=[USER_ID, C.Users.SIGNUP_AT])
    users = users[users[C.Users.SIGNUP_AT] < cut]
    out = users[[USER_ID]].set_index(USER_ID).sort_index()

    events = pd.read_parquet(
        path / f"{C.EVENTS}.parquet", columns=[C.Events.USER_ID, C.Events.EVENT_AT, C.Events.EVENT_TYPE]
    )
    events = events[events[C.Events.EVENT_AT] < cut]
    events["day"] = events[C.Events.EVENT_AT].dt.floor("D")
    events["is_login"] = events[C.Events.EVENT_TYPE] == C.EVENT_LOGIN
    for w in WINDOWS:
        recent = events[events[C.Events.EVENT_AT] >= cut - pd.Timedelta(days=w)]
        by_user = recent.groupby(USER_ID)
        out[f"events_{w}d"] = by_user.size()
        out[f"active_days_{w}d"] = by_user["day"].nunique()
        out[f"logins_{w}d"] = by_user["is_login"].sum()
    out["days_since_last_event"] = _days_since(cut, events.groupby(USER_ID)[C.Events.EVENT_AT].max())

    logins = events[events["is_login"] & (events[C.Events.EVENT_AT] >= cut - pd.Timedelta(days=90))]
    login_gaps = _gaps_between_days(logins[[USER_ID, "day"]])
    out["login_gap_mean_90d"] = login_gaps.mean()
    out["login_gap_std_90d"] = login_gaps.std()
    del events, logins

    orders = pd.read_parquet(
        path / f"{C.ORDERS}.parquet", columns=[C.Orders.USER_ID, C.Orders.ORDERED_AT, C.Orders.AMOUNT, C.Orders.STATUS]
    )
    status = orders[C.Orders.STATUS].fillna(C.STATUS_PAID)
    orders = orders[(orders[C.Orders.ORDERED_AT] < cut) & status.isin(C.PURCHASE_STATUSES)].copy()
    orders["day"] = orders[C.Orders.ORDERED_AT].dt.floor("D")
    for w in WINDOWS:
        recent = orders[orders[C.Orders.ORDERED_AT] >= cut - pd.Timedelta(days=w)]
        out[f"orders_{w}d"] = recent.groupby(USER_ID).size()
        if w in SPEND_WINDOWS:
            out[f"spend_{w}d"] = recent.groupby(USER_ID)[C.Orders.AMOUNT].sum()
    out["days_since_last_order"] = _days_since(cut, orders.groupby(USER_ID)[C.Orders.ORDERED_AT].max())
    order_gaps = _gaps_between_days(orders[[USER_ID, "day"]])
    out["order_gap_mean"] = order_gaps.mean()
    out["order_gap_median"] = order_gaps.median()

    out[list(COUNTS)] = out[list(COUNTS)].fillna(0).astype("int64")
    spend = [f"spend_{w}d" for w in SPEND_WINDOWS]
    out[spend] = out[spend].fillna(0.0)
    return out[list(FEATURES)].astype({name: "float64" for name in NUMBERS}).reset_index()


def _days_since(cut: pd.Timestamp, last: pd.Series) -> pd.Series:
    """Elapsed days from each timestamp of ``last`` to the cutoff, in whole seconds / 86,400 (as features.window)."""
    return (cut - last.dt.floor("s")).dt.total_seconds() / SECONDS_PER_DAY


def _gaps_between_days(days: pd.DataFrame) -> pd.core.groupby.SeriesGroupBy:
    """Gaps in calendar days between each user's consecutive distinct days, grouped by user.

    A user's first day has no gap (NaN), which mean, median and std skip.
    """
    days = days.drop_duplicates().sort_values([USER_ID, "day"])
    days["gap"] = days.groupby(USER_ID)["day"].diff().dt.days
    return days.groupby(USER_ID)["gap"]


def compare(expected: pd.DataFrame, actual: pd.DataFrame, atol: float = 1e-9, what: str = "the pandas baseline") -> int:
    """Check that the :data:`FEATURES` columns of two feature frames agree; return the number of values compared.

    expected: the output of ``compute_features``; actual: of :func:`pandas_features`
    (or another engine, named by ``what`` in the error).

    Rows are matched by ``user_id`` (both frames must hold the same users);
    nulls must be in the same places and other values within ``atol``.
    Raises ``AssertionError`` naming the first column that differs.
    """
    left = expected.set_index(USER_ID).sort_index()
    right = actual.set_index(USER_ID).sort_index()
    np.testing.assert_array_equal(left.index.to_numpy(), right.index.to_numpy(), err_msg="the users differ")
    for name in FEATURES:
        np.testing.assert_allclose(
            right[name].to_numpy(dtype=float),
            left[name].to_numpy(dtype=float),
            rtol=0,
            atol=atol,
            equal_nan=True,
            err_msg=f"{name}: {what} (actual) differs from compute_features (desired)",
        )
    return len(left) * len(FEATURES)

