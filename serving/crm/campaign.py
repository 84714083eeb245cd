"""The campaign readout: what a coupon campaign bought, measured against its control group.

Inputs: the dataset's tables (``coupons`` and ``orders`` in contract form), a
campaign id, ``as_of`` (required; a date D means the end of day D, UTC) and a
horizon of H days. Nothing after ``as_of`` is read; nothing defaults to now.

* **Users.** The campaign's rows in ``coupons``, both groups: the treatment
  group got the coupon; the control group (``group = control``) was picked the
  same way and held out. Each row counts as one user (a user listed twice
  counts twice). A user counts once their horizon ``(issued_at, issued_at + H
  days]`` has ended by ``as_of``; users whose horizon is still open are
  reported as pending. If nobody's horizon is complete, ``ConfigError`` says
  from which ``as_of`` the readout becomes possible.
* **Retained.** A user is retained when they make a purchase (an order with
  status paid or refunded, as everywhere in the project) in their horizon: an
  order exactly at ``issued_at`` does not count, one exactly at
  ``issued_at + H days`` does. Spend is the sum of those purchases' amounts
  (0 without purchases).
* **Per group:** users, retained, retention rate, spend in the horizon (total,
  per user, standard deviation per user), users who also got another
  campaign's treatment coupon in their horizon. **Treatment only:** coupons
  redeemed in the horizon (when ``coupons.redeemed_at`` exists) and their
  share; coupon cost = the sum of ``value`` (face value issued).
* **Effect** (only with both groups): retention difference treatment - control
  (a proportion: 0.05 = 5 percentage points) with the Miettinen-Nurminen score
  interval at ``confidence`` and the two-sided p-value of the same score test,
  so the interval excludes 0 exactly when p < 1 - confidence; incremental
  retained users = difference x treated users; spend per user difference with
  a Welch interval, and incremental spend = that x treated users; cost per
  incremental retained user = coupon cost / incremental retained users, with
  its interval, only when the whole retention interval is above 0 (a cost per
  kept user of a result that may be chance is not printed).
* **Verdict** in words (:mod:`serving.crm.verdict`): a measured gain, a measured
  loss, or no measurable effect with the minimum detectable effect and the
  holdout needed for ``stated_effect``.

Computed on the engine (Ibis): one query for the campaign's row counts, one for
the per-group aggregates; only those few numbers are fetched. Money is in the
platform's currency. The intervals and the test are :mod:`serving.crm.statistics`.
:func:`readout_table` and :func:`readout_dict` present a readout for the terminal
and as JSON.
"""

from __future__ import annotations

import datetime as dt
import difflib
import math
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from typing import Any

import ibis
import ibis.expr.types as ir
from rich.table import Table

from features import contract as C
from features.asof import AsOf, cutoff, parse_as_of
from features.errors import ConfigError
from features.purchases import purchases
from features.window import Cut, visible
from serving.crm.statistics import (
    DEFAULT_CONFIDENCE,
    Interval,
    retention_difference_interval,
    score_test_p_value,
    welch_interval,
)
from serving.crm.verdict import DEFAULT_STATED_EFFECT, Verdict, unmeasured, verdict

DEFAULT_HORIZON_DAYS = 30
SMALL_GROUP = 50  # a group smaller than this gets a note: its intervals are wide and rough
MAX_KNOWN_SHOWN = 5

CAMPAIGN_ID, GROUP, ISSUED_AT, VALUE = C.Coupons.CAMPAIGN_ID, C.Coupons.GROUP, C.Coupons.ISSUED_AT, C.Coupons.VALUE
COUPON_ID, USER_ID, REDEEMED_AT = C.Coupons.COUPON_ID, C.Coupons.USER_ID, C.Coupons.REDEEMED_AT


@dataclass(frozen=True)
class GroupFigures:
    """One group's figures over its counted users."""

    users: int
    retained: int
    retention_rate: float
    spend: float  # total purchases in the horizons
    spend_per_user: float
    spend_per_user_sd: float | None  # sample standard deviation; None with one user
    other_campaign_users: int  # users who got another campaign's treatment coupon in their horizon


@dataclass(frozen=True)
class CouponFigures:
    """What the treatment group's coupons did and cost."""

    redeemed: int | None  # redeemed in the horizon; None when coupons has no redeemed_at
    redemption_rate: float | None
    coupon_cost: float  # sum of value (face value issued)


@dataclass(frozen=True)
class Effect:
    """Treatment minus control; intervals at the readout's confidence."""

    retention_difference: float  # in proportion points: 0.05 = 5 percentage points
    retention_difference_interval: Interval
    p_value: float
    incremental_retained_users: float
    incremental_retained_users_interval: Interval
    spend_per_user_difference: float
    spend_per_user_difference_interval: Interval | None  # None when a group has fewer than 2 users
    incremental_spend: float
    incremental_spend_interval: Interval | None
    cost_per_incremental_retained_user: float | None  # None unless the retention interval is above 0
    cost_per_incremental_retained_user_interval: Interval | None  # likewise


@dataclass(frozen=True)
class CampaignReadout:
    """The readout of one campaign at ``as_of`` (see the module docstring)."""

    campaign_id: str
    as_of: dt.date | dt.datetime
    horizon_days: int
    confidence: float
    first_issued_at: dt.datetime  # over the counted users (naive UTC)
    last_issued_at: dt.datetime
    pending_users: int  # issued by as_of, horizon not complete: not counted
    treatment: GroupFigures | None
    control: GroupFigures | None
    coupons: CouponFigures | None  # None without a treatment group
    effect: Effect | None  # None when a group is missing
    verdict: Verdict  # the readout in words
    notes: tuple[str, ...]  # why the effect is missing, pending users, small groups


def campaign_readout(
    tables: Mapping[str, ir.Table],
    campaign_id: str,
    *,
    as_of: AsOf,
    horizon_days: int = DEFAULT_HORIZON_DAYS,
    confidence: float = DEFAULT_CONFIDENCE,
    stated_effect: float = DEFAULT_STATED_EFFECT,
) -> CampaignReadout:
    """The readout of campaign ``campaign_id`` with the data visible at ``as_of``.

    tables: contract tables by name; ``coupons`` and ``orders`` are read.
    horizon_days: the retention horizon H after each user's ``issued_at``.
    confidence: the level of every interval (0.95: 95 % intervals).
    stated_effect: the retention rise (0.03 = 3 points) for which an inconclusive verdict gives the holdout needed.
    Raises ``ConfigError`` for a bad option, a dataset without coupons, an
    unknown campaign, or a campaign with no complete horizon at ``as_of``.
    """
    if isinstance(horizon_days, bool) or not isinstance(horizon_days, int) or horizon_days < 1:
        raise ConfigError(f"horizon {horizon_days!r} is not a whole number of days >= 1")
    if not 0.5 <= confidence < 1:
        raise ConfigError(f"confidence {confidence!r} is not in [0.5, 1), e.g. 0.95")
    if not 0 < stated_effect < 1:
        raise ConfigError(f"stated effect {stated_effect!r} is not in (0, 1), e.g. 0.03 for 3 points")
    day = parse_as_of(as_of)
    for name in (C.COUPONS, C.ORDERS):
        if name not in tables:
            present = ", ".join(tables) or "none"
            raise ConfigError(
                f"the dataset has no {name} table (tables present: {present}); "
                f"a campaign readout needs {C.COUPONS} (the campaign with its control group) and {C.ORDERS}"
            )
    coupons, orders = tables[C.COUPONS], tables[C.ORDERS]
    cut = Cut(cutoff(as_of))
    horizon = ibis.interval(days=horizon_days)
    is_campaign = coupons[CAMPAIGN_ID].cast("string") == str(campaign_id)
    campaign = coupons.filter(is_campaign)

    seen = _one_row(
        campaign.aggregate(
            rows=campaign.count(),
            first_issued=campaign[ISSUED_AT].min(),
            pending=campaign.count(where=(campaign[ISSUED_AT] < cut.literal) & (campaign[ISSUED_AT] + horizon >= cut.literal)),
            counted=campaign.count(where=campaign[ISSUED_AT] + horizon < cut.literal),
        )
    )
    if not seen["rows"]:
        raise ConfigError(_unknown_campaign(coupons, str(campaign_id)))
    if not seen["counted"]:
        possible = (seen["first_issued"] + dt.timedelta(days=horizon_days)).date()
        raise ConfigError(
            f"campaign {campaign_id!r}: no {horizon_days}-day horizon is complete at as_of {day.isoformat()}; "
            f"its first coupons were issued {seen['first_issued']:%Y-%m-%d %H:%M} UTC, "
            f"so the readout is possible from as_of {possible.isoformat()}"
        )

    rows = _group_rows(coupons, orders, is_campaign, cut, horizon)
    treatment = _figures(rows.get(C.GROUP_TREATMENT))
    control = _figures(rows.get(C.GROUP_CONTROL))
    counted = list(rows.values())
    coupons_fig = None
    if treatment is not None:
        t = rows[C.GROUP_TREATMENT]
        redeemed = t["redeemed"] if REDEEMED_AT in coupons.columns else None
        coupons_fig = CouponFigures(
            redeemed=redeemed,
            redemption_rate=None if redeemed is None else redeemed / treatment.users,
            coupon_cost=float(t["coupon_cost"] or 0.0),
        )

    notes: list[str] = []
    effect = None
    if treatment is None or control is None:
        missing = "control" if control is None else "treatment"
        said = unmeasured(missing)
        notes.append(
            f"no {missing} group: nobody in campaign {campaign_id!r} was "
            f"{'held out' if missing == 'control' else 'given the coupon'}, so the effect cannot be measured"
        )
    else:
        effect = _effect(rows[C.GROUP_TREATMENT], rows[C.GROUP_CONTROL], coupons_fig.coupon_cost, confidence)
        said = verdict(
            n_treated=treatment.users, n_control=control.users, control_rate=control.retention_rate,
            difference=effect.retention_difference, difference_interval=effect.retention_difference_interval,
            coupon_cost=coupons_fig.coupon_cost, spend_difference=effect.spend_per_user_difference,
            spend_interval=effect.spend_per_user_difference_interval, confidence=confidence, stated_effect=stated_effect,
        )  # fmt: skip
    if seen["pending"]:
        notes.append(
            f"{_users(seen['pending'])} given coupons less than {horizon_days} days before as_of "
            "are not counted yet"
        )
    if effect is not None:
        for name, fig in ((C.GROUP_TREATMENT, treatment), (C.GROUP_CONTROL, control)):
            if fig.users < SMALL_GROUP:
                notes.append(f"the {name} group has only {_users(fig.users)}: the intervals are wide, the spend one rough")
    return CampaignReadout(
        campaign_id=str(campaign_id),
        as_of=day,
        horizon_days=horizon_days,
        confidence=confidence,
        first_issued_at=min(r["first_issued"] for r in counted),
        last_issued_at=max(r["last_issued"] for r in counted),
        pending_users=int(seen["pending"]),
        treatment=treatment,
        control=control,
        coupons=coupons_fig,
        effect=effect,
        verdict=said,
        notes=tuple(notes),
    )


def _group_rows(
    coupons: ir.Table, orders: ir.Table, is_campaign: ir.BooleanValue, cut: Cut, horizon: ir.IntervalScalar
) -> dict[str, dict[str, Any]]:
    """Per-group aggregates of the counted users (one row each), keyed by group; one query."""
    units = coupons.filter(is_campaign & (coupons[ISSUED_AT] + horizon < cut.literal))
    units = units.mutate(_end=units[ISSUED_AT] + horizon)
    keys = units.select(_unit=units[COUPON_ID], _user=units[USER_ID], _from=units[ISSUED_AT], _to=units["_end"])

    buys = purchases(visible(orders, C.Orders.ORDERED_AT, cut))
    buys = buys.select(_buyer=buys[C.Orders.USER_ID], _at=buys[C.Orders.ORDERED_AT], _amount=buys[C.Orders.AMOUNT])
    hits = keys.join(buys, [keys["_user"] == buys["_buyer"], buys["_at"] > keys["_from"], buys["_at"] <= keys["_to"]])
    per_unit = hits.group_by("_unit").aggregate(_purchases=hits.count(), _spend=hits["_amount"].sum())

    other = coupons.filter(~is_campaign & (coupons[GROUP] == C.GROUP_TREATMENT) & (coupons[ISSUED_AT] < cut.literal))
    other = other.select(_user2=other[USER_ID], _issued2=other[ISSUED_AT])
    overlap = keys.join(
        other, [keys["_user"] == other["_user2"], other["_issued2"] > keys["_from"], other["_issued2"] <= keys["_to"]]
    )
    overlap = overlap.select(_unit3=overlap["_unit"], _other=ibis.literal(1)).distinct()

    u = units.left_join(per_unit, units[COUPON_ID] == per_unit["_unit"]).left_join(
        overlap, units[COUPON_ID] == overlap["_unit3"]
    )
    spend = u["_spend"].fill_null(0.0)
    u = u.mutate(_spend_all=spend, _retained=u["_purchases"].fill_null(0) > 0, _overlap=u["_other"].notnull())
    metrics: dict[str, ir.Scalar] = {
        "users": u.count(),
        "retained": u.count(where=u["_retained"]),
        "spend": u["_spend_all"].sum(),
        "spend_var": u["_spend_all"].var(how="sample"),
        "coupon_cost": u[VALUE].sum(),
        "overlap": u.count(where=u["_overlap"]),
        "first_issued": u[ISSUED_AT].min(),
        "last_issued": u[ISSUED_AT].max(),
    }
    if REDEEMED_AT in u.columns:
        metrics["redeemed"] = u.count(where=u[REDEEMED_AT].notnull() & (u[REDEEMED_AT] <= u["_end"]))
    out = u.group_by(GROUP).aggregate(**metrics).to_pyarrow().to_pylist()
    return {row[GROUP]: row for row in out}


def _figures(row: dict[str, Any] | None) -> GroupFigures | None:
    if row is None:
        return None
    n = int(row["users"])
    spend = float(row["spend"] or 0.0)
    var = row["spend_var"]
    return GroupFigures(
        users=n,
        retained=int(row["retained"]),
        retention_rate=row["retained"] / n,
        spend=spend,
        spend_per_user=spend / n,
        spend_per_user_sd=None if var is None or math.isnan(var) else math.sqrt(max(var, 0.0)),
        other_campaign_users=int(row["overlap"]),
    )


def _effect(t: dict[str, Any], c: dict[str, Any], coupon_cost: float, confidence: float) -> Effect:
    n_t, n_c = int(t["users"]), int(c["users"])
    x_t, x_c = int(t["retained"]), int(c["retained"])
    diff = x_t / n_t - x_c / n_c
    low, high = retention_difference_interval(x_t, n_t, x_c, n_c, confidence)
    mean_t, mean_c = float(t["spend"] or 0.0) / n_t, float(c["spend"] or 0.0) / n_c
    spend_diff = mean_t - mean_c
    spend_ci = None
    if n_t >= 2 and n_c >= 2:
        spend_ci = welch_interval(mean_t, float(t["spend_var"]), n_t, mean_c, float(c["spend_var"]), n_c, confidence)
    incremental = diff * n_t
    cost = coupon_cost / incremental if low > 0 else None
    cost_ci = (coupon_cost / (high * n_t), coupon_cost / (low * n_t)) if low > 0 else None
    return Effect(
        retention_difference=diff,
        retention_difference_interval=(low, high),
        p_value=score_test_p_value(x_t, n_t, x_c, n_c),
        incremental_retained_users=incremental,
        incremental_retained_users_interval=(low * n_t, high * n_t),
        spend_per_user_difference=spend_diff,
        spend_per_user_difference_interval=spend_ci,
        incremental_spend=spend_diff * n_t,
        incremental_spend_interval=None if spend_ci is None else (spend_ci[0] * n_t, spend_ci[1] * n_t),
        cost_per_incremental_retained_user=cost,
        cost_per_incremental_retained_user_interval=cost_ci,
    )


def _users(n: int) -> str:
    return f"{n:,} user" if n == 1 else f"{n:,} users"


def _one_row(expr: ir.Table) -> dict[str, Any]:
    return expr.to_pyarrow().to_pylist()[0]


def _unknown_campaign(coupons: ir.Table, campaign_id: str) -> str:
    known = coupons.group_by(_id=coupons[CAMPAIGN_ID].cast("string")).aggregate(_last=coupons[ISSUED_AT].max())
    ids = [r["_id"] for r in known.order_by([ibis.desc("_last"), "_id"]).to_pyarrow().to_pylist()]
    if not ids:
        return f"unknown campaign {campaign_id!r}: the coupons table is empty"
    close = difflib.get_close_matches(campaign_id, ids, n=MAX_KNOWN_SHOWN, cutoff=0.6)
    shown = (close + [i for i in ids if i not in close])[:MAX_KNOWN_SHOWN]
    more = f" and {len(ids) - len(shown)} more" if len(ids) > len(shown) else ""
    order = "closest first, then most recent" if close else "most recent first"
    return f"unknown campaign {campaign_id!r}; known campaigns ({order}): {', '.join(map(repr, shown))}{more}"


# --- presentation -------------------------------------------------------------


def readout_dict(readout: CampaignReadout) -> dict[str, Any]:
    """The readout as JSON-ready data: dates and times in ISO 8601, intervals as [low, high], NaN as null."""
    return _jsonable(asdict(readout))


def _jsonable(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    if isinstance(value, dt.date):  # datetimes too
        return value.isoformat()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def readout_table(readout: CampaignReadout) -> Table:
    """The readout for the terminal: one row per figure, columns treatment, control, difference."""
    r, e = readout, readout.effect
    level = f"{readout.confidence:.0%}"
    table = Table(
        title=f"campaign {r.campaign_id}: {r.horizon_days}-day readout as of {r.as_of.isoformat()}",
        caption="\n".join(
            [
                f"coupons issued {r.first_issued_at:%Y-%m-%d %H:%M} to {r.last_issued_at:%Y-%m-%d %H:%M} UTC; "
                f"retained = a purchase within {r.horizon_days} days after the coupon; intervals at {level}",
                *r.notes,
                f"verdict: {r.verdict.text}",
            ]
        ),
        caption_justify="left",
    )
    table.add_column("")
    table.add_column(C.GROUP_TREATMENT, justify="right")
    table.add_column(C.GROUP_CONTROL, justify="right")
    table.add_column("treatment - control", justify="right")
    t, c = r.treatment, r.control

    def cell(fig: GroupFigures | None, text) -> str:
        return "-" if fig is None else text(fig)

    table.add_row("users", cell(t, lambda g: f"{g.users:,}"), cell(c, lambda g: f"{g.users:,}"), "")
    table.add_row(
        "retained",
        cell(t, lambda g: f"{g.retained:,} ({g.retention_rate:.1%})"),
        cell(c, lambda g: f"{g.retained:,} ({g.retention_rate:.1%})"),
        "cannot be measured" if e is None else
        f"{_pts(e.retention_difference)} pts ({_pts(e.retention_difference_interval[0])} to "
        f"{_pts(e.retention_difference_interval[1])}), p = {_p(e.p_value)}",
    )
    table.add_row(
        "spend per user",
        cell(t, lambda g: f"{g.spend_per_user:,.2f}"),
        cell(c, lambda g: f"{g.spend_per_user:,.2f}"),
        "" if e is None else f"{e.spend_per_user_difference:+,.2f} {_range(e.spend_per_user_difference_interval, '{:+,.2f}')}",
    )
    table.add_row(
        "got another campaign's coupon",
        cell(t, lambda g: f"{g.other_campaign_users:,} ({g.other_campaign_users / g.users:.0%})"),
        cell(c, lambda g: f"{g.other_campaign_users:,} ({g.other_campaign_users / g.users:.0%})"),
        "",
    )
    if r.coupons is not None:
        k = r.coupons
        redeemed = "unknown" if k.redeemed is None else f"{k.redeemed:,} ({k.redemption_rate:.1%})"
        table.add_row("coupons redeemed", redeemed, "-", "")
        table.add_row("coupon cost", f"{k.coupon_cost:,.0f}", "-", "")
    if e is not None:
        table.add_row(
            "incremental retained users", "", "",
            f"{e.incremental_retained_users:+,.1f} {_range(e.incremental_retained_users_interval, '{:+,.1f}')}",
        )
        table.add_row(
            "incremental spend", "", "",
            f"{e.incremental_spend:+,.0f} {_range(e.incremental_spend_interval, '{:+,.0f}')}",
        )
        if e.cost_per_incremental_retained_user is None:
            cost = "not given: no measured gain"
        else:
            cost = f"{e.cost_per_incremental_retained_user:,.0f} " + _range(e.cost_per_incremental_retained_user_interval, "{:,.0f}")
        table.add_row("cost per incremental retained user", "", "", cost)
    return table


def _pts(x: float) -> str:
    return f"{100 * x:+.1f}"


def _p(p: float) -> str:
    return "< 0.001" if p < 0.001 else f"{p:.3f}"


def _range(interval: Interval | None, fmt: str) -> str:
    if interval is None:
        return "(no interval: a group has fewer than 2 users)"
    return f"({fmt.format(interval[0])} to {fmt.format(interval[1])})"
