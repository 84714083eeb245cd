"""Plausibility rules of the data contract: timestamps in a window, numbers under a ceiling.

The limits come from :class:`features.contract.ContractLimits`. Every timestamp
of every table must lie in ``earliest <= t < latest``; and before the data's own
end: the end of the day ``max_days_after_orders`` days after the day by which
99.9% of the plausible orders (those within earliest..latest) were placed. The
quantile, rather than the last order, keeps a few bad order timestamps from
moving the end they are judged by. Numeric columns with a ``ceiling`` must hold
values at most that limit. Each rule is a :class:`RowCheck` that
:mod:`features.validation` counts with the table's other rules.
"""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass

import ibis
import ibis.expr.types as ir

from features.contract import ORDERS, ORDERS_END_QUANTILE, ColumnSpec, ContractLimits, Orders
from features.dataset import Dataset
from features.reading import READ_ERRORS


@dataclass(frozen=True)
class RowCheck:
    """A rule on the rows of one table: ``bad`` is true on rows breaking it."""

    column: str
    bad: ir.BooleanValue
    shown: ir.Value | None  # what an example shows; None: no examples
    one: str  # "negative value": what one bad row has
    many: str  # "negative values"
    rule: str  # what is expected, after the semicolon
    shown_prefix: str = ""  # "order_id " when examples show another column
    order: ir.Value | None = None  # what examples are sorted by, when not ``shown`` itself
    verbatim: bool = False  # examples are printed as they are (timestamps rendered by DuckDB), not quoted


@dataclass(frozen=True)
class Window:
    """Where timestamps must lie: ``earliest <= t < latest``, and ``t < data_end`` when that is set."""

    earliest: dt.datetime
    latest: dt.datetime
    data_end: dt.datetime | None  # midnight after the day max_days_after_orders days after orders_end
    orders_end: dt.date | None  # the day by which ORDERS_END_QUANTILE of the plausible orders were placed
    days_after_orders: int | None


def data_window(ds: Dataset, limits: ContractLimits) -> Window:
    """The timestamp window of ``limits`` for ``ds``, its end taken from the plausible orders.

    One aggregate over ``orders``; no ``data_end`` when the rule is off, when
    there are no plausible orders, or when ``orders`` cannot be read (its checks
    then report that).
    """
    orders_end = data_end = None
    if limits.max_days_after_orders is not None and ds.has(ORDERS) and Orders.ORDERED_AT in ds.raw[ORDERS].columns:
        at = ds.normalised_columns(ORDERS)[Orders.ORDERED_AT]
        plausible = ds.raw[ORDERS].filter((at >= limits.earliest) & (at < limits.latest))
        try:
            value = plausible.aggregate(end=at.quantile(ORDERS_END_QUANTILE)).to_pyarrow().to_pylist()[0]["end"]
        except READ_ERRORS:
            value = None
        if value is not None:
            orders_end = value.date()
            data_end = dt.datetime.combine(orders_end + dt.timedelta(days=limits.max_days_after_orders + 1), dt.time())
    return Window(limits.earliest, limits.latest, data_end, orders_end, limits.max_days_after_orders)


def timestamp_checks(spec: ColumnSpec, raw: ir.Value, value: ir.Value, window: Window) -> list[RowCheck]:
    """Timestamps outside earliest..latest and, of the others, those after the data's end.

    raw: the column as stored; value: normalised (naive UTC). A stored
    timestamp is compared as it is, with the bounds in its type (the same
    instants: the session is in UTC), which spares a conversion per row.
    """
    text = value.cast("string")  # rendered by DuckDB: a year like -290308 has no Python datetime
    earliest, latest = moment(window.earliest), moment(window.latest)
    dtype = raw.type()
    if dtype.is_timestamp():
        compared, bound = raw, (lambda moment_: ibis.literal(moment_).cast(dtype))
    else:
        compared, bound = value, (lambda moment_: moment_)
    outside = (compared < bound(window.earliest)) | (compared >= bound(window.latest))
    checks = [
        RowCheck(
            spec.name,
            outside,
            text,
            f"timestamp outside {earliest} to {latest}",
            f"timestamps outside {earliest} to {latest}",
            f"timestamps must be on or after {earliest} (earliest) and before {latest} (latest)",
            order=value,
            verbatim=True,
        )
    ]
    if window.data_end is not None and window.data_end < window.latest:
        end = moment(window.data_end)
        checks.append(
            RowCheck(
                spec.name,
                ~outside & (compared >= bound(window.data_end)),
                text,
                "timestamp after the data's end",
                "timestamps after the data's end",
                f"timestamps must be before {end}, {window.days_after_orders} days (max_days_after_orders) "
                f"after {window.orders_end}, the day by which {ORDERS_END_QUANTILE:.1%} of the orders were placed",
                order=value,
                verbatim=True,
            )
        )
    return checks


def ceiling_check(spec: ColumnSpec, value: ir.Value, limits: ContractLimits) -> RowCheck:
    """Finite values of ``value`` above the column's ceiling (infinities and NaN are not numbers, reported as such)."""
    bound = number(limits.ceiling(spec.ceiling))
    return RowCheck(
        spec.name,
        above(value, limits.ceiling(spec.ceiling)),
        value,
        f"value above {bound}",
        f"values above {bound}",
        f"values must be <= {bound} ({spec.ceiling.value})",
    )


def above(value: ir.Value, bound: float) -> ir.BooleanValue:
    """True where ``value`` is a finite number above ``bound``.

    DuckDB orders NaN above every number, +inf included, so ``value < inf``
    leaves out both: two comparisons instead of three tests per row.
    """
    if value.type().is_floating():
        return (value > bound) & (value < math.inf)
    return value > bound


def below(value: ir.Value, bound: float) -> ir.BooleanValue:
    """True where ``value`` is a finite number below ``bound`` (NaN, ordered last, is never below)."""
    if value.type().is_floating():
        return (value < bound) & (value > -math.inf)
    return value < bound


def number(bound: float) -> str:
    """A bound as people write it: 0, 5, 1000000000, 0.5, 1e+20."""
    value = float(bound)
    return str(int(value)) if value.is_integer() and abs(value) < 1e16 else repr(value)


def moment(value: dt.datetime) -> str:
    """A timestamp bound as text: the date alone at midnight."""
    return value.date().isoformat() if value.time() == dt.time() else value.isoformat(sep=" ")
