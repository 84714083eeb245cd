"""The data contract's rules on the raw rows of an online request (``/score_raw``).

A request's rows get the rules a dataset's files get (:mod:`features.validation`),
on Arrow tables of the contract types: no nulls where the contract has none,
finite numbers within their range and under their ceiling, values in the allowed
sets, timestamps within ``earliest .. latest`` of
:class:`features.contract.ContractLimits`, unique ids, and every row's
``user_id`` among the request's ``users`` rows. The data-relative end of the
file rule does not apply: a request has no dataset to take it from, and its rows
after ``as_of`` are ignored anyway.

A problem names the table, the column, how many rows break the rule and their
positions in the request (``orders.amount has 1 value that is not a finite
number (row 3); ...``), never a value: the API's error bodies do not quote
requests.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Mapping

import pyarrow as pa
import pyarrow.compute as pc

from features import contract as C
from features.contract import ColumnSpec, ContractLimits
from features.plausibility import moment, number

MAX_ROWS_SHOWN = 3
_USER_REF = f"{C.USERS}.{C.Users.USER_ID}"


def row_problems(tables: Mapping[str, pa.Table], limits: ContractLimits) -> list[str]:
    """Every way the request's ``tables`` (contract name -> Arrow table) break the contract, one line each.

    A table absent from ``tables`` has no rows; so has ``users``, if absent,
    and every other table's rows then belong to unknown users.
    """
    users = tables.get(C.USERS)
    known = users[C.Users.USER_ID].combine_chunks() if users is not None and C.Users.USER_ID in users.column_names else None
    problems = []
    for name, table in tables.items():
        for spec in C.TABLES[name].columns:
            if spec.name in table.column_names:
                problems += _column_problems(name, spec, table[spec.name].combine_chunks(), known, limits)
    return problems


def _column_problems(
    name: str, spec: ColumnSpec, values: pa.Array, known: pa.Array | None, limits: ContractLimits
) -> list[str]:
    column = f"{name}.{spec.name}"
    present = pc.is_valid(values)
    rules: list[tuple[pa.Array, str, str, str]] = []  # (rows breaking it, one, many, the rule)
    if not spec.nullable and values.null_count:
        rules.append((pc.is_null(values), "null value", "null values", f"{column} may not be null"))
    floating = pa.types.is_floating(values.type)
    bounded = spec.min_value is not None or spec.max_value is not None or spec.ceiling is not None
    numeric = floating or (pa.types.is_integer(values.type) and bounded)
    # A request's numbers are nearly always fine: one min/max settles it instead of a mask per rule.
    if numeric and not _plausible_numbers(spec, values, limits):
        rules += _number_rules(spec, values, present, limits)
    if spec.allowed is not None:
        allowed = ", ".join(repr(v) for v in spec.allowed)
        outside = pc.invert(pc.is_in(values.cast(pa.string()), value_set=pa.array(spec.allowed)))
        rules.append(
            (_and(present, outside), "value outside the allowed set", "values outside the allowed set", f"allowed: {allowed}")
        )
    if pa.types.is_timestamp(values.type) and not _plausible_timestamps(values, limits):
        rules.append(_window_rule(values, present, limits))
    if spec.references == _USER_REF:
        value_set = known.cast(values.type) if known is not None else pa.array([], values.type)
        unknown = _and(present, pc.invert(pc.is_in(values, value_set=value_set)))
        where = f"{spec.name} is not in the request's users"
        rules.append((unknown, f"row whose {where}", f"rows whose {where}", f"every {column} must be a user of the request's users rows"))
    if spec.unique:
        repeated = _and(present, _repeated(values))
        rules.append((repeated, "row whose id occurs more than once", "rows whose id occurs more than once", f"{column} must be unique"))
    return [line for rule in rules if (line := _problem(column, *rule))]


def _plausible_numbers(spec: ColumnSpec, values: pa.Array, limits: ContractLimits) -> bool:
    """Whether every value is finite and within the column's range and ceiling (then no number rule can fail)."""
    if pa.types.is_floating(values.type) and pc.any(pc.is_nan(values)).as_py():
        return False
    low, high = (pc.min_max(values)[key].as_py() for key in ("min", "max"))
    if low is None:  # no value: nothing to check
        return True
    top = min(b for b in (spec.max_value, limits.ceiling(spec.ceiling) if spec.ceiling else None, math.inf) if b is not None)
    return math.isfinite(low) and math.isfinite(high) and (spec.min_value is None or low >= spec.min_value) and high <= top


def _number_rules(spec: ColumnSpec, values: pa.Array, present: pa.Array, limits: ContractLimits) -> list[tuple]:
    """Numbers that are not finite, outside the contract's range, or above the column's ceiling."""
    rules = []
    if pa.types.is_floating(values.type):
        finite = pc.is_finite(values)
        rules.append((_and(present, pc.invert(finite)), "value that is not a number", "values that are not numbers", "expected a finite number"))
        present = _and(present, finite)
    if spec.min_value is not None or spec.max_value is not None:
        rules.append(_range_rule(spec, values, present))
    if spec.ceiling is not None:
        bound = number(limits.ceiling(spec.ceiling))
        above = _and(present, pc.greater(values, limits.ceiling(spec.ceiling)))
        rules.append((above, f"value above {bound}", f"values above {bound}", f"values must be <= {bound} ({spec.ceiling.value})"))
    return rules


def _range_rule(spec: ColumnSpec, values: pa.Array, present: pa.Array) -> tuple:
    """The contract's fixed range (amount >= 0, rating 1 to 5), worded as the file rule."""
    low, high = spec.min_value, spec.max_value
    below = pc.less(values, low) if low is not None else None
    above = pc.greater(values, high) if high is not None else None
    if low is not None and high is not None:
        bad = pc.or_(below, above)
        one = f"value outside {number(low)} to {number(high)}"
        rule = f"values must be between {number(low)} and {number(high)}"
    elif low is not None:
        bad = below
        one = "negative value" if low == 0 else f"value below {number(low)}"
        rule = f"values must be >= {number(low)}"
    else:
        bad = above
        one, rule = f"value above {number(high)}", f"values must be <= {number(high)}"
    return _and(present, bad), one, one.replace("value", "values", 1), rule


def _plausible_timestamps(values: pa.Array, limits: ContractLimits) -> bool:
    """Whether every timestamp lies within earliest .. latest (compared as integers: no datetime overflows)."""
    low, high = (pc.min_max(values)[key] for key in ("min", "max"))
    if not low.is_valid:
        return True
    earliest, latest = (pa.scalar(_as_type(v, values.type), values.type).value for v in (limits.earliest, limits.latest))
    return earliest <= low.value and high.value < latest


def _window_rule(values: pa.Array, present: pa.Array, limits: ContractLimits) -> tuple:
    earliest, latest = (pa.scalar(_as_type(v, values.type), values.type) for v in (limits.earliest, limits.latest))
    outside = pc.or_(pc.less(values, earliest), pc.greater_equal(values, latest))
    low, high = moment(limits.earliest), moment(limits.latest)
    rule = f"timestamps must be on or after {low} (earliest) and before {high} (latest)"
    return _and(present, outside), f"timestamp outside {low} to {high}", f"timestamps outside {low} to {high}", rule


def _as_type(value: dt.datetime, dtype: pa.DataType) -> dt.datetime:
    """A naive UTC bound for a column of ``dtype`` (an aware column compares with an aware bound)."""
    return value.replace(tzinfo=dt.UTC) if dtype.tz is not None else value


def _repeated(values: pa.Array) -> pa.Array:
    """True on every row whose value occurs in more than one row."""
    counts = pc.value_counts(values)
    repeated = pc.filter(counts.field("values"), pc.greater(counts.field("counts"), 1))
    return pc.is_in(values, value_set=repeated)


def _and(left: pa.Array, right: pa.Array) -> pa.Array:
    """``left & right`` with a null (an unknown comparison) as false."""
    return pc.fill_null(pc.and_(left, right), False)


def _problem(column: str, bad: pa.Array, one: str, many: str, rule: str) -> str | None:
    """The line of one rule, or None when no row breaks it; ``bad`` holds no nulls."""
    if not pc.any(bad).as_py():
        return None
    rows = pc.indices_nonzero(bad).to_pylist()
    shown = ", ".join(str(row) for row in rows[:MAX_ROWS_SHOWN])
    if len(rows) == 1:
        return f"{column} has 1 {one} (row {shown}); {rule}"
    more = "e.g. " if len(rows) > MAX_ROWS_SHOWN else ""
    return f"{column} has {len(rows)} {many} ({more}rows {shown}); {rule}"
