"""The catalogue is the single list of features: the docs and the feature table follow it."""

from __future__ import annotations

from pathlib import Path

from features.catalog import BY_NAME, FEATURE_NAMES, FEATURES

DOC = Path(__file__).resolve().parents[2] / "docs" / "features.md"


def test_names_are_unique_and_documented():
    assert len(set(FEATURE_NAMES)) == len(FEATURE_NAMES) == len(BY_NAME)
    text = DOC.read_text()
    missing = [f.name for f in FEATURES if f"`{f.name}`" not in text]
    assert missing == []
