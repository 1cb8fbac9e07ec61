"""Server-side SVG charts: pure functions from series to markup (no script, no outside request).

The markup uses presentation attributes only (no `style`), so it renders under the service's
Content-Security-Policy (`style-src 'self'`). Every text is escaped; labels come translated from
the caller. Each series is a `<path class="series" data-series="KEY" d="M… L…">`, which the tests
read back.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from html import escape

FONT = "system-ui, -apple-system, 'Hiragino Sans', 'Noto Sans JP', sans-serif"


@dataclass(frozen=True, slots=True)
class Series:
    key: str  # a short identifier ([a-z_]), used in attributes
    label: str  # shown in the legend
    values: Sequence[float]
    color: str  # "#rrggbb"
    area: bool = False  # fill under the line


def nice_ceiling(value: float) -> float:
    """The smallest of 1, 2, 2.5, 5 x 10^k that is >= value (1 for nothing to show)."""
    if not value or value <= 0 or not math.isfinite(value):
        return 1.0
    exp = 10.0 ** math.floor(math.log10(value))
    for m in (1.0, 2.0, 2.5, 5.0, 10.0):
        if value <= m * exp * (1 + 1e-9):
            return m * exp
    return 10.0 * exp


def _num(v: float) -> str:
    return f"{v:.1f}".rstrip("0").rstrip(".") if v != int(v) else str(int(v))


def _tick_label(v: float, top: float) -> str:
    if top >= 10 or v == int(v):
        return f"{v:,.0f}" if top >= 10 else _num(v)
    return f"{v:.2f}".rstrip("0").rstrip(".")


def line_chart(
    *,
    series: Sequence[Series],
    starts: Sequence[datetime],
    title: str,
    y_label: str,
    x_format: str = "%H:%M",
    width: int = 900,
    height: int = 320,
    chart_id: str = "chart",
) -> str:
    """A time-series line chart: x = `starts` (one per value), y from 0 to a rounded maximum,
    gridlines with labels, a legend, and a title for screen readers."""
    n = len(starts)
    if any(len(s.values) != n for s in series):
        raise ValueError("every series needs one value per start")
    left, right, top, bottom = 60, 16, 40, 40
    plot_w, plot_h = width - left - right, height - top - bottom
    peak = max((max(s.values, default=0.0) for s in series), default=0.0)
    y_max = nice_ceiling(peak)

    def x(i: int) -> float:
        return left + (plot_w * i / (n - 1) if n > 1 else plot_w / 2)

    def y(v: float) -> float:
        return top + plot_h - plot_h * (max(0.0, v) / y_max)

    title_id = f"{chart_id}-title"
    out: list[str] = [
        f'<svg xmlns="http://www.w3.org/2000/svg" class="chart" id="{escape(chart_id)}" '
        f'viewBox="0 0 {width} {height}" width="100%" role="img" '
        f'aria-labelledby="{escape(title_id)}" font-family="{escape(FONT)}" font-size="12">',
        f'<title id="{escape(title_id)}">{escape(title)}</title>',
        f'<rect x="0" y="0" width="{width}" height="{height}" fill="#ffffff"/>',
    ]
    # y axis: gridlines and labels
    ticks = 4
    for k in range(ticks + 1):
        v = y_max * k / ticks
        yy = y(v)
        out.append(
            f'<line class="grid" x1="{left}" y1="{yy:.1f}" x2="{width - right}" y2="{yy:.1f}" '
            f'stroke="{"#b8c0cc" if k == 0 else "#e6e9ef"}" stroke-width="1"/>'
        )
        out.append(
            f'<text x="{left - 6}" y="{yy + 4:.1f}" text-anchor="end" fill="#5b6475">'
            f"{escape(_tick_label(v, y_max))}</text>"
        )
    out.append(
        f'<text x="14" y="{top + plot_h / 2:.1f}" text-anchor="middle" fill="#5b6475" '
        f'transform="rotate(-90 14 {top + plot_h / 2:.1f})">{escape(y_label)}</text>'
    )
    # x axis: about 6 labels
    if n:
        step = max(1, math.ceil(n / 6))
        for i in range(0, n, step):
            xx = x(i)
            out.append(
                f'<line x1="{xx:.1f}" y1="{top + plot_h}" x2="{xx:.1f}" y2="{top + plot_h + 4}" '
                f'stroke="#b8c0cc"/>'
            )
            out.append(
                f'<text x="{xx:.1f}" y="{top + plot_h + 18}" text-anchor="middle" '
                f'fill="#5b6475">{escape(starts[i].strftime(x_format))}</text>'
            )
    # series: areas first, then lines on top
    for s in series:
        if not n:
            continue
        points = " L".join(f"{x(i):.1f} {y(v):.1f}" for i, v in enumerate(s.values))
        if s.area:
            base = f"{top + plot_h:.1f}"
            out.append(
                f'<path class="area" data-series="{escape(s.key)}" '
                f'd="M{x(0):.1f} {base} L{points} L{x(n - 1):.1f} {base} Z" '
                f'fill="{escape(s.color)}" fill-opacity="0.12" stroke="none"/>'
            )
    for s in series:
        if not n:
            continue
        points = " L".join(f"{x(i):.1f} {y(v):.1f}" for i, v in enumerate(s.values))
        out.append(
            f'<path class="series" data-series="{escape(s.key)}" d="M{points}" fill="none" '
            f'stroke="{escape(s.color)}" stroke-width="2" stroke-linejoin="round" '
            f'stroke-linecap="round"><title>{escape(s.label)}</title></path>'
        )
    # legend along the top
    lx = left
    for s in series:
        out.append(
            f'<g class="legend" data-series="{escape(s.key)}">'
            f'<rect x="{lx}" y="12" width="12" height="12" rx="2" fill="{escape(s.color)}"/>'
            f'<text x="{lx + 17}" y="22" fill="#1d2330">{escape(s.label)}</text></g>'
        )
        lx += 30 + 8 * len(s.label) + 7 * sum(1 for ch in s.label if ord(ch) > 0x2E7F)
    out.append("</svg>")
    return "".join(out)
