"""Server-rendered SVG bar charts for the finance pages (issue 15 §4): pure functions from points to
markup, no script (the CSP allows none inline) and no library. Labels are escaped; each chart has a
<title> and an aria-label, and the page shows the same figures as a table for screen readers."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from html import escape

Point = tuple[str, int]
WIDTH, HEIGHT, PAD, AXIS = 640, 220, 8, 20


def _money(cents: int) -> str:
    return f"{cents / 100:,.2f}"


def columns(points: Sequence[Point], title: str, fmt: Callable[[int], str] = _money) -> str:
    """Vertical bars left to right (a series by day); an empty chart says so."""
    if not points:
        return _empty(title)
    top = max(v for _, v in points) or 1
    step = (WIDTH - 2 * PAD) / len(points)
    bar = max(step * 0.8, 1.0)
    parts = []
    for i, (label, value) in enumerate(points):
        h = (HEIGHT - AXIS - PAD) * value / top
        x, y = PAD + i * step + (step - bar) / 2, HEIGHT - AXIS - h
        parts.append(f'<rect class="bar" x="{x:.1f}" y="{y:.1f}" width="{bar:.1f}" height="{h:.1f}">'
                     f"<title>{escape(label)}: {escape(fmt(value))}</title></rect>")  # fmt: skip
    first, last = escape(points[0][0]), escape(points[-1][0])
    parts.append(f'<text x="{PAD}" y="{HEIGHT - 5}" class="axis">{first}</text>')
    if len(points) > 1:
        parts.append(f'<text x="{WIDTH - PAD}" y="{HEIGHT - 5}" class="axis" text-anchor="end">{last}</text>')
    parts.append(f'<text x="{PAD}" y="14" class="axis">max {escape(fmt(top))}</text>')
    return _svg(title, "".join(parts), HEIGHT)


def bars(points: Sequence[Point], title: str, fmt: Callable[[int], str] = _money) -> str:
    """Horizontal bars, largest first as given (a breakdown by country or package)."""
    if not points:
        return _empty(title)
    row, label_w = 24, 150
    height = PAD * 2 + row * len(points)
    top = max(v for _, v in points) or 1
    parts = []
    for i, (label, value) in enumerate(points):
        y = PAD + i * row
        w = (WIDTH - label_w - 110) * value / top
        parts.append(f'<text x="{label_w - 6}" y="{y + 16}" class="axis" text-anchor="end">{escape(label[:22])}</text>'
                     f'<rect class="bar" x="{label_w}" y="{y + 3}" width="{w:.1f}" height="{row - 6}">'
                     f"<title>{escape(label)}: {escape(fmt(value))}</title></rect>"
                     f'<text x="{label_w + w + 6:.1f}" y="{y + 16}" class="axis">{escape(fmt(value))}</text>'
                     )  # fmt: skip
    return _svg(title, "".join(parts), height)


def _svg(title: str, body: str, height: int) -> str:
    t = escape(title)
    return (f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {WIDTH} {height}" role="img" '
            f'aria-label="{t}"><title>{t}</title>{body}</svg>')  # fmt: skip


def _empty(title: str) -> str:
    return _svg(title, f'<text x="{PAD}" y="30" class="axis">No data for this period.</text>', 50)
