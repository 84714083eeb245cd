"""The nightly dashboard's figures: pure functions over scores tables, one per panel.

Inputs are scores tables as the score store returns them (``serving.columns.SCORE_COLUMNS``)
for the night (``scores``) and the previous published night (``previous``, or None);
nothing is read or written here, and no input is modified. Rates are shares (0.25 = 25 %).
"""

from __future__ import annotations

import re

import numpy as np
import pandas as pd

from serving.batch.bands import BANDS, HIGH
from serving.columns import BAND, PROBABILITY, REASONS, SEGMENTS, USER_ID, VALUE_AT_RISK

UNKNOWN = "unknown"  # a segment value the user's profile does not have
HIST_BINS = 20
# A user's own number, not a window's length ("in the last 30 days", "vs the previous 30 days" stay).
_NUMBER = re.compile(r"(?<!last )(?<!previous )(?<!vs )(?<!of )(?<![\d,.])\d[\d,]*(?:\.\d+)?")
# Nouns the reasons count ("1 day", "2 unresolved tickets"): said in the plural once the number is N.
_COUNTED = re.compile(r"\bN ((?:unresolved )?)(day|purchase|order|login|ticket|category|minute|session|review|visit|week)\b")


def band_counts(scores: pd.DataFrame, previous: pd.DataFrame | None) -> pd.DataFrame:
    """Users per band, highest risk first: ``users``, ``share``, ``value_at_risk`` (sum), ``previous``
    (users in the previous run, NaN without one) and ``change`` (users - previous)."""
    bands = list(reversed(BANDS))
    now = scores[BAND].astype(str).value_counts().reindex(bands, fill_value=0)
    value = scores.groupby(scores[BAND].astype(str))[VALUE_AT_RISK].sum().reindex(bands, fill_value=0.0)
    out = pd.DataFrame({"users": now.astype(int), "share": now / max(len(scores), 1), "value_at_risk": value})
    if previous is None:
        out["previous"] = np.nan
    else:
        out["previous"] = previous[BAND].astype(str).value_counts().reindex(bands, fill_value=0).astype(float)
    out["change"] = out["users"] - out["previous"]
    out.index.name = BAND
    return out


def score_histogram(
    scores: pd.DataFrame, previous: pd.DataFrame | None, bins: int = HIST_BINS
) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
    """(edges, counts tonight, counts in the previous run or None): ``bins`` equal bins over [0, 1]."""
    edges = np.arange(bins + 1) / bins  # exact decimal edges: 7 / 10 is 0.7, as the band cut-offs are
    now = np.histogram(scores[PROBABILITY].to_numpy(dtype=float), edges)[0]
    before = None if previous is None else np.histogram(previous[PROBABILITY].to_numpy(dtype=float), edges)[0]
    return edges, now, before


def _segment_values(scores: pd.DataFrame, segment: str) -> pd.Series:
    return pd.Series([UNKNOWN if pd.isna(v) else str(v) for v in scores[segment]], index=scores.index, dtype=object)


def segment_bands(scores: pd.DataFrame) -> dict[str, pd.DataFrame]:
    """For each segment (member tier, city tier, region, channel): one row per value with ``users``,
    the users per band, ``high_rate`` (share in the high band) and ``mean_probability``;
    highest high-band rate first (then by value)."""
    out = {}
    bands = list(reversed(BANDS))
    for segment in SEGMENTS:
        values = _segment_values(scores, segment)
        counts = pd.crosstab(values, scores[BAND].astype(str)).reindex(columns=bands, fill_value=0)
        table = pd.DataFrame({"users": counts.sum(axis=1)}).join(counts)
        table["high_rate"] = table[HIGH] / table["users"]
        table["mean_probability"] = scores[PROBABILITY].groupby(values).mean()
        table.index.name = segment
        out[segment] = table.reset_index().sort_values(["high_rate", segment], ascending=[False, True], ignore_index=True)
    return out


def reason_kind(text: str) -> str:
    """A reason without the user's numbers, so that users with the same reason count together:
    "61 days since last order; usual gap 18 days" -> "N days since last order; usual gap N days";
    windows stay: "no purchases in the last 30 days" is another reason than "... 90 days"."""
    said = _NUMBER.sub("N", text)
    return _COUNTED.sub(lambda m: f"N {m[1]}{_plural(m[2])}", said)


def _plural(word: str) -> str:
    if word.endswith("s"):
        return word
    if word.endswith("y") and word[-2:-1] not in "aeiou":
        return word[:-1] + "ies"
    return word + "s"


def _kinds(scores: pd.DataFrame) -> pd.DataFrame:
    """One row per (user, reason kind) among each user's reasons (a kind counts once per user)."""
    parts = [
        pd.DataFrame({"row": np.arange(len(scores)), "kind": scores[column].to_numpy(dtype=object)})
        for column in REASONS
        if column in scores.columns
    ]
    long = pd.concat(parts, ignore_index=True)
    long = long[long["kind"].map(lambda v: isinstance(v, str) and v != "")]
    long["kind"] = long["kind"].map(reason_kind)
    return long.drop_duplicates()


def top_reasons(scores: pd.DataFrame, band: str = HIGH, top: int = 8) -> pd.DataFrame:
    """The most common reasons of the users in ``band``: ``reason``, ``users`` (who have it among their
    reasons), ``share`` (of the band's users); most common first, then alphabetically."""
    chosen = scores[scores[BAND].astype(str) == band].reset_index(drop=True)
    if chosen.empty:
        return pd.DataFrame({"reason": [], "users": [], "share": []})
    counts = _kinds(chosen)["kind"].value_counts()
    out = pd.DataFrame({"reason": counts.index, "users": counts.to_numpy()})
    out["share"] = out["users"] / len(chosen)
    return out.sort_values(["users", "reason"], ascending=[False, True], ignore_index=True).head(top)


def reasons_by_segment(scores: pd.DataFrame, band: str = HIGH, top: int = 3) -> dict[str, pd.DataFrame]:
    """Per segment and value: ``users`` in ``band`` and their ``top`` most common reasons (list of (reason, share))."""
    out = {}
    for segment in SEGMENTS:
        values = _segment_values(scores, segment)
        rows = []
        for value in sorted(values.unique()):
            part = scores[values == value]
            reasons = top_reasons(part, band, top)
            at_risk = int((part[BAND].astype(str) == band).sum())
            rows.append({segment: value, "users": at_risk, "reasons": list(zip(reasons["reason"], reasons["share"], strict=True))})
        table = pd.DataFrame(rows, columns=[segment, "users", "reasons"])
        out[segment] = table.sort_values(["users", segment], ascending=[False, True], ignore_index=True)
    return out


def movers(scores: pd.DataFrame, previous: pd.DataFrame | None) -> dict[str, pd.DataFrame | int]:
    """Who moved between the previous run and tonight.

    ``newly_at_risk``: high tonight and not high before (or not scored before), most value at risk
    first; ``recovered``: high before, scored tonight below high; ``left``: high before and not
    scored tonight (out of the churn population). Without a previous run the frames are empty.
    """
    high_now = scores[scores[BAND].astype(str) == HIGH]
    if previous is None:
        empty = scores.iloc[:0]
        return {"newly_at_risk": empty, "recovered": empty, "left": 0}
    before = previous.set_index(previous[USER_ID].astype(str))
    was_high = set(before.index[before[BAND].astype(str) == HIGH])
    ids_now = scores[USER_ID].astype(str)
    newly = high_now[~high_now[USER_ID].astype(str).isin(was_high)]
    newly = newly.assign(previous_band=newly[USER_ID].astype(str).map(before[BAND].astype(str)).fillna("not scored"))
    recovered = scores[ids_now.isin(was_high) & (scores[BAND].astype(str) != HIGH)]
    recovered = recovered.assign(previous_probability=recovered[USER_ID].astype(str).map(before[PROBABILITY]))
    left = len(was_high - set(ids_now))
    order = [VALUE_AT_RISK, USER_ID]
    return {
        "newly_at_risk": newly.sort_values(order, ascending=[False, True], ignore_index=True),
        "recovered": recovered.sort_values(order, ascending=[False, True], ignore_index=True),
        "left": left,
    }


def coupon_list_figures(coupons: pd.DataFrame) -> dict[str, float]:
    """The coupon list's sizes and money: ``coupons``, ``callbacks``, ``control``, ``cost`` (coupon value issued),
    ``expected_value`` (the treated users' expected retained value net of the coupon, as the policy computed it)."""
    treated = coupons[coupons["group"] == "treatment"]
    return {
        "users": len(coupons),
        "coupons": int((treated["action"] == "coupon").sum()),
        "callbacks": int((treated["action"] == "callback").sum()),
        "control": int((coupons["group"] == "control").sum()),
        "cost": float(treated["value"].sum()),
        "expected_value": float(treated["expected_value"].sum()),
    }
