"""What ``as_of`` means, in one place.

An ``as_of`` *date* D means the end of that day: rows with timestamps before
D + 1 day (00:00 UTC) are visible. An ``as_of`` *timestamp* T (naive = UTC)
means rows at or before T are visible. Either way the code works with the
*cutoff*, the first invisible instant, and a window of w days is
``[cutoff - w days, cutoff)``, i.e. ``(as_of - w, as_of]``. There is no default:
every caller passes ``as_of`` explicitly.

A dataset answers for the ``as_of`` days from its first to its last order
(:func:`as_of_range`); :func:`check_as_of` refuses any other.
"""

from __future__ import annotations

import datetime as dt

from features.contract import ORDERS, Orders
from features.dataset import Dataset
from features.errors import ConfigError, DataContractError
from features.reading import READ_ERRORS, every_value_read, read_problem

AsOf = dt.date | dt.datetime | str


def parse_as_of(value: AsOf) -> dt.date | dt.datetime:
    """A date or a naive-UTC datetime from a date, datetime or ISO string."""
    if isinstance(value, dt.datetime):
        if value.tzinfo is not None:
            value = value.astimezone(dt.UTC).replace(tzinfo=None)
        return value
    if isinstance(value, dt.date):
        return value
    if isinstance(value, str):
        text = value.strip()
        try:
            if len(text) == 10:
                return dt.date.fromisoformat(text)
            return parse_as_of(dt.datetime.fromisoformat(text.replace("Z", "+00:00")))
        except ValueError:
            pass
    raise ConfigError(f"as_of {value!r} is not a date (YYYY-MM-DD) or an ISO timestamp")


def cutoff(as_of: AsOf) -> dt.datetime:
    """The first instant not visible at ``as_of`` (naive UTC)."""
    value = parse_as_of(as_of)
    if isinstance(value, dt.datetime):
        return value + dt.timedelta(microseconds=1)
    return dt.datetime.combine(value + dt.timedelta(days=1), dt.time())


def as_of_date(as_of: AsOf) -> dt.date:
    """The calendar day of ``as_of``."""
    value = parse_as_of(as_of)
    return value.date() if isinstance(value, dt.datetime) else value


def as_of_range(ds: Dataset) -> tuple[dt.date, dt.date]:
    """The first and the last day (UTC) of ``orders.ordered_at``: the ``as_of`` dates the data covers.

    Raises ``ConfigError`` when ``ds`` has no orders (it then covers no date).
    Reads one aggregate over ``orders``; ``ds`` should have passed
    :func:`features.validation.check_dataset`.
    """
    orders = ds.table(ORDERS)
    at = orders[Orders.ORDERED_AT]
    try:
        with every_value_read(ds.con):
            row = orders.aggregate(first=at.min().date(), last=at.max().date()).to_pyarrow().to_pylist()[0]
    except READ_ERRORS as exc:
        raise DataContractError([read_problem(ds.label(ORDERS), exc)]) from None
    if row["first"] is None:
        raise ConfigError(f"{ds.label(ORDERS)} has no orders: the dataset covers no date an as_of could take")
    return row["first"], row["last"]


def check_as_of(ds: Dataset, as_of: AsOf) -> None:
    """Raise ``ConfigError`` unless the day of ``as_of`` lies within :func:`as_of_range` of ``ds``.

    Not before the first order's day: before it no purchase is known and every
    score would be made of nothing. Not after the last order's day: the data
    ends there, and scores computed at a later as_of would read its silence as churn.
    Days are compared in UTC; a timestamp ``as_of`` counts as its day.
    """
    day = as_of_date(parse_as_of(as_of))
    first, last = as_of_range(ds)
    if first <= day <= last:
        return
    side = "before the data starts" if day < first else "after the data ends"
    raise ConfigError(
        f"as_of {day} is {side}: it must lie from {first} to {last}, "
        f"the days of the first and the last order in {ds.label(ORDERS)}"
    )
