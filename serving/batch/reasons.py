"""Reasons in words: the features that push a user's churn risk up the most, said as a CRM analyst would.

Input: the model's per-user contributions (log-odds, :meth:`ChurnClassifier.contributions`)
and the user's feature values. Related features (days since the last order and
how overdue it is) count as one reason, so three reasons say three things.

Built for a million users a night: the contributions are ranked for all rows
at once with numpy, then the walk down each row's ranking runs one rank at a
time over all rows still looking for a reason, and each template words every
user that reached it in one call over plain values (no pandas row per user).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from features.catalog import BY_NAME, WINDOWS

BASELINE = "baseline"  # the contributions' intercept column: never a reason
CHUNK_ROWS = 1 << 17  # rows ranked together; bounds the memory of the ranking (8 bytes per contribution)


@dataclass(frozen=True)
class Template:
    """How to say one feature.

    group: the reason group; a user gets at most one reason per group.
    reads: the feature columns ``say`` is given, in order.
    say: one user's values of ``reads`` -> the text, or None when there is nothing to say.
        With ``numbers`` (the default) the values are floats, None when missing
        or when the column is absent; otherwise they are the frame's own values
        (an int stays an int, a category its label).
    """

    group: str
    reads: tuple[str, ...]
    say: Callable[..., str | None]
    numbers: bool = True


def _days(n: float) -> str:
    return "1 day" if round(n) == 1 else f"{round(n)} days"


def _since_order(days: float | None, gap: float | None) -> str:
    if days is None:
        return "no purchase yet"
    usual = f"; usual gap {_days(gap)}" if gap is not None else ""
    return f"{_days(days)} since last order{usual}"


def _rhythm(gap: float | None) -> str:
    return f"buys only every {_days(gap)}" if gap is not None else "too few purchases to know a rhythm"


def _change(what: str, period: str) -> Callable[[float | None], str | None]:
    def say(ratio: float | None) -> str | None:
        if ratio is None:
            return None
        if ratio < 1:
            return f"{what} down {round((1 - ratio) * 100)} % vs {period}"
        return f"{what} up {round((ratio - 1) * 100)} % vs {period}"

    return say


def _plural(n: float, noun: str) -> str:
    many = noun[:-1] + "ies" if noun.endswith("y") else noun + "s"
    return f"{round(n)} {noun if round(n) == 1 else many}"


def _count(noun: str, period: str) -> Callable[[float | None], str | None]:
    def say(n: float | None) -> str | None:
        if n is None:
            return None
        return f"no {noun}s in the last {period}" if round(n) == 0 else f"{_plural(n, noun)} in the last {period}"

    return say


def _days_since(what: str) -> Callable[[float | None], str | None]:
    return lambda days: None if days is None else f"{_days(days)} since last {what}"


def _ago(what: str) -> Callable[[float | None], str | None]:
    def say(days: float | None) -> str | None:
        if days is None:
            return None
        return f"{what} today" if round(days) == 0 else f"{what} {_days(days)} ago"

    return say


def _browsing(period: str) -> Callable[[float | None], str]:
    def say(seconds: float | None) -> str:
        minutes = round((seconds or 0) / 60)
        return f"no browsing in the last {period}" if minutes == 0 else f"{minutes} minutes browsing in the last {period}"

    return say


def _money(what: str) -> Callable[[float | None], str | None]:
    return lambda amount: None if amount is None else f"{what} {amount:,.0f}"


def _share(what: str) -> Callable[[float | None], str | None]:
    return lambda share: None if share is None else f"{round(share * 100)} % {what}"


def _as_is(description: str) -> Callable[[object], str]:
    """The catalogue description and the value: floats to 3 significant digits, anything else as text."""

    def say(value: object) -> str:
        if value is None or (isinstance(value, float) and math.isnan(value)):
            return f"{description}: missing"
        shown = f"{value:.3g}" if isinstance(value, float) else str(value)
        return f"{description}: {shown}"

    return say


_RECENCY = Template("recency", ("days_since_last_order", "order_gap_median"), _since_order)


def _one(group: str, name: str, say: Callable[[float | None], str | None]) -> Template:
    return Template(group, (name,), say)


def _each_window(group: str, stem: str, say: Callable[[str], Callable[[float | None], str | None]]) -> dict[str, Template]:
    return {f"{stem}_{w}d": _one(group, f"{stem}_{w}d", say(f"{w} days")) for w in WINDOWS}


# Feature -> how to say it. Features not listed use their catalogue description (see :func:`template`).
TEMPLATES: dict[str, Template] = {
    "days_since_last_order": _RECENCY,
    "order_overdue": _RECENCY,
    "orders_30d": _RECENCY,
    "orders_7d": _RECENCY,
    "orders_90d": _one("rhythm", "orders_90d", _count("purchase", "90 days")),
    "orders_all": _one("rhythm", "orders_all", lambda n: None if n is None else f"{_plural(n, 'purchase')} ever"),
    "order_gap_median": _one("rhythm", "order_gap_median", _rhythm),
    "order_gap_mean": _one("rhythm", "order_gap_mean", _rhythm),
    "order_gap_std": _one("rhythm", "order_gap_median", _rhythm),  # the spread is said as the usual rhythm
    "cancelled_orders_90d": _one("returns", "cancelled_orders_90d", _count("cancelled order", "90 days")),
    "login_trend_30_60": _one("logins", "login_trend_30_60", _change("logins", "the previous two months")),
    "login_trend_7_28": _one("logins", "login_trend_7_28", _change("logins", "the previous 4 weeks")),
    "days_since_last_login": _one("logins", "days_since_last_login", _days_since("login")),
    **_each_window("logins", "logins", lambda period: _count("login", period)),
    "login_gap_mean_90d": _one("logins", "login_gap_mean_90d", lambda g: None if g is None else f"logs in every {_days(g)} on average"),
    "login_gap_std_90d": _one("logins", "login_gap_std_90d", lambda g: None if g is None else f"irregular logins (gaps vary by {_days(g)})"),
    "activity_trend_30_60": _one("activity", "activity_trend_30_60", _change("activity", "the previous two months")),
    "activity_trend_7_28": _one("activity", "activity_trend_7_28", _change("activity", "the previous 4 weeks")),
    "days_since_last_event": _one("activity", "days_since_last_event", _days_since("visit")),
    **_each_window("activity", "events", lambda period: _count("event", period)),
    **_each_window("activity", "sessions", lambda period: _count("session", period)),
    **_each_window("activity", "active_days", lambda period: lambda n: None if n is None else f"active on {_days(n)} in the last {period}"),
    **_each_window("activity", "browse_seconds", _browsing),
    "browse_seconds_per_session_30d": _one(
        "activity", "browse_seconds_per_session_30d", lambda s: None if s is None else f"{round(s / 60)} minutes per visit in the last 30 days"
    ),
    "browse_trend_30_60": _one("activity", "browse_trend_30_60", _change("browsing time", "the previous two months")),
    "spend_trend_30_60": _one("spend", "spend_trend_30_60", _change("spend", "the previous two months")),
    "spend_30d": _one("spend", "spend_30d", _money("spent in the last 30 days:")),
    "spend_90d": _one("spend", "spend_90d", _money("spent in the last 90 days:")),
    "spend_all": _one("spend", "spend_all", _money("spent in all:")),
    "avg_order_value": _one("spend", "avg_order_value", _money("average order")),
    "refund_rate": _one("returns", "refund_rate", _share("of purchases refunded")),
    "complaints_30d": _one("complaints", "complaints_30d", _count("complaint", "30 days")),
    "complaints_90d": _one("complaints", "complaints_90d", _count("complaint", "90 days")),
    "days_since_last_complaint": _one("complaints", "days_since_last_complaint", _ago("last complaint")),
    "unresolved_tickets": _one("complaints", "unresolved_tickets", lambda n: None if n is None else f"{_plural(n, 'unresolved ticket')}"),
    "returns_90d": _one("returns", "returns_90d", _count("return", "90 days")),
    "refunds_90d": _one("returns", "refunds_90d", _count("refund", "90 days")),
    "low_ratings_90d": _one("ratings", "low_ratings_90d", _count("low rating", "90 days")),
    "mean_rating": _one("ratings", "mean_rating", lambda r: None if r is None else f"mean rating {r:.1f} of 5"),
    "coupons_received_90d": _one("coupons", "coupons_received_90d", _count("coupon", "90 days")),
    "coupons_redeemed_90d": _one("coupons", "coupons_redeemed_90d", _count("redeemed coupon", "90 days")),
    "coupon_redemption_rate": _one("coupons", "coupon_redemption_rate", _share("of coupons redeemed")),
    "days_since_last_coupon": _one("coupons", "days_since_last_coupon", _ago("last coupon")),
    "categories_all": _one("categories", "categories_all", lambda n: None if n is None else f"buys in {_plural(n, 'category')}"),
    "main_category_share": _one("categories", "main_category_share", _share("of purchases in one category")),
    "days_since_signup": _one("tenure", "days_since_signup", _ago("signed up")),
    "days_since_first_order": _one("tenure", "days_since_first_order", _ago("first order")),
    "days_signup_to_first_order": _one(
        "tenure", "days_signup_to_first_order", lambda d: None if d is None else "first order on the day of signing up" if round(d) == 0 else f"first order {_days(d)} after signing up"
    ),
}


def template(name: str) -> Template:
    """The template of feature ``name``: from :data:`TEMPLATES`, else its catalogue description and value, a group of its own."""
    if name in TEMPLATES:
        return TEMPLATES[name]
    description = BY_NAME[name].description if name in BY_NAME else name
    return Template(name, (name,), _as_is(description), numbers=False)


def _num(value: object) -> float | None:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return None
    return float(value)


class _Values:
    """The feature frame's values for a template, picked by row position.

    Values are the objects a row of the frame holds (``frame.iloc[i][name]``):
    in a frame of mixed types that is the column's own scalar (numpy int64,
    float64, a category's label); in a frame of one common type (all numbers,
    say) the value converted to it. Templates see exactly what a per-row loop
    over the frame would show them.
    """

    def __init__(self, features: pd.DataFrame) -> None:
        self._features = features
        self._row_dtype = features.iloc[0].dtype if len(features) else np.dtype(object)
        self._columns: dict[str, np.ndarray | pd.api.extensions.ExtensionArray] = {}

    def _column(self, name: str) -> np.ndarray | pd.api.extensions.ExtensionArray | None:
        if name not in self._columns:
            if name not in self._features.columns:
                return None
            column = self._features[name]
            if self._row_dtype != object and column.dtype != self._row_dtype:
                column = column.astype(self._row_dtype)
            self._columns[name] = column.to_numpy() if isinstance(column.dtype, np.dtype) else column.array
        return self._columns[name]

    def raw(self, name: str, rows: np.ndarray) -> list:
        column = self._column(name)
        if column is None:
            return [None] * len(rows)
        if isinstance(column, np.ndarray):
            if column.dtype.kind in "iub" or column.dtype == np.float64:
                return column[rows].tolist()  # Python scalars: printed and tested as the numpy ones
            return list(column[rows])  # numpy scalars (a float32 prints differently from a float)
        return list(column.take(rows))

    def numbers(self, name: str, rows: np.ndarray) -> list[float | None]:
        column = self._column(name)
        if isinstance(column, np.ndarray) and column.dtype == np.float64:
            return [None if v != v else v for v in column[rows].tolist()]  # v != v: NaN
        if isinstance(column, np.ndarray) and column.dtype.kind in "iub":
            return column[rows].astype(np.float64).tolist()
        return [_num(v) for v in self.raw(name, rows)]

    def say(self, template: Template, rows: np.ndarray) -> list[str | None]:
        pick = self.numbers if template.numbers else self.raw
        return [template.say(*values) for values in zip(*(pick(name, rows) for name in template.reads))]


def _strongest_first(weights: np.ndarray) -> np.ndarray:
    """Per row, the column positions by decreasing weight, missing weights last.

    Ties come out in the order pandas' ``Series.sort_values(ascending=False)``
    gives them (numpy's default sort, which is not stable, on the reversed
    row; result reversed), so the reasons match those of a per-row loop even
    when two contributions are equal.
    """
    m = weights.shape[1]
    order = ((m - 1) - np.argsort(weights[:, ::-1], axis=1, kind="quicksort"))[:, ::-1]
    missing = pd.isna(weights)
    for i in np.flatnonzero(missing.any(axis=1)):
        present = np.flatnonzero(~missing[i])[::-1]
        ranked = present[weights[i, present].argsort(kind="quicksort")][::-1]
        order[i] = np.concatenate([ranked, np.flatnonzero(missing[i])])
    return order


def _walk(
    weights: np.ndarray, first_row: int, templates: Sequence[Template], group: np.ndarray, values: _Values, top: int
) -> list[list[str]]:
    """Reasons for the rows ``first_row, ...`` whose contributions are ``weights`` (columns as ``templates``).

    Goes down the ranking one rank at a time for every row still looking for a
    reason: a row stops at its first contribution <= 0 or when it has ``top``
    reasons; a feature whose group the row already has, or whose template has
    nothing to say, passes to the next rank.
    """
    n, m = weights.shape
    order = _strongest_first(weights)
    # Each row's reasons so far, in order. A row has at most one reason per group, so at most m;
    # a negative top never ends a walk (len(said) == top never held in the per-row loop either).
    slots = np.empty((n, m if top < 0 else min(top, m)), dtype=object)
    used = np.zeros((n, int(group.max(initial=-1)) + 1), dtype=bool)  # reason groups already said, per row
    count = np.zeros(n, dtype=np.int64)
    looking = np.flatnonzero(count != top)
    for rank in range(m):
        if not len(looking):
            break
        column = order[looking, rank]
        rising = ~np.asarray(weights[looking, column] <= 0, dtype=bool)  # NaN does not end the walk, as in the sort
        looking, column = looking[rising], column[rising]
        fresh = ~used[looking, group[column]]
        rows, column = looking[fresh], column[fresh]
        by_feature = np.argsort(column, kind="stable")
        present, starts = np.unique(column[by_feature], return_index=True)
        for c, at in zip(present, np.split(rows[by_feature], starts[1:])):
            texts = np.empty(len(at), dtype=object)
            texts[:] = values.say(templates[c], at + first_row)
            spoke = np.fromiter(map(bool, texts), dtype=bool, count=len(at))
            at = at[spoke]
            slots[at, count[at]] = texts[spoke]
            used[at, group[c]] = True
            count[at] += 1
        looking = looking[count[looking] != top]
    out = slots.tolist()
    for r in np.flatnonzero(count < slots.shape[1]):
        out[r] = out[r][: count[r]]
    return out


def reasons(contributions: pd.DataFrame, features: pd.DataFrame, top: int = 3) -> list[list[str]]:
    """For each row, up to ``top`` reasons in words, strongest first; only features that raise the risk.

    contributions: per-row log-odds contributions (columns = features, plus ``baseline``).
    features: the same rows' feature values (rows matched by index label).
    A feature whose template has nothing to say for a user (a missing trend)
    is skipped, and so is one whose reason group was already said.
    """
    columns = [c for c in contributions.columns if c != BASELINE]
    if not features.index.equals(contributions.index):
        features = features.loc[contributions.index]
    templates = [template(name) for name in columns]
    ids: dict[str, int] = {}
    group = np.array([ids.setdefault(t.group, len(ids)) for t in templates], dtype=np.int64)
    weights = contributions[columns].to_numpy()
    values = _Values(features)
    out: list[list[str]] = []
    for start in range(0, len(weights), CHUNK_ROWS):
        out += _walk(weights[start : start + CHUNK_ROWS], start, templates, group, values, top)
    return out
