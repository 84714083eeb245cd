"""Coupon, after-sales and review features (``coupons``, ``tickets``, ``reviews`` tables)."""

from __future__ import annotations

import ibis.expr.types as ir

from features import contract as C
from features.catalog import USER_ID
from features.window import Cut, visible


def coupon_features(coupons: ir.Table, cut: Cut) -> ir.Table:
    """Per user: coupons received (treatment rows) and redeemed, as known at the cutoff.

    A coupon counts as redeemed only if ``redeemed_at`` is before the cutoff.
    """
    c = visible(coupons, C.Coupons.ISSUED_AT, cut)
    c = c.filter(c[C.Coupons.GROUP] == C.GROUP_TREATMENT)
    m: dict[str, ir.Scalar] = {
        "coupons_received_90d": c[USER_ID].count(where=cut.within(c[C.Coupons.ISSUED_AT], 90)),
        "_received": c[USER_ID].count(),
        "_last_coupon_at": c[C.Coupons.ISSUED_AT].max(),
    }
    if C.Coupons.REDEEMED_AT in c.columns:
        redeemed = c[C.Coupons.REDEEMED_AT] < cut.literal
        m["coupons_redeemed_90d"] = c[USER_ID].count(where=redeemed & cut.within(c[C.Coupons.REDEEMED_AT], 90))
        m["_redeemed"] = c[USER_ID].count(where=redeemed)
    agg = c.group_by(USER_ID).aggregate(**m)
    derived = {"days_since_last_coupon": cut.days_since(agg["_last_coupon_at"])}
    if "_redeemed" in agg.columns:
        derived["coupon_redemption_rate"] = agg["_redeemed"].cast("float64") / agg["_received"].cast("float64").nullif(0.0)
    agg = agg.mutate(**derived)
    return agg.drop(*[x for x in agg.columns if x.startswith("_")])


def ticket_features(tickets: ir.Table, cut: Cut) -> ir.Table:
    """Per user: returns, complaints and tickets still open at the cutoff."""
    t = visible(tickets, C.Tickets.CREATED_AT, cut)
    at, kind = t[C.Tickets.CREATED_AT], t[C.Tickets.KIND]
    complaint = kind == C.TICKET_COMPLAINT
    m: dict[str, ir.Scalar] = {
        "returns_90d": t[USER_ID].count(where=(kind == C.TICKET_RETURN) & cut.within(at, 90)),
        "complaints_30d": t[USER_ID].count(where=complaint & cut.within(at, 30)),
        "complaints_90d": t[USER_ID].count(where=complaint & cut.within(at, 90)),
        "_last_complaint_at": at.max(where=complaint),
    }
    if C.Tickets.RESOLVED_AT in t.columns:
        resolved = t[C.Tickets.RESOLVED_AT]
        m["unresolved_tickets"] = t[USER_ID].count(where=resolved.isnull() | (resolved >= cut.literal))
    agg = t.group_by(USER_ID).aggregate(**m)
    agg = agg.mutate(days_since_last_complaint=cut.days_since(agg["_last_complaint_at"]))
    return agg.drop("_last_complaint_at")


def review_features(reviews: ir.Table, cut: Cut) -> ir.Table:
    """Per user: reviews written, mean rating and recent low ratings."""
    r = visible(reviews, C.Reviews.CREATED_AT, cut)
    rating = r[C.Reviews.RATING]
    return r.group_by(USER_ID).aggregate(
        reviews_all=r[USER_ID].count(),
        mean_rating=rating.cast("float64").mean(),
        low_ratings_90d=r[USER_ID].count(where=(rating <= 2) & cut.within(r[C.Reviews.CREATED_AT], 90)),
    )
