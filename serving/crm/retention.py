"""Retention by cohort and segment: the monthly report operations asks for.

Inputs: the dataset's tables (``users`` and ``orders`` in contract form, as Ibis
tables), ``as_of`` (required; a date D means the end of day D, UTC), the grouping
and the number of months. Nothing after ``as_of`` is read; nothing defaults to now.

* **Month k** of a user is the k-th period of 30 days after their signup:
  ``[signup + 30k days, signup + 30(k+1) days)``; month 0 starts at signup.
* A user is **retained in month k** when they made a purchase (paid or refunded
  order, as everywhere in the project) in it.
* A user **counts for month k** only once month k has ended by ``as_of``, so a
  month still running never lowers a rate, and only when month k starts on or
  after the first order the data holds, so a month before the data began (a user
  who signed up before the order log starts) is not read as a month without
  purchases. Users who signed up after ``as_of`` are not counted.
* **Groups**: ``signup_month`` (the calendar month of signup, the classic cohort
  table) or a segment column of ``users`` (member tier, city tier, region,
  channel), whose curves are aligned on months since signup.

:func:`retention` returns one row per group and month with the users counted,
the retained ones and the rate; :func:`retention_table` pivots it for the
terminal and files; :func:`retention_plot` draws one curve per group.
Computed on the engine: one query per table, only per-group counts are fetched.
"""

from __future__ import annotations

import datetime as dt
import difflib
from collections.abc import Mapping
from pathlib import Path

import ibis
import ibis.expr.types as ir
import numpy as np
import pandas as pd

from features import contract as C
from features.asof import AsOf, cutoff
from features.errors import ConfigError
from features.purchases import purchases
from features.window import SECONDS_PER_DAY, Cut, epoch_seconds, visible

MONTH_DAYS = 30
SIGNUP_MONTH = "signup_month"
SEGMENTS = (C.Users.MEMBER_TIER, C.Users.CITY_TIER, C.Users.REGION, C.Users.CHANNEL)
GROUPINGS = (SIGNUP_MONTH, *SEGMENTS)
DEFAULT_MONTHS = 12
GROUP, MONTH, USERS, RETAINED, RATE = "group", "month", "users", "retained", "rate"
COHORT_USERS = "cohort_users"
MAX_CURVES = 8


def _check(tables: Mapping[str, ir.Table], by: str, months: int) -> None:
    if by not in GROUPINGS:
        close = difflib.get_close_matches(by, GROUPINGS, n=1)
        hint = f" (did you mean {close[0]}?)" if close else ""
        raise ConfigError(f"retention by {by!r}: expected one of {', '.join(GROUPINGS)}{hint}")
    if not 1 <= months <= 60:
        raise ConfigError(f"retention months {months}: expected 1 to 60")
    for name in (C.USERS, C.ORDERS):
        if name not in tables:
            raise ConfigError(f"retention needs the {name} table; the dataset has {', '.join(sorted(tables)) or 'none'}")
    if by != SIGNUP_MONTH and by not in tables[C.USERS].columns:
        raise ConfigError(f"retention by {by}: the users table has no column {by}")


MONTH_SECONDS = MONTH_DAYS * SECONDS_PER_DAY


def _users(users: ir.Table, by: str, cut: Cut, months: int, data_start: ir.Scalar) -> ir.Table:
    """Users signed up before the cutoff: id, group label, signup second, first observed and completed months (capped)."""
    users = visible(users, C.Users.SIGNUP_AT, cut)
    signup = epoch_seconds(users[C.Users.SIGNUP_AT])
    if by == SIGNUP_MONTH:
        label = users[C.Users.SIGNUP_AT].truncate("M").date().cast("string").substr(0, 7)
    else:
        label = users[by].cast("string").fill_null("unknown")
    done = ((epoch_seconds(cut.literal) - signup) / MONTH_SECONDS).floor().cast("int64")
    first = ((data_start - signup) / MONTH_SECONDS).ceil().cast("int64")
    return users.select(
        user=users[C.Users.USER_ID], **{GROUP: label}, signup=signup, first=ibis.greatest(first, 0), done=ibis.least(done, months)
    )


def retention(tables: Mapping[str, ir.Table], as_of: AsOf, by: str = SIGNUP_MONTH, months: int = DEFAULT_MONTHS) -> pd.DataFrame:
    """Per group and month since signup (0 .. months-1): users counted, users retained, rate.

    as_of: data up to the end of that day (UTC) is read; a month counts only once it has ended.
    Rows with no user counted are left out. Raises ConfigError on an unknown grouping, a missing
    table or column, or when no user has a completed month (naming the as_of).
    """
    _check(tables, by, months)
    cut = Cut(cutoff(as_of))
    every_order = visible(tables[C.ORDERS], C.Orders.ORDERED_AT, cut)
    data_start = epoch_seconds(every_order[C.Orders.ORDERED_AT].min())
    users = _users(tables[C.USERS], by, cut, months, data_start)
    sizes = users.group_by([GROUP, "first", "done"]).aggregate(n=users.count()).to_pandas()
    observed = sizes[sizes["done"] > sizes["first"]] if not sizes.empty else sizes
    if observed.empty:
        raise ConfigError(f"retention at as_of {as_of}: no user has a complete month ({MONTH_DAYS} days) since signup within the data by then")
    orders = visible(purchases(tables[C.ORDERS]), C.Orders.ORDERED_AT, cut)
    joined = orders.join(users, orders[C.Orders.USER_ID] == users.user)
    month = ((epoch_seconds(joined[C.Orders.ORDERED_AT]) - joined.signup) / MONTH_SECONDS).floor().cast("int64")
    active = joined.select(GROUP, user=joined.user, month=month, first=joined["first"], done=joined.done)
    active = active.filter((active.month >= active["first"]) & (active.month < active.done)).select(GROUP, "user", MONTH).distinct()
    retained = active.group_by([GROUP, MONTH]).aggregate(**{RETAINED: active.count()}).to_pandas()
    rows = []
    for group, part in observed.groupby(GROUP, sort=True):
        for k in range(months):
            counted = int(part.loc[(part["first"] <= k) & (part["done"] > k), "n"].sum())
            if counted:
                rows.append((group, k, counted))
    frame = pd.DataFrame(rows, columns=[GROUP, MONTH, USERS])
    frame = frame.merge(retained, on=[GROUP, MONTH], how="left")
    frame[RETAINED] = frame[RETAINED].fillna(0).astype("int64")
    frame[RATE] = (frame[RETAINED] / frame[USERS]).round(4)
    frame.insert(0, "by", by)
    return frame.sort_values([GROUP, MONTH], kind="stable").reset_index(drop=True)


def retention_table(frame: pd.DataFrame) -> pd.DataFrame:
    """The long frame pivoted: one row per group with its cohort size and the rate of each month (``m0`` ...)."""
    wide = frame.pivot(index=GROUP, columns=MONTH, values=RATE)
    wide.columns = [f"m{k}" for k in wide.columns]
    sizes = frame.groupby(GROUP)[USERS].max().rename(COHORT_USERS)
    return pd.concat([sizes, wide], axis=1).reset_index().rename(columns={"index": GROUP})


def retention_plot(frame: pd.DataFrame, path: Path, title: str) -> Path:
    """One retention curve per group (rate against month since signup, counts in the legend), as a PNG at ``path``."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    wide = retention_table(frame)
    if frame[GROUP].nunique() > MAX_CURVES:  # many cohorts: the classic cohort grid reads better than a tangle of lines
        rates = wide.set_index(GROUP).drop(columns=COHORT_USERS)
        fig, ax = plt.subplots(figsize=(10, 0.9 + 0.32 * len(rates)), dpi=110)
        image = ax.imshow(100 * rates.to_numpy(dtype=float), aspect="auto", cmap="Blues", vmin=0)
        ax.set_xticks(np.arange(rates.shape[1]), [c.removeprefix("m") for c in rates.columns])
        ax.set_yticks(np.arange(len(rates)), [f"{g} ({n:,})" for g, n in zip(rates.index, wide[COHORT_USERS])], fontsize=8)
        for (i, j), value in np.ndenumerate(100 * rates.to_numpy(dtype=float)):
            if value == value:
                ax.text(j, i, f"{value:.0f}", ha="center", va="center", fontsize=7, color="white" if value > 45 else "black")
        fig.colorbar(image, ax=ax, label="users with a purchase in the month (%)")
    else:
        fig, ax = plt.subplots(figsize=(9, 5), dpi=110)
        for group, part in frame.groupby(GROUP, sort=True):
            size = int(part[USERS].max())
            ax.plot(part[MONTH], 100 * part[RATE], marker="o", markersize=3, label=f"{group} ({size:,} users)")
        ax.set_ylabel("users with a purchase in the month (%)")
        ax.grid(alpha=0.3)
        ax.set_xticks(np.arange(int(frame[MONTH].max()) + 1))
        ax.legend(fontsize=8)
    ax.set_xlabel(f"month since signup ({MONTH_DAYS}-day periods)")
    ax.set_title(title)
    fig.tight_layout()
    path = Path(path)
    fig.savefig(path)
    plt.close(fig)
    return path


def title(by: str, as_of: AsOf) -> str:
    """The report's heading: what is grouped, as of when."""
    day = as_of if isinstance(as_of, str) else (as_of.isoformat() if isinstance(as_of, dt.date) else str(as_of))
    return f"Retention by {by.replace('_', ' ')}, as of {day}"
