"""Small expression helpers shared by the feature families (portable across Ibis backends)."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import ibis
import ibis.expr.types as ir

SECONDS_PER_DAY = 86_400.0


@dataclass(frozen=True)
class Cut:
    """The cutoff: rows with ``ts < at`` are visible.

    Every window bound and elapsed time is derived *in the expression* from a
    single cutoff scalar, so a compiled query can take the cutoff as a
    parameter (see :mod:`features.online`).
    """

    at: dt.datetime

    @property
    def literal(self) -> ir.TimestampScalar:
        return ibis.literal(self.at, type="timestamp")

    def since(self, days: int) -> ir.TimestampScalar:
        """The start of the window of ``days`` days ending at the cutoff."""
        return self.literal - ibis.interval(days=days)

    def within(self, ts: ir.TimestampValue, days: int) -> ir.BooleanValue:
        """``ts`` falls in the last ``days`` days (rows are already < cutoff)."""
        return ts >= self.since(days)

    def between(self, ts: ir.TimestampValue, newer_days: int, older_days: int) -> ir.BooleanValue:
        """``ts`` falls in ``[cutoff - older_days, cutoff - newer_days)``."""
        return (ts >= self.since(older_days)) & (ts < self.since(newer_days))

    def days_since(self, ts: ir.TimestampValue) -> ir.FloatingValue:
        """Elapsed days from ``ts`` to the cutoff (to the second; same on every engine)."""
        return (epoch_seconds(self.literal) - epoch_seconds(ts)) / SECONDS_PER_DAY


def epoch_seconds(ts: ir.TimestampValue) -> ir.FloatingValue:
    """Whole seconds since 1970 (engines disagree on fractions of a second, so they are dropped)."""
    return ts.truncate("s").epoch_seconds().cast("float64")


def visible(table: ir.Table, column: str, cut: Cut) -> ir.Table:
    """Rows of ``table`` whose ``column`` is before the cutoff."""
    return table.filter(table[column] < cut.literal)


def rate_ratio(recent: ir.NumericValue, recent_days: float, earlier: ir.NumericValue, earlier_days: float) -> ir.FloatingValue:
    """Per-day rate of ``recent`` over per-day rate of ``earlier``; null when ``earlier`` is 0."""
    return (recent.cast("float64") / recent_days) / (earlier.cast("float64").nullif(0.0) / earlier_days)


def join_users(left: ir.Table, right: ir.Table, key: str) -> ir.Table:
    """``left`` with ``right``'s columns added by a left join on ``key`` (kept once)."""
    joined = left.left_join(right, left[key] == right[key])
    return joined.select(*[left[c] for c in left.columns], *[right[c] for c in right.columns if c != key])
