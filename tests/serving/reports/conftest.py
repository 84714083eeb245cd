"""Fixtures of the page tests: headless Chromium and a directory for the screenshots."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from chromium_page import Chromium


@pytest.fixture(scope="session")
def chromium(tmp_path_factory) -> Chromium:
    binary = shutil.which("chromium") or shutil.which("chromium-browser")
    if binary is None:
        pytest.fail("Debian's chromium is not installed (apt-get install -y chromium); the page tests need a real browser")
    return Chromium(binary, tmp_path_factory.mktemp("chromium-profile"))


@pytest.fixture(scope="session")
def screenshots(tmp_path_factory) -> Path:
    """Where the page tests leave their screenshots (printed by the tests, kept by pytest's tmp dir)."""
    return tmp_path_factory.mktemp("screenshots")
