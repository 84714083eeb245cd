"""Reasons on simulated users read as a CRM agent would say them: one theme each, the score's direction, no raw wording."""

from __future__ import annotations

import re

import numpy as np
import pytest

from features.catalog import FEATURES
from serving.batch.bands import BandCutoffs
from serving.batch.reasons import explained
from serving.batch.scoring import model_inputs
from serving.batch.themes import ACTIVITY, ORDERS, covers

RAW = re.compile(r"_|\(ties|: [A-Za-z0-9]|\bnan\b|\bNone\b|\d+\.\d{2,}|\b1 (minutes|days|weeks|months|orders|visits|logins)\b|\b0 days\b")
BIG_NUMBER = re.compile(r"\d{4,}")  # thousands are written 1,234
PERCENT = re.compile(r"(\d+) %")
RISK_WORDS = ("ordered ", "visited ", "logged in ", " member", "customer for", "buying for", "spent ", "wrote ", "redeemed ", "uses most", "of the coupons it gets")
KEEP_WORDS = ("no ", "only ", " down ", "stopped", "rarely", "irregular", "unlikely", "may have stopped", "complain", "refund", "return", "cancel", "low rating", "open")
DESCRIPTIONS = [f.description for f in FEATURES if len(f.description) > 12]


@pytest.fixture(scope="module")
def explained_users(small_model):
    """Every simulated user explained in the direction of their score, and again in the other direction."""
    model, features = small_model.model, small_model.features
    p = model.predict_proba(features)[:, 1]
    contributions = model.contributions(features)
    inputs = model_inputs(features, model)
    risk = p >= BandCutoffs().medium
    as_scored = explained(contributions, inputs, risk=risk)
    flipped = explained(contributions, inputs, risk=~risk)
    return contributions, inputs, list(risk) + list(~risk), as_scored + flipped


def test_enough_users_and_reasons(explained_users):
    _, features, risk, said = explained_users
    assert len(said) == 2 * len(features) >= 2000  # over a thousand users still active (the early-warning population), each read both ways
    assert sum(len(r) == 3 for r, k in zip(said, risk) if k) > 0.5 * sum(risk)  # most risky users get three reasons
    assert sum(bool(r) for r, k in zip(said, risk) if not k) > 0.5 * (len(risk) - sum(risk))


def test_one_theme_per_reason_and_no_repeats(explained_users):
    *_, said = explained_users
    for row in said:
        spoken = [theme for reason in row for theme in covers(reason.text, reason.theme)]
        assert len(spoken) == len(set(spoken)), [r.text for r in row]
        assert len({r.text for r in row}) == len(row)
        # order recency and visit recency: one reason at most that says how long since either
        recency = [r.text for r in row if re.search(r"^(no order|no visit|ordered|visited)", r.text)]
        assert len(recency) <= 2 and not (len(recency) == 2 and any(t.startswith("no order or visit") for t in recency)), recency
        rhythm = [r.text for r in row if "usually orders every" in r.text or "orders often" in r.text or "orders rarely" in r.text]
        assert len(rhythm) <= 1, rhythm


def test_reasons_point_the_way_of_the_score(explained_users):
    contributions, _, risk, said = explained_users
    n = len(contributions)
    weights = contributions.reset_index(drop=True)
    for i, (row, r) in enumerate(zip(said, risk)):
        for reason in row:
            assert reason.risk == r
            w = weights.at[i % n, reason.feature]
            assert (w > 0) if r else (w < 0), (reason, w)
            text = f" {reason.text} "
            if r:
                assert not any(word in text for word in RISK_WORDS if not text.startswith(" no ")), reason.text
            else:
                assert not any(word in text for word in KEEP_WORDS) or reason.text.startswith("no complaints"), reason.text


def test_no_internal_wording_and_numbers_a_person_says(explained_users):
    *_, said = explained_users
    texts = {r.text for row in said for r in row}
    assert len(texts) > 50
    for text in texts:
        assert not RAW.search(text), text
        assert not BIG_NUMBER.search(text), text
        assert not any(d in text for d in DESCRIPTIONS), text
        assert all(int(p) <= 100 for p in PERCENT.findall(text)), text


def test_risk_recency_is_never_a_recent_order(explained_users):
    _, features, risk, said = explained_users
    n = len(features)
    days = features["days_since_last_order"].to_numpy(dtype=float)
    for i, (row, r) in enumerate(zip(said, risk)):
        for reason in row:
            if r and reason.text.startswith(("no order for", "no order or visit")):
                assert days[i % n] >= 7, (reason.text, days[i % n])
            if reason.theme in (ORDERS, ACTIVITY):
                assert not np.isnan(days[i % n]) or "no purchase yet" in reason.text or reason.theme == ACTIVITY or r
