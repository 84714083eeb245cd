"""What a new user looked at, and what they bought first: the inputs and label of the category recommender.

Inputs are the dataset's tables in contract form (Ibis) and an explicit ``as_of``
(a date D means the end of day D, UTC). :func:`browsing_profile` reads only rows
before the cutoff; :func:`first_categories` is the label and is the only function
here that reads rows after ``as_of``.

* **Browsing**: per user and category, page views and add-to-cart events since
  signup (events without a category, logins and searches are not counted),
  as columns ``views_<category>`` and ``carts_<category>``, plus ``events_total``.
* **Profile**: acquisition channel, region, city tier and the season of signup
  (``signup_quarter`` Q1..Q4), the segments similar new users share.
* **First category**: the category of the user's first purchase ever (paid or
  refunded order), when it falls in ``(as_of, as_of + horizon_days]``; the
  lowest order id wins a tie at the same instant.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping

import ibis
import ibis.expr.types as ir
import pandas as pd

from features import contract as C
from features.asof import AsOf, cutoff
from features.catalog import USER_ID
from features.purchases import purchases
from features.window import Cut, visible

VIEWS, CARTS = "views_", "carts_"
EVENTS_TOTAL = "events_total"
SIGNUP_QUARTER = "signup_quarter"
PROFILE = (C.Users.CHANNEL, C.Users.REGION, C.Users.CITY_TIER, SIGNUP_QUARTER)
FIRST_CATEGORY = "first_category"
BROWSE_EVENTS = {C.EVENT_PAGE_VIEW: VIEWS, C.EVENT_ADD_TO_CART: CARTS}


def browsing_profile(tables: Mapping[str, ir.Table], as_of: AsOf, users: ir.Table) -> pd.DataFrame:
    """One row per user of ``users`` (a table with ``user_id``): profile columns and browsing counts by category.

    Columns: ``user_id``, the :data:`PROFILE` columns (text), ``views_<category>`` and ``carts_<category>``
    for every category seen in anyone's browsing or orders before the cutoff (0 when none), ``events_total``.
    """
    cut = Cut(cutoff(as_of))
    wanted = users.select(USER_ID).distinct()
    people = visible(tables[C.USERS], C.Users.SIGNUP_AT, cut)
    people = people.filter(people[USER_ID].isin(wanted[USER_ID]))
    quarter = ibis.literal("Q") + people[C.Users.SIGNUP_AT].quarter().cast("string")
    profile = people.select(
        USER_ID,
        **{c: people[c].cast("string") for c in PROFILE if c != SIGNUP_QUARTER and c in people.columns},
        **{SIGNUP_QUARTER: quarter},
    ).to_pandas()
    for c in PROFILE:
        if c not in profile.columns:
            profile[c] = None
    events = visible(tables[C.EVENTS], C.Events.EVENT_AT, cut) if C.EVENTS in tables else None
    counts = pd.DataFrame(columns=[USER_ID, C.Events.EVENT_TYPE, C.Events.CATEGORY, "n"])
    if events is not None and C.Events.CATEGORY in events.columns:
        browse = events.filter(
            events[C.Events.EVENT_TYPE].isin(list(BROWSE_EVENTS)) & events[C.Events.CATEGORY].notnull() & events[USER_ID].isin(wanted[USER_ID])
        )
        counts = browse.group_by([USER_ID, C.Events.EVENT_TYPE, C.Events.CATEGORY]).aggregate(n=browse.count()).to_pandas()
    orders = visible(tables[C.ORDERS], C.Orders.ORDERED_AT, cut)
    seen = set(orders.select(C.Orders.CATEGORY).distinct().to_pandas()[C.Orders.CATEGORY].dropna().astype(str))
    seen |= set(counts[C.Events.CATEGORY].astype(str))
    out = profile.set_index(USER_ID)
    out[EVENTS_TOTAL] = 0
    for event, prefix in BROWSE_EVENTS.items():
        part = counts[counts[C.Events.EVENT_TYPE] == event]
        wide = part.pivot_table(index=USER_ID, columns=C.Events.CATEGORY, values="n", aggfunc="sum", fill_value=0)
        for category in sorted(seen):
            column = wide[category] if category in wide.columns else pd.Series(dtype="int64")
            out[prefix + category] = column.reindex(out.index).fillna(0).astype("int64")
            out[EVENTS_TOTAL] += out[prefix + category]
    return out.reset_index().sort_values(USER_ID, kind="stable").reset_index(drop=True)


def first_categories(tables: Mapping[str, ir.Table], as_of: AsOf, horizon_days: int) -> pd.DataFrame:
    """Users whose first purchase ever falls in ``(as_of, as_of + horizon_days]``: ``user_id``, ``first_category``."""
    start = cutoff(as_of)
    end = start + dt.timedelta(days=horizon_days)
    bought = purchases(tables[C.ORDERS])
    ranked = bought.mutate(
        rank=ibis.row_number().over(group_by=bought[USER_ID], order_by=[bought[C.Orders.ORDERED_AT], bought[C.Orders.ORDER_ID]])
    )
    first = ranked.filter(ranked["rank"] == 0)
    first = first.filter(
        (first[C.Orders.ORDERED_AT] >= ibis.literal(start, type="timestamp")) & (first[C.Orders.ORDERED_AT] < ibis.literal(end, type="timestamp"))
    )
    frame = first.select(USER_ID, **{FIRST_CATEGORY: first[C.Orders.CATEGORY].cast("string")}).to_pandas()
    return frame.sort_values(USER_ID, kind="stable").reset_index(drop=True)
