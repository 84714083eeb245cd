"""Purchase-interval, spend and category-mix features from the ``orders`` table.

A purchase is an order with status paid or refunded (every order when the
dataset has no status column); cancelled orders only feed ``cancelled_orders_90d``.
"""

from __future__ import annotations

import ibis
import ibis.expr.types as ir

from features import contract as C
from features.catalog import USER_ID, WINDOWS
from features.window import Cut, join_users, rate_ratio, visible

AT, AMOUNT, STATUS, CATEGORY = C.Orders.ORDERED_AT, C.Orders.AMOUNT, C.Orders.STATUS, C.Orders.CATEGORY
FIRST_ORDER_AT = "_first_order_at"


def is_purchase(orders: ir.Table) -> ir.BooleanValue:
    """Rows that are purchases (see the module docstring)."""
    if STATUS not in orders.columns:
        return ibis.literal(True)
    return orders[STATUS].isin(C.PURCHASE_STATUSES)


def purchases(orders: ir.Table) -> ir.Table:
    return orders.filter(is_purchase(orders))


def purchase_features(orders: ir.Table, cut: Cut) -> ir.Table:
    """Per user: purchase, spend and category features at the cutoff, plus ``_first_order_at``.

    orders: the contract's orders table (normalised). Only rows before the cutoff are read.
    """
    o = visible(orders, AT, cut)
    buy = is_purchase(o)
    m: dict[str, ir.Scalar] = {}
    for w in WINDOWS:
        m[f"orders_{w}d"] = o[USER_ID].count(where=buy & cut.within(o[AT], w))
    m["orders_all"] = o[USER_ID].count(where=buy)
    m["spend_30d"] = o[AMOUNT].sum(where=buy & cut.within(o[AT], 30)).fill_null(0.0)
    m["spend_90d"] = o[AMOUNT].sum(where=buy & cut.within(o[AT], 90)).fill_null(0.0)
    m["spend_all"] = o[AMOUNT].sum(where=buy).fill_null(0.0)
    m["avg_order_value"] = o[AMOUNT].mean(where=buy)
    m["_spend_prev60"] = o[AMOUNT].sum(where=buy & cut.between(o[AT], 30, 90)).fill_null(0.0)
    m["_last_order_at"] = o[AT].max(where=buy)
    m[FIRST_ORDER_AT] = o[AT].min(where=buy)
    if STATUS in o.columns:
        refunded = o[STATUS] == C.STATUS_REFUNDED
        m["cancelled_orders_90d"] = o[USER_ID].count(where=(o[STATUS] == C.STATUS_CANCELLED) & cut.within(o[AT], 90))
        m["refunds_90d"] = o[USER_ID].count(where=refunded & cut.within(o[AT], 90))
        m["_refunds_all"] = o[USER_ID].count(where=refunded)
    agg = o.group_by(USER_ID).aggregate(**m)
    derived = {
        "days_since_last_order": cut.days_since(agg["_last_order_at"]),
        "days_since_first_order": cut.days_since(agg[FIRST_ORDER_AT]),
        "spend_trend_30_60": rate_ratio(agg["spend_30d"], 30, agg["_spend_prev60"], 60),
    }
    if STATUS in o.columns:
        derived["refund_rate"] = agg["_refunds_all"].cast("float64") / agg["orders_all"].cast("float64").nullif(0.0)
    agg = agg.mutate(**derived)
    agg = agg.drop(*[c for c in agg.columns if c.startswith("_") and c != FIRST_ORDER_AT])

    gaps = order_gaps(orders, cut)
    out = join_users(agg, gaps, USER_ID)
    out = out.mutate(order_overdue=out["days_since_last_order"] / out["order_gap_median"].nullif(0.0))
    if CATEGORY in orders.columns:
        out = join_users(out, category_mix(orders, cut), USER_ID)
    return out


def order_gaps(orders: ir.Table, cut: Cut) -> ir.Table:
    """Per user: the number of purchase days, and the mean, median and standard deviation of the gaps
    (calendar days) between them.

    Several purchases on one day count as one purchase day, so a basket split
    into two orders does not make the typical gap zero (and buy-till-you-die
    models count repeat purchase days, not orders).
    """
    p = purchases(visible(orders, AT, cut))
    days = p.select(USER_ID, _day=p[AT].date()).distinct()
    previous = days["_day"].lag().over(group_by=days[USER_ID], order_by=days["_day"])
    g = days.mutate(_gap=days["_day"].delta(previous, unit="day").cast("float64"))
    g = g.filter(g["_gap"].notnull())
    per_user = days.group_by(USER_ID).aggregate(purchase_days_all=days[USER_ID].count())
    gap_stats = g.group_by(USER_ID).aggregate(
        order_gap_mean=g["_gap"].mean(),
        order_gap_median=g["_gap"].median(),
        order_gap_std=g["_gap"].std(),
    )
    return join_users(per_user, gap_stats, USER_ID)


def category_mix(orders: ir.Table, cut: Cut) -> ir.Table:
    """Per user: number of categories bought, the main one and its share of purchases."""
    p = purchases(visible(orders, AT, cut))
    p = p.filter(p[CATEGORY].notnull())
    counts = p.group_by([USER_ID, CATEGORY]).aggregate(_n=p[USER_ID].count())
    rank = ibis.row_number().over(group_by=counts[USER_ID], order_by=[ibis.desc(counts["_n"]), counts[CATEGORY]])
    ranked = counts.mutate(_rank=rank)
    per_user = ranked.group_by(USER_ID).aggregate(
        categories_all=ranked[CATEGORY].count(),
        main_category=ranked[CATEGORY].max(where=ranked["_rank"] == 0),
        _top=ranked["_n"].max(),
        _total=ranked["_n"].sum(),
    )
    per_user = per_user.mutate(main_category_share=per_user["_top"].cast("float64") / per_user["_total"].cast("float64"))
    return per_user.drop("_top", "_total")
