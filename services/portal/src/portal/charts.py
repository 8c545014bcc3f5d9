"""Charts as SVG rendered on the server: no JavaScript, and each chart has a title and a
description for screen readers (pages also give the figures as a table)."""

from __future__ import annotations

from collections.abc import Sequence
from html import escape

from markupsafe import Markup


def _fmt(value: float) -> str:
    return f"{value:.1f}".rstrip("0").rstrip(".") if value != int(value) else str(int(value))


def _svg_open(chart_id: str, title: str, width: int, height: int) -> str:
    ident = escape(chart_id)
    return (
        f'<svg class="app-chart" id="{ident}" role="img" aria-labelledby="{ident}-title" '
        f'viewBox="0 0 {width} {height}" width="{width}" height="{height}" xmlns="http://www.w3.org/2000/svg">'
        f'<title id="{ident}-title">{escape(title)}</title>'
    )


def bar_chart(chart_id: str, title: str, rows: Sequence[tuple[str, float | None]], unit: str = "%") -> Markup:
    """Horizontal bars, one per label; a missing value is drawn as 'no data'."""
    label_width, bar_width, row_height, pad = 170, 380, 28, 8
    height = pad * 2 + row_height * max(len(rows), 1)
    top = max([v for _, v in rows if v is not None] + [1.0])
    parts = [
        _svg_open(chart_id, title, label_width + bar_width + 80, height),
    ]
    for index, (label, value) in enumerate(rows):
        y = pad + index * row_height
        parts.append(f'<text x="{label_width - 8}" y="{y + 18}" text-anchor="end">{escape(label)}</text>')
        if value is None:
            parts.append(f'<text x="{label_width + 4}" y="{y + 18}">no data</text>')
            continue
        width = max(1.0, bar_width * value / top)
        parts.append(
            f'<rect class="app-chart__bar" x="{label_width}" y="{y + 4}" '
            f'width="{width:.1f}" height="{row_height - 8}"/>'
        )
        parts.append(
            f'<text x="{label_width + width + 6:.1f}" y="{y + 18}">{_fmt(value)}{escape(unit)}</text>'
        )
    axis = f'x1="{label_width}" y1="{pad}" x2="{label_width}" y2="{height - pad}"'
    parts.append(f'<line class="app-chart__axis" {axis}/>')
    parts.append("</svg>")
    return Markup("".join(parts))  # noqa: S704 - every interpolated text is escaped above


def line_chart(
    chart_id: str, title: str, points: Sequence[tuple[str, float | None]], unit: str = "%"
) -> Markup:
    """A line over periods (gaps where a period has no data), with the values labelled."""
    width, height, left, right, top_pad, bottom = 640, 200, 50, 50, 24, 40
    values = [v for _, v in points if v is not None]
    low = min([*values, 0.0]) if values else 0.0
    high = max([*values, 1.0]) if values else 1.0
    if high == low:
        high = low + 1
    step = (width - left - right) / max(len(points) - 1, 1)

    def xy(index: int, value: float) -> tuple[float, float]:
        y = top_pad + (height - top_pad - bottom) * (1 - (value - low) / (high - low))
        return left + index * step, y

    parts = [
        _svg_open(chart_id, title, width, height),
        f'<line class="app-chart__axis" x1="{left}" y1="{height - bottom}" '
        f'x2="{width - right}" y2="{height - bottom}"/>',
    ]
    segment: list[str] = []
    for index, (label, value) in enumerate(points):
        x = left + index * step
        parts.append(
            f'<text x="{x:.1f}" y="{height - bottom + 20}" text-anchor="middle">{escape(label)}</text>'
        )
        if value is None:
            if len(segment) > 1:
                parts.append(f'<polyline class="app-chart__line" points="{" ".join(segment)}"/>')
            segment = []
            continue
        px, py = xy(index, value)
        segment.append(f"{px:.1f},{py:.1f}")
        parts.append(f'<circle cx="{px:.1f}" cy="{py:.1f}" r="4" class="app-chart__bar"/>')
        parts.append(
            f'<text x="{px:.1f}" y="{py - 10:.1f}" text-anchor="middle">{_fmt(value)}{escape(unit)}</text>'
        )
    if len(segment) > 1:
        parts.append(f'<polyline class="app-chart__line" points="{" ".join(segment)}"/>')
    parts.append("</svg>")
    return Markup("".join(parts))  # noqa: S704 - every interpolated text is escaped above
