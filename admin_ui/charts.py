"""Server-rendered SVG charts for the dashboard: pure functions from points to markup (no I/O, no
JavaScript). Colours come from admin.css classes (the CSP allows no style attributes); every chart
has a <title> and an aria-label, and its numbers are also in a table or a figure beside it."""

from __future__ import annotations

from collections.abc import Sequence
from html import escape
from typing import Protocol


class Point(Protocol):
    """Anything with a label and a value (engine.ops.model.Point, or a section's own)."""

    @property
    def label(self) -> str: ...
    @property
    def value(self) -> float: ...


WIDTH, HEIGHT = 600, 220
PAD_LEFT, PAD_RIGHT, PAD_TOP, PAD_BOTTOM = 48, 8, 12, 28


def nice_ceiling(value: float) -> float:
    """The axis top: four grid steps of 1, 2 or 5 times a power of ten (at least 1), so the labels
    are round numbers, and the top at least `value`."""
    step = 1.0
    while True:
        for factor in (1, 2, 5):
            if 4 * factor * step >= value:
                return 4 * factor * step
        step *= 10


def _short(value: float) -> str:
    for unit, size in (("M", 1e6), ("k", 1e3)):
        if abs(value) >= size:
            return f"{value / size:g}{unit}"
    return f"{value:g}"


def _frame(title: str, body: list[str], top: float) -> str:
    plot_h = HEIGHT - PAD_TOP - PAD_BOTTOM
    grid = []
    for i in range(5):
        y = PAD_TOP + plot_h * i / 4
        grid.append(f'<line class="grid" x1="{PAD_LEFT}" y1="{y:.1f}" x2="{WIDTH - PAD_RIGHT}" y2="{y:.1f}"/>')
        grid.append(
            f'<text class="axis" x="{PAD_LEFT - 6}" y="{y + 4:.1f}" text-anchor="end">'
            f"{_short(top * (4 - i) / 4)}</text>"
        )
    label = escape(title)
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {WIDTH} {HEIGHT}" role="img" '
        f'aria-label="{label}"><title>{label}</title>{"".join(grid)}{"".join(body)}</svg>'
    )


def _x_labels(points: Sequence[Point], x_of: list[float]) -> list[str]:
    every = max(1, len(points) // 8)  # at most ~8 labels, whatever the number of points
    return [
        f'<text class="axis" x="{x:.1f}" y="{HEIGHT - 8}" text-anchor="middle">{escape(p.label)}</text>'
        for i, (p, x) in enumerate(zip(points, x_of, strict=True))
        if i % every == 0 or i == len(points) - 1
    ]


def bar_chart(title: str, points: Sequence[Point]) -> str:
    """Bars, one per point, on a zero-based axis; an empty series draws the axes alone."""
    top = nice_ceiling(max((p.value for p in points), default=0))
    plot_w, plot_h = WIDTH - PAD_LEFT - PAD_RIGHT, HEIGHT - PAD_TOP - PAD_BOTTOM
    slot = plot_w / max(len(points), 1)
    body, centres = [], []
    for i, p in enumerate(points):
        h = plot_h * max(p.value, 0) / top
        x = PAD_LEFT + i * slot
        centres.append(x + slot / 2)
        body.append(
            f'<rect class="bar" x="{x + slot * 0.1:.1f}" y="{PAD_TOP + plot_h - h:.1f}" '
            f'width="{slot * 0.8:.1f}" height="{h:.1f}"><title>{escape(p.label)}: {p.value:g}</title></rect>'
        )
    return _frame(title, body + _x_labels(points, centres), top)


def line_chart(title: str, points: Sequence[Point]) -> str:
    """A polyline through the points (a single point: a dot)."""
    top = nice_ceiling(max((p.value for p in points), default=0))
    plot_w, plot_h = WIDTH - PAD_LEFT - PAD_RIGHT, HEIGHT - PAD_TOP - PAD_BOTTOM
    step = plot_w / max(len(points) - 1, 1)
    xs = [PAD_LEFT + i * step for i in range(len(points))]
    ys = [PAD_TOP + plot_h - plot_h * max(p.value, 0) / top for p in points]
    body = []
    if len(points) > 1:
        coords = " ".join(f"{x:.1f},{y:.1f}" for x, y in zip(xs, ys, strict=True))
        body.append(f'<polyline class="line" points="{coords}"/>')
    body += [
        f'<circle class="dot" cx="{x:.1f}" cy="{y:.1f}" r="3"><title>{escape(p.label)}: {p.value:g}</title></circle>'
        for p, x, y in zip(points, xs, ys, strict=True)
    ]
    return _frame(title, body + _x_labels(points, xs), top)
