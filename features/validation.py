"""Check a dataset against the data contract and describe every problem in one line.

:func:`find_problems` collects all problems: missing tables and columns, values
of the wrong type or that do not parse, nulls, values out of range or outside
the allowed set, duplicate ids, rows of unknown users and ID type mismatches.
The rules of a table are counted in one aggregate query over that table;
examples are fetched only for the rules that failed. Each line names the file,
the table and column, a count and up to three example values, e.g.
``orders.csv: orders.amount has 2 negative values (e.g. -5.0, -1.0); values must be >= 0``.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import duckdb
import ibis.expr.types as ir
from ibis.backends.duckdb import Backend as DuckDBBackend

from features.contract import FILE_FORMATS, REQUIRED_TABLES, TABLES, ColumnSpec, Kind
from features.dataset import (
    CSV,
    Dataset,
    integer_text,
    is_numeric,
    is_text,
    is_timestamp,
    open_dataset,
    whole,
)
from features.errors import DataContractError

MAX_EXAMPLES = 3
TIMESTAMP_FORMATS = "ISO 8601 such as 2024-05-01, 2024-05-01 12:00:00 or 2024-05-01T12:00:00+08:00"
SAME_ID_TYPE = "ids must have the same type in every table"

# ID source classes (see _id_class).
_INTEGER, _INTEGER_TEXT, _TEXT, _OTHER = "integer", "integer text", "text", "other"


@dataclass(frozen=True)
class _RowCheck:
    """A rule on the rows of one table: ``bad`` is true on rows breaking it."""

    column: str
    bad: ir.BooleanValue
    shown: ir.Value | None  # what an example shows; None: no examples
    one: str  # "negative value": what one bad row has
    many: str  # "negative values"
    rule: str  # what is expected, after the semicolon
    shown_prefix: str = ""  # "order_id " when examples show another column


def find_problems(ds: Dataset) -> list[str]:
    """Every way ``ds`` breaks the data contract, one line each; empty when it is valid."""
    problems = [_missing_table(ds, name) for name in REQUIRED_TABLES if not ds.has(name)]
    for name in ds.tables:
        problems += _table_problems(ds, name)
    return [_one_line(problem) for problem in problems]


def check_dataset(ds: Dataset) -> None:
    """Raise ``DataContractError`` listing every problem when ``ds`` breaks the contract."""
    problems = find_problems(ds)
    if problems:
        raise DataContractError(problems)


def load_dataset(path: str | Path, con: DuckDBBackend | None = None) -> Dataset:
    """Open the dataset at ``path`` (see :func:`features.dataset.open_dataset`) and check it."""
    ds = open_dataset(path, con)
    check_dataset(ds)
    return ds


def _missing_table(ds: Dataset, name: str) -> str:
    if ds.path.is_dir():
        expected = " or ".join(f"{name}.{fmt}" for fmt in FILE_FORMATS)
    else:
        expected = f"a table named {name}"
    return f"{ds.path}: missing required table {name}; expected {expected}"


def _table_problems(ds: Dataset, name: str) -> list[str]:
    spec = TABLES[name]
    raw = ds.raw[name]
    label = ds.label(name)
    problems = [
        f"{label}: required column {name}.{column} is missing (columns found: {', '.join(raw.columns) or 'none'})"
        for column in spec.required_columns
        if column not in raw.columns
    ]
    normalised = ds.normalised_columns(name)
    checks: list[_RowCheck] = []
    mismatched: set[str] = set()
    for column in spec.columns:
        if column.name not in raw.columns:
            continue
        checks += _column_checks(ds, name, column, normalised)
        mismatch = _id_mismatch(ds, name, column)
        if mismatch:
            problems.append(mismatch)
            mismatched.add(column.name)
    checks += [
        check
        for column in spec.columns
        if column.references and column.name in normalised and column.name not in mismatched
        for check in _reference_check(ds, name, column, normalised[column.name])
    ]
    unique = [c.name for c in spec.columns if c.unique and c.name in normalised]
    try:
        problems += _run_checks(raw, label, name, checks, {c: normalised[c] for c in unique})
    except duckdb.Error as exc:
        problems.append(f"{label}: cannot be read: {_first_line(exc)}")
    return problems


def _run_checks(
    raw: ir.Table, label: str, name: str, checks: list[_RowCheck], unique: dict[str, ir.Value]
) -> list[str]:
    """Count every check in one aggregate query; fetch examples for those that failed."""
    metrics = {f"check_{i}": check.bad.sum() for i, check in enumerate(checks)}
    metrics |= {f"unique_{i}": value.count() - value.nunique() for i, value in enumerate(unique.values())}
    if not metrics:
        return []
    counts = raw.aggregate(**metrics).to_pyarrow().to_pylist()[0]
    problems = []
    for i, check in enumerate(checks):
        count = counts[f"check_{i}"] or 0
        if count:
            examples = _examples(raw.filter(check.bad), check.shown) if check.shown is not None else []
            what = check.one if count == 1 else check.many
            shown = _shown(examples, check.shown_prefix)
            problems.append(f"{label}: {name}.{check.column} has {count} {what}{shown}; {check.rule}")
    for i, (column, value) in enumerate(unique.items()):
        if counts[f"unique_{i}"]:
            problems.append(_duplicates(raw, label, name, column, value))
    return problems


def _column_checks(ds: Dataset, name: str, spec: ColumnSpec, normalised: dict[str, ir.Value]) -> list[_RowCheck]:
    raw = ds.raw[name][spec.name]
    value = normalised[spec.name]
    checks = _type_checks(ds, name, spec, raw, value)
    if not spec.nullable:
        key = _key_column(name, spec.name, normalised)
        checks.append(
            _RowCheck(
                spec.name,
                raw.isnull(),
                normalised[key] if key else None,
                "null value",
                "null values",
                f"{name}.{spec.name} may not be null",
                shown_prefix=f"{key} " if key else "",
            )
        )
    if spec.min_value is not None or spec.max_value is not None:
        checks.append(_range_check(spec, value))
    if spec.allowed is not None:
        allowed = ", ".join(repr(v) for v in spec.allowed)
        checks.append(
            _RowCheck(
                spec.name,
                value.notnull() & ~value.isin(spec.allowed),
                value,
                "value outside the allowed set",
                "values outside the allowed set",
                f"allowed: {allowed}",
            )
        )
    return checks


def _type_checks(ds: Dataset, name: str, spec: ColumnSpec, raw: ir.Value, value: ir.Value) -> list[_RowCheck]:
    """Values that are not of the column's kind, or text that does not parse as it."""
    dtype = raw.type()
    text_source = ds.formats[name] == CSV
    if spec.kind is Kind.TIMESTAMP:
        if is_timestamp(dtype):
            return []
        if is_text(dtype):
            return [
                _RowCheck(
                    spec.name,
                    raw.notnull() & value.isnull(),
                    raw,
                    "value that is not a timestamp",
                    "values that are not timestamps",
                    f"expected {TIMESTAMP_FORMATS}",
                )
            ]
        return [_wrong_type(spec, raw, "expected timestamps, dates or timestamp text")]
    if spec.kind in (Kind.NUMBER, Kind.INTEGER):
        if is_text(dtype) and not text_source:
            return [_wrong_type(spec, raw, "expected a numeric column (integer or floating point)")]
        if is_text(dtype) or dtype.is_floating():
            number = raw.cast("string").try_cast("float64") if is_text(dtype) else raw
            checks = [_not_a_number(spec, raw, number)]
            if spec.kind is Kind.INTEGER:
                checks.append(_not_whole(spec, raw, number))
            return checks
        if spec.kind is Kind.INTEGER and dtype.is_decimal():
            return [_not_whole(spec, raw, raw)]
        if is_numeric(dtype):
            return []
        return [_wrong_type(spec, raw, "expected a numeric column (integer or floating point)")]
    if spec.kind is Kind.ID:
        if dtype.is_floating() or dtype.is_decimal():
            return [_not_whole(spec, raw, raw)]
        if is_numeric(dtype) or is_text(dtype):
            return []
        return [_wrong_type(spec, raw, "ids must be integers or text")]
    return []


def _wrong_type(spec: ColumnSpec, raw: ir.Value, rule: str) -> _RowCheck:
    dtype = raw.type()
    return _RowCheck(spec.name, raw.notnull(), raw, f"value of type {dtype}", f"values of type {dtype}", rule)


def _not_a_number(spec: ColumnSpec, raw: ir.Value, number: ir.Value) -> _RowCheck:
    return _RowCheck(
        spec.name,
        raw.notnull() & (number.isnull() | number.isnan() | number.isinf()),
        raw,
        "value that is not a number",
        "values that are not numbers",
        "expected a finite number",
    )


def _not_whole(spec: ColumnSpec, raw: ir.Value, number: ir.Value) -> _RowCheck:
    finite = number.notnull() & ~number.cast("float64").isnan() & ~number.cast("float64").isinf()
    return _RowCheck(
        spec.name,
        finite & ~whole(number),
        raw,
        "value that is not a whole number",
        "values that are not whole numbers",
        "expected whole numbers",
    )


def _range_check(spec: ColumnSpec, value: ir.Value) -> _RowCheck:
    low, high = spec.min_value, spec.max_value
    if low is not None and high is not None:
        bad = (value < low) | (value > high)
        one = f"value outside {_number(low)} to {_number(high)}"
        rule = f"values must be between {_number(low)} and {_number(high)}"
    elif low is not None:
        bad = value < low
        one = "negative value" if low == 0 else f"value below {_number(low)}"
        rule = f"values must be >= {_number(low)}"
    else:
        bad = value > high
        one, rule = f"value above {_number(high)}", f"values must be <= {_number(high)}"
    many = one.replace("value", "values", 1)
    return _RowCheck(spec.name, bad, value, one, many, rule)


def _reference_check(ds: Dataset, name: str, spec: ColumnSpec, value: ir.Value) -> list[_RowCheck]:
    """Rows whose ``spec.name`` is not in the referenced column (``users.user_id``)."""
    table, column = spec.references.split(".")
    if not ds.has(table) or column not in ds.raw[table].columns:
        return []
    known = ds.normalised_columns(table)[column]
    # NOT IN over a set holding a null is never true: drop the nulls.
    known_ids = ds.raw[table].filter(known.notnull()).select(known)[column]
    return [
        _RowCheck(
            spec.name,
            value.notnull() & ~value.isin(known_ids),
            value,
            f"row whose {spec.name} is not in {spec.references}",
            f"rows whose {spec.name} is not in {spec.references}",
            f"every {name}.{spec.name} must exist in {spec.references}",
        )
    ]


def _duplicates(raw: ir.Table, label: str, name: str, column: str, value: ir.Value) -> str:
    ids = raw.select(value).filter(lambda t: t[column].notnull())
    duplicated = ids.group_by(column).aggregate(rows=lambda t: t.count()).filter(lambda t: t.rows > 1)
    count = duplicated.count().to_pyarrow().as_py()
    examples = duplicated.order_by(column).limit(MAX_EXAMPLES)[column].to_pyarrow().to_pylist()
    what = "id that occurs" if count == 1 else "ids that occur"
    return (
        f"{label}: {name}.{column} has {count} {what} more than once{_shown(examples)}; "
        f"{name}.{column} must be unique"
    )


def _id_mismatch(ds: Dataset, name: str, spec: ColumnSpec) -> str | None:
    """An integer ID column against text ids in the column it references, or the other way round."""
    if spec.kind is not Kind.ID or not spec.references:
        return None
    table, column = spec.references.split(".")
    if not ds.has(table) or column not in ds.raw[table].columns:
        return None
    here, there = _id_class(ds, name, spec.name), _id_class(ds, table, column)
    if {here, there} != {_INTEGER, _TEXT}:
        return None
    text_table, text_column = (name, spec.name) if here == _TEXT else (table, column)
    count, examples = _non_integer_ids(ds, text_table, text_column)
    ids = "text id that is not an integer" if count == 1 else "text ids that are not integers"
    label, other = ds.label(name), ds.label(table)
    if here == _TEXT:
        return (
            f"{label}: {name}.{spec.name} has {count} {ids}{_shown(examples)} "
            f"but {spec.references} in {other} is integer; {SAME_ID_TYPE}"
        )
    dtype = ds.raw[name][spec.name].type()
    return (
        f"{label}: {name}.{spec.name} is integer ({dtype}) but {spec.references} in {other} "
        f"has {count} {ids}{_shown(examples)}; {SAME_ID_TYPE}"
    )


def _id_class(ds: Dataset, name: str, column: str) -> str:
    dtype = ds.raw[name][column].type()
    if is_numeric(dtype):
        return _INTEGER
    if is_text(dtype):
        return _TEXT if (name, column) in ds.text_ids else _INTEGER_TEXT
    return _OTHER


def _non_integer_ids(ds: Dataset, name: str, column: str) -> tuple[int, list]:
    raw = ds.raw[name][column]
    bad = raw.notnull() & ~integer_text(raw)
    count = ds.raw[name].aggregate(n=bad.sum()).to_pyarrow().to_pylist()[0]["n"] or 0
    return count, _examples(ds.raw[name].filter(bad), raw)


def _key_column(name: str, column: str, normalised: dict[str, ir.Value]) -> str | None:
    """The ID column that best points a reader to a row, other than ``column``."""
    for spec in TABLES[name].columns:
        if spec.kind is Kind.ID and spec.name != column and spec.name in normalised:
            return spec.name
    return None


def _examples(rows: ir.Table, shown: ir.Value) -> list:
    """Up to MAX_EXAMPLES distinct values of ``shown`` over ``rows``, smallest first."""
    values = rows.select(example=shown).filter(lambda t: t.example.notnull()).distinct()
    return values.order_by("example").limit(MAX_EXAMPLES)["example"].to_pyarrow().to_pylist()


def _shown(examples: list, prefix: str = "") -> str:
    if not examples:
        return ""
    return f" (e.g. {prefix}{', '.join(_format(v) for v in examples)})"


def _format(value: object) -> str:
    return repr(value) if isinstance(value, (str, bytes)) else str(value)


def _number(bound: float) -> str:
    return str(int(bound)) if float(bound).is_integer() else str(bound)


def _one_line(text: str) -> str:
    return " ".join(text.splitlines())


def _first_line(exc: BaseException) -> str:
    lines = str(exc).strip().splitlines()
    return lines[0] if lines else type(exc).__name__
