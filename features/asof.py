"""What ``as_of`` means, in one place.

An ``as_of`` *date* D means the end of that day: rows with timestamps before
D + 1 day (00:00 UTC) are visible. An ``as_of`` *timestamp* T (naive = UTC)
means rows at or before T are visible. Either way the code works with the
*cutoff*, the first invisible instant, and a window of w days is
``[cutoff - w days, cutoff)``, i.e. ``(as_of - w, as_of]``. There is no default:
every caller passes ``as_of`` explicitly.
"""

from __future__ import annotations

import datetime as dt

from features.errors import ConfigError

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
