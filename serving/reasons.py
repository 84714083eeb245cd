"""Reasons in words: the features that push a user's churn risk up the most, said as a CRM analyst would.

Input: the model's per-user contributions (log-odds, :meth:`ChurnClassifier.contributions`)
and the user's feature values. Related features (days since the last order and
how overdue it is) count as one reason, so three reasons say three things.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import pandas as pd

from features.catalog import BY_NAME

Row = pd.Series


def _num(row: Row, name: str) -> float | None:
    value = row.get(name)
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return None
    return float(value)


def _change(ratio: float | None, what: str, period: str) -> str | None:
    if ratio is None:
        return None
    if ratio < 1:
        return f"{what} down {round((1 - ratio) * 100)} % vs {period}"
    return f"{what} up {round((ratio - 1) * 100)} % vs {period}"


def _since_order(row: Row) -> str | None:
    days = _num(row, "days_since_last_order")
    if days is None:
        return "no purchase yet"
    gap = _num(row, "order_gap_median")
    usual = f"; usual gap {round(gap)} days" if gap is not None else ""
    return f"{round(days)} days since last order{usual}"


def _rhythm(row: Row, name: str) -> str | None:
    gap = _num(row, name)
    return f"buys only every {round(gap)} days" if gap is not None else "too few purchases to know a rhythm"


def _count(name: str, noun: str, period: str) -> Callable[[Row], str | None]:
    def say(row: Row) -> str | None:
        n = _num(row, name)
        if n is None:
            return None
        plural = noun if round(n) == 1 else f"{noun}s"
        return f"{round(n)} {plural} in the last {period}"

    return say


# Feature -> (reason group, how to say it). Features not listed use their catalogue description.
TEMPLATES: dict[str, tuple[str, Callable[[Row], str | None]]] = {
    "days_since_last_order": ("recency", _since_order),
    "order_overdue": ("recency", _since_order),
    "orders_30d": ("recency", _since_order),
    "orders_7d": ("recency", _since_order),
    "login_trend_30_60": ("logins", lambda r: _change(_num(r, "login_trend_30_60"), "logins", "the previous two months")),
    "login_trend_7_28": ("logins", lambda r: _change(_num(r, "login_trend_7_28"), "logins", "the previous 4 weeks")),
    "days_since_last_login": ("logins", lambda r: f"{round(_num(r, 'days_since_last_login') or 0)} days since last login"),
    "activity_trend_30_60": ("activity", lambda r: _change(_num(r, "activity_trend_30_60"), "activity", "the previous two months")),
    "activity_trend_7_28": ("activity", lambda r: _change(_num(r, "activity_trend_7_28"), "activity", "the previous 4 weeks")),
    "days_since_last_event": ("activity", lambda r: f"{round(_num(r, 'days_since_last_event') or 0)} days since last visit"),
    "events_30d": ("activity", _count("events_30d", "event", "30 days")),
    "events_7d": ("activity", _count("events_7d", "event", "7 days")),
    "browse_seconds_30d": ("activity", lambda r: f"{round((_num(r, 'browse_seconds_30d') or 0) / 60)} minutes browsing in the last 30 days"),
    "browse_seconds_7d": ("activity", lambda r: f"{round((_num(r, 'browse_seconds_7d') or 0) / 60)} minutes browsing in the last 7 days"),
    "browse_trend_30_60": ("activity", lambda r: _change(_num(r, "browse_trend_30_60"), "browsing time", "the previous two months")),
    "order_gap_median": ("rhythm", lambda r: _rhythm(r, "order_gap_median")),
    "order_gap_mean": ("rhythm", lambda r: _rhythm(r, "order_gap_mean")),
    "order_gap_std": ("rhythm", lambda r: _rhythm(r, "order_gap_median")),
    "complaints_30d": ("complaints", _count("complaints_30d", "complaint", "30 days")),
    "complaints_90d": ("complaints", _count("complaints_90d", "complaint", "90 days")),
    "returns_90d": ("returns", _count("returns_90d", "return", "90 days")),
    "refunds_90d": ("returns", _count("refunds_90d", "refund", "90 days")),
    "low_ratings_90d": ("ratings", _count("low_ratings_90d", "low rating", "90 days")),
    "spend_trend_30_60": ("spend", lambda r: _change(_num(r, "spend_trend_30_60"), "spend", "the previous two months")),
}


def _generic(name: str) -> Callable[[Row], str | None]:
    def say(row: Row) -> str | None:
        value = row.get(name)
        if value is None or (isinstance(value, float) and math.isnan(value)):
            return f"{BY_NAME[name].description if name in BY_NAME else name}: missing"
        shown = f"{value:.3g}" if isinstance(value, float) else str(value)
        return f"{BY_NAME[name].description if name in BY_NAME else name}: {shown}"

    return say


def reasons(contributions: pd.DataFrame, features: pd.DataFrame, top: int = 3) -> list[list[str]]:
    """For each row, up to ``top`` reasons in words, strongest first; only features that raise the risk.

    contributions: per-row log-odds contributions (columns = features, plus ``baseline``).
    features: the same rows' feature values (same index).
    """
    out: list[list[str]] = []
    columns = [c for c in contributions.columns if c != "baseline"]
    values = contributions[columns]
    for index, row in values.iterrows():
        said: list[str] = []
        groups: set[str] = set()
        for name, weight in row.sort_values(ascending=False).items():
            if weight <= 0 or len(said) == top:
                break
            group, say = TEMPLATES.get(name, (name, _generic(name)))
            if group in groups:
                continue
            text = say(features.loc[index])
            if text:
                said.append(text)
                groups.add(group)
        out.append(said)
    return out
