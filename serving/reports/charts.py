"""Inline SVG charts for the dashboard: no script, no font or file fetched, they scale with the page.

Each function returns one ``<svg>`` element as text (a ``viewBox`` and ``width="100%"``),
with a ``<title>`` for screen readers and the numbers written on the chart.
"""

from __future__ import annotations

from collections.abc import Sequence
from html import escape

import numpy as np

INK, MUTED, GRID = "#1f2933", "#6b7785", "#e4e8ee"
BAND_COLOURS = {"high": "#c2410c", "medium": "#e8a33d", "low": "#5b8def"}
BAR = "#3b6fb6"


def score_histogram_svg(
    edges: np.ndarray, now: np.ndarray, before: np.ndarray | None, cutoffs: tuple[float, float], width: int = 640, height: int = 240
) -> str:
    """Users per probability bin tonight (bars coloured by band) and in the previous run (a dark step line)."""
    left, right, top, bottom = 48, 12, 14, 34
    plot_w, plot_h = width - left - right, height - top - bottom
    peak = max(int(now.max(initial=0)), int(before.max(initial=0)) if before is not None else 0, 1)
    step = _nice_step(peak)
    ymax = step * int(np.ceil(peak / step))

    def x(p: float) -> float:
        return left + p * plot_w

    def y(n: float) -> float:
        return top + plot_h - n / ymax * plot_h

    parts = [f'<svg class="chart" viewBox="0 0 {width} {height}" width="100%" role="img" xmlns="http://www.w3.org/2000/svg">',
             "<title>Score distribution: users per churn probability bin, tonight and the previous run</title>"]  # fmt: skip
    for tick in range(0, ymax + 1, step):
        parts.append(f'<line x1="{left}" x2="{width - right}" y1="{y(tick):.1f}" y2="{y(tick):.1f}" stroke="{GRID}"/>')
        parts.append(f'<text x="{left - 6}" y="{y(tick) + 4:.1f}" text-anchor="end" font-size="11" fill="{MUTED}">{tick:,}</text>')
    medium, high = cutoffs
    for i, n in enumerate(now):
        mid = (edges[i] + edges[i + 1]) / 2
        colour = BAND_COLOURS["high" if mid >= high else "medium" if mid >= medium else "low"]
        x0, x1 = x(edges[i]) + 1, x(edges[i + 1]) - 1
        parts.append(
            f'<rect x="{x0:.1f}" y="{y(n):.1f}" width="{x1 - x0:.1f}" height="{y(0) - y(n):.1f}" fill="{colour}" opacity="0.85">'
            f"<title>{edges[i]:.2f} to {edges[i + 1]:.2f}: {int(n):,} users</title></rect>"
        )
    if before is not None:
        points = []
        for i, n in enumerate(before):
            points += [f"{x(edges[i]):.1f},{y(n):.1f}", f"{x(edges[i + 1]):.1f},{y(n):.1f}"]
        parts.append(f'<polyline points="{" ".join(points)}" fill="none" stroke="{INK}" stroke-width="1.6" stroke-dasharray="4 3"/>')
    for cut, name in ((medium, "medium"), (high, "high")):
        parts.append(f'<line x1="{x(cut):.1f}" x2="{x(cut):.1f}" y1="{top}" y2="{y(0):.1f}" stroke="{INK}" stroke-width="1"/>')
        parts.append(f'<text x="{x(cut) + 4:.1f}" y="{top + 10}" font-size="11" fill="{INK}">{name} from {cut:g}</text>')
    for tick in np.linspace(0, 1, 6):
        parts.append(f'<text x="{x(tick):.1f}" y="{height - bottom + 16}" text-anchor="middle" font-size="11" fill="{MUTED}">{tick:.1f}</text>')
    parts.append(f'<text x="{left + plot_w / 2:.1f}" y="{height - 4}" text-anchor="middle" font-size="11" fill="{MUTED}">'
                 "probability of churning in the horizon</text>")  # fmt: skip
    parts.append(f'<line x1="{left}" x2="{width - right}" y1="{y(0):.1f}" y2="{y(0):.1f}" stroke="{MUTED}"/>')
    parts.append("</svg>")
    return "".join(parts)


def bar_chart_svg(labels: Sequence[str], values: Sequence[float], texts: Sequence[str], title: str, width: int = 640,
                  colour: str = BAR, limit: float | None = None) -> str:  # fmt: skip
    """Horizontal bars, one per label, largest first as given; ``texts``: the number written beside each bar;
    ``limit``: a dashed vertical line at that value (a threshold), in the same units as ``values``."""
    row, label_w, text_w = 24, 300, 130
    height = row * len(labels) + 8
    bar_w = width - label_w - text_w
    top = max([*values, limit or 0, 1e-12])
    parts = [f'<svg class="chart" viewBox="0 0 {width} {height}" width="100%" role="img" xmlns="http://www.w3.org/2000/svg">',
             f"<title>{escape(title)}</title>"]  # fmt: skip
    for i, (label, value, text) in enumerate(zip(labels, values, texts, strict=True)):
        y = 4 + i * row
        shown = label if len(label) <= 46 else label[:45] + "…"
        parts.append(f'<text x="{label_w - 8}" y="{y + 15}" text-anchor="end" font-size="12" fill="{INK}">'
                     f"<title>{escape(label)}</title>{escape(shown)}</text>")  # fmt: skip
        w = max(value / top * bar_w, 1.0)
        parts.append(f'<rect x="{label_w}" y="{y + 3}" width="{w:.1f}" height="{row - 8}" rx="2" fill="{colour}"/>')
        parts.append(f'<text x="{label_w + w + 6:.1f}" y="{y + 15}" font-size="12" fill="{INK}">{escape(text)}</text>')
    if limit is not None:
        lx = label_w + limit / top * bar_w
        parts.append(f'<line x1="{lx:.1f}" x2="{lx:.1f}" y1="0" y2="{height}" stroke="{INK}" stroke-dasharray="3 3"/>')
    parts.append("</svg>")
    return "".join(parts)


def _nice_step(peak: int) -> int:
    """A round tick step giving about four grid lines up to ``peak``."""
    raw = max(peak / 4, 1)
    magnitude = 10 ** int(np.floor(np.log10(raw)))
    for factor in (1, 2, 5, 10):
        if raw <= factor * magnitude:
            return int(factor * magnitude)
    return int(10 * magnitude)
