"""Check a dataset against the data contract and describe every problem in one line.

:func:`find_problems` collects all problems: missing tables and columns, values
of the wrong type or that do not parse, nulls, values out of range or outside
the allowed set, implausible timestamps and amounts (the limits of
:class:`features.contract.ContractLimits`), duplicate ids, rows of unknown
users, ID type mismatches, files that cannot be read, and Parquet files whose
statistics do not match their values. Every value of every contract column is
read; the rules of a table are counted in one aggregate query over that table;
examples are fetched only for the rules that failed. Each line names the file, the table and column, a
count and up to three example values, e.g.
``orders.csv: orders.amount has 2 negative values (e.g. -5.0, -1.0); values must be >= 0``.
"""

from __future__ import annotations

from pathlib import Path

import ibis.expr.types as ir
from ibis.backends.duckdb import Backend as DuckDBBackend

from features.contract import (
    DEFAULT_LIMITS,
    FILE_FORMATS,
    ORDERS,
    REQUIRED_TABLES,
    TABLES,
    ColumnSpec,
    ContractLimits,
    Kind,
)
from features.dataset import CSV, PARQUET, Dataset, integer_text, is_numeric, is_text, is_timestamp, open_dataset, whole
from features.errors import DataContractError
from features.plausibility import RowCheck, Window, above, below, ceiling_check, data_window, number, timestamp_checks
from features.reading import (
    READ_ERRORS,
    every_value_read,
    parquet_statistics,
    read_problem,
    statistics_mismatch,
    value_probes,
)

MAX_EXAMPLES = 3
TIMESTAMP_FORMATS = "ISO 8601 such as 2024-05-01, 2024-05-01 12:00:00 or 2024-05-01T12:00:00+08:00"
SAME_ID_TYPE = "ids must have the same type in every table"

# ID source classes (see _id_class).
_INTEGER, _INTEGER_TEXT, _TEXT, _OTHER = "integer", "integer text", "text", "other"


def find_problems(ds: Dataset, limits: ContractLimits = DEFAULT_LIMITS) -> list[str]:
    """Every way ``ds`` breaks the data contract with ``limits``, one line each; empty when it is valid.

    The checks read values, never a file's statistics (which a damaged file's
    bytes no longer match); a Parquet table whose statistics lie is reported.
    """
    problems = [_missing_table(ds, name) for name in REQUIRED_TABLES if not ds.has(name)]
    with every_value_read(ds.con):
        window = data_window(ds, limits)
        for name in ds.tables:
            try:
                problems += _table_problems(ds, name, window, limits)
            except READ_ERRORS as exc:
                problems.append(read_problem(ds.label(name), exc))
    return [_one_line(problem) for problem in problems]


def check_dataset(ds: Dataset, limits: ContractLimits = DEFAULT_LIMITS) -> None:
    """Raise ``DataContractError`` listing every problem when ``ds`` breaks the contract with ``limits``."""
    problems = find_problems(ds, limits)
    if problems:
        raise DataContractError(problems)


def load_dataset(
    path: str | Path, con: DuckDBBackend | None = None, limits: ContractLimits = DEFAULT_LIMITS
) -> Dataset:
    """Open the dataset at ``path`` (see :func:`features.dataset.open_dataset`) and check it with ``limits``.

    Raises ``ConfigError`` when ``path`` is not a dataset and ``DataContractError``
    (exit code 2) listing every problem, a file that cannot be read included.
    """
    ds = open_dataset(path, con)
    check_dataset(ds, limits)
    return ds


def _missing_table(ds: Dataset, name: str) -> str:
    if ds.path.is_dir():
        expected = " or ".join(f"{name}.{fmt}" for fmt in FILE_FORMATS)
    else:
        expected = f"a table named {name}"
    return f"{ds.path}: missing required table {name}; expected {expected}"


def _table_problems(ds: Dataset, name: str, window: Window, limits: ContractLimits) -> list[str]:
    spec = TABLES[name]
    raw = ds.raw[name]
    label = ds.label(name)
    problems = [
        f"{label}: required column {name}.{column} is missing (columns found: {', '.join(raw.columns) or 'none'})"
        for column in spec.required_columns
        if column not in raw.columns
    ]
    normalised = ds.normalised_columns(name)
    checks: list[RowCheck] = []
    mismatched: set[str] = set()
    for column in spec.columns:
        if column.name not in raw.columns:
            continue
        checks += _column_checks(ds, name, column, normalised, window, limits)
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
    present = [c.name for c in spec.columns if c.name in raw.columns]
    probes = value_probes(raw, present)
    try:
        found, values = _run_checks(raw, label, name, checks, {c: normalised[c] for c in unique}, probes)
        stated = parquet_statistics(ds.con, ds.files[name], present) if ds.formats[name] == PARQUET else {}
    except READ_ERRORS as exc:
        return [*problems, read_problem(label, exc)]
    if stated:
        mismatch = statistics_mismatch(stated, values)
        if mismatch is not None:
            problems.append(f"{label}: the file's statistics do not match its values ({mismatch}); the file is damaged")
    return problems + found


def _run_checks(
    raw: ir.Table, label: str, name: str, checks: list[RowCheck], unique: dict[str, ir.Value], probes: dict[str, ir.Scalar]
) -> tuple[list[str], dict[str, object]]:
    """Count every check in one aggregate query, which also computes ``probes``; fetch examples for those that failed.

    Returns the problems and the probes' values. The probes read every value
    of every contract column, so a damaged page fails even in a column no check uses.
    """
    metrics = {f"check_{i}": check.bad.sum() for i, check in enumerate(checks)}
    metrics |= {f"unique_{i}": value.count() - value.nunique() for i, value in enumerate(unique.values())}
    metrics |= {f"probe_{i}": probe for i, probe in enumerate(probes.values())}
    if not metrics:  # no contract column at all: reported as missing columns
        return [], {}
    counts = raw.aggregate(**metrics).to_pyarrow().to_pylist()[0]
    values = {key: counts[f"probe_{i}"] for i, key in enumerate(probes)}
    problems = []
    for i, check in enumerate(checks):
        count = counts[f"check_{i}"] or 0
        if count:
            examples = _examples(raw.filter(check.bad), check.shown, check.order) if check.shown is not None else []
            what = check.one if count == 1 else check.many
            shown = _shown(examples, check.shown_prefix, check.verbatim)
            problems.append(f"{label}: {name}.{check.column} has {count} {what}{shown}; {check.rule}")
    for i, (column, value) in enumerate(unique.items()):
        if counts[f"unique_{i}"]:
            problems.append(_duplicates(raw, label, name, column, value))
    return problems, values


def _column_checks(
    ds: Dataset, name: str, spec: ColumnSpec, normalised: dict[str, ir.Value], window: Window, limits: ContractLimits
) -> list[RowCheck]:
    raw = ds.raw[name][spec.name]
    value = normalised[spec.name]
    checks = _type_checks(ds, name, spec, raw, value)
    if spec.kind is Kind.TIMESTAMP and (is_timestamp(raw.type()) or is_text(raw.type())):
        checks += timestamp_checks(spec, raw, value, window)  # other types are reported as of the wrong type
    if spec.ceiling is not None:
        checks.append(ceiling_check(spec, value, limits))
    if not spec.nullable:
        key = _key_column(name, spec.name, normalised)
        checks.append(
            RowCheck(
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
            RowCheck(
                spec.name,
                value.notnull() & ~value.isin(spec.allowed),
                value,
                "value outside the allowed set",
                "values outside the allowed set",
                f"allowed: {allowed}",
            )
        )
    return checks


def _type_checks(ds: Dataset, name: str, spec: ColumnSpec, raw: ir.Value, value: ir.Value) -> list[RowCheck]:
    """Values that are not of the column's kind, or text that does not parse as it."""
    dtype = raw.type()
    text_source = ds.formats[name] == CSV
    if spec.kind is Kind.TIMESTAMP:
        if is_timestamp(dtype):
            return []
        if is_text(dtype):
            return [
                RowCheck(
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
            checks = [_not_anumber(spec, raw, number)]
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


def _wrong_type(spec: ColumnSpec, raw: ir.Value, rule: str) -> RowCheck:
    dtype = raw.type()
    return RowCheck(spec.name, raw.notnull(), raw, f"value of type {dtype}", f"values of type {dtype}", rule)


def _not_anumber(spec: ColumnSpec, raw: ir.Value, number: ir.Value) -> RowCheck:
    return RowCheck(
        spec.name,
        raw.notnull() & (number.isnull() | number.isnan() | number.isinf()),
        raw,
        "value that is not a number",
        "values that are not numbers",
        "expected a finite number",
    )


def _not_whole(spec: ColumnSpec, raw: ir.Value, number: ir.Value) -> RowCheck:
    finite = number.notnull() & ~number.cast("float64").isnan() & ~number.cast("float64").isinf()
    return RowCheck(
        spec.name,
        finite & ~whole(number),
        raw,
        "value that is not a whole number",
        "values that are not whole numbers",
        "expected whole numbers",
    )


def _range_check(spec: ColumnSpec, value: ir.Value) -> RowCheck:
    """Finite values outside the column's fixed range (a non-finite value is reported once, as not a number)."""
    low, high = spec.min_value, spec.max_value
    if low is not None and high is not None:
        bad = below(value, low) | above(value, high)
        one = f"value outside {number(low)} to {number(high)}"
        rule = f"values must be between {number(low)} and {number(high)}"
    elif low is not None:
        bad = below(value, low)
        one = "negative value" if low == 0 else f"value below {number(low)}"
        rule = f"values must be >= {number(low)}"
    else:
        bad = above(value, high)
        one, rule = f"value above {number(high)}", f"values must be <= {number(high)}"
    many = one.replace("value", "values", 1)
    return RowCheck(spec.name, bad, value, one, many, rule)


def _reference_check(ds: Dataset, name: str, spec: ColumnSpec, value: ir.Value) -> list[RowCheck]:
    """Rows whose ``spec.name`` is not in the referenced column (``users.user_id``)."""
    table, column = spec.references.split(".")
    if not ds.has(table) or column not in ds.raw[table].columns:
        return []
    known = ds.normalised_columns(table)[column]
    # NOT IN over a set holding a null is never true: drop the nulls.
    known_ids = ds.raw[table].filter(known.notnull()).select(known)[column]
    return [
        RowCheck(
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


def _examples(rows: ir.Table, shown: ir.Value, order: ir.Value | None = None) -> list:
    """Up to MAX_EXAMPLES distinct values of ``shown`` over ``rows``, smallest (by ``order``, else ``shown``) first."""
    if order is None:
        values = rows.select(example=shown).filter(lambda t: t.example.notnull()).distinct()
        return values.order_by("example").limit(MAX_EXAMPLES)["example"].to_pyarrow().to_pylist()
    values = rows.select(example=shown, key=order).filter(lambda t: t.example.notnull()).distinct()
    return values.order_by("key").limit(MAX_EXAMPLES)["example"].to_pyarrow().to_pylist()


def _shown(examples: list, prefix: str = "", verbatim: bool = False) -> str:
    if not examples:
        return ""
    return f" (e.g. {prefix}{', '.join(str(v) if verbatim else _format(v) for v in examples)})"


def _format(value: object) -> str:
    return repr(value) if isinstance(value, (str, bytes)) else str(value)


def _one_line(text: str) -> str:
    return " ".join(text.splitlines())

