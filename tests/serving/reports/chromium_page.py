"""Headless Chromium for the page tests (Debian's ``chromium``), and a reader of a page's panels and figures."""

from __future__ import annotations

import subprocess
from html.parser import HTMLParser
from pathlib import Path


FLAGS = ("--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars", "--no-first-run", "--disable-extensions")


class Chromium:
    """``chromium --headless``: the DOM after the page ran (``dump_dom``) and screenshots."""

    def __init__(self, binary: str, profile: Path) -> None:
        self.binary, self.profile = binary, profile

    def _run(self, *args: str, timeout: int = 180) -> subprocess.CompletedProcess:
        command = [self.binary, *FLAGS, f"--user-data-dir={self.profile}", *args]
        done = subprocess.run(command, capture_output=True, text=True, timeout=timeout)
        if done.returncode != 0:
            raise AssertionError(f"chromium failed ({done.returncode}): {done.stderr[-2000:]}")
        return done

    def dump_dom(self, url: str, wait_ms: int = 0, extra: tuple[str, ...] = ()) -> str:
        """The document as Chromium built it; ``wait_ms``: virtual time for the page's scripts to run first."""
        wait = (f"--virtual-time-budget={wait_ms}",) if wait_ms else ()
        return self._run(*wait, *extra, "--dump-dom", url).stdout

    def screenshot(self, url: str, path: Path, width: int, height: int, wait_ms: int = 0, extra: tuple[str, ...] = ()) -> Path:
        wait = (f"--virtual-time-budget={wait_ms}",) if wait_ms else ()
        self._run(*wait, *extra, f"--screenshot={path}", f"--window-size={width},{height}", url)
        assert path.stat().st_size > 10_000, f"{path}: a blank screenshot"
        return path


class Figures(HTMLParser):
    """The panels (``data-panel``) and figures (``data-figure`` -> its text) of a page's DOM."""

    def __init__(self, text: str) -> None:
        super().__init__()
        self.panels: list[str] = []
        self.figures: dict[str, str] = {}
        self._open: list[tuple[str | None, list[str]]] = []
        self.feed(text)

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if "data-panel" in a:
            self.panels.append(a["data-panel"])
        if tag in ("br", "img", "meta", "link", "input", "hr"):
            return
        self._open.append((a.get("data-figure"), []))

    def handle_endtag(self, tag):
        if not self._open:
            return
        name, parts = self._open.pop()
        text = "".join(parts).strip()
        if name is not None:
            self.figures[name] = text
        if self._open:
            self._open[-1][1].append(text)

    def handle_data(self, data):
        if self._open:
            self._open[-1][1].append(data)
