"""Charts as inline SVG strings, drawn in Python: histogram, bar chart, line chart, heat-map table.

Why no JavaScript charting library: the same charts go into the web UI and into the static
``report.html`` files an executor writes, which must open offline from a file (no CDN, no
bundle to ship beside them). Inline SVG is a few hundred bytes per chart, prints, and needs
nothing at run time (no ``xmlns`` either: inline SVG in HTML needs none, and a report then
holds no ``http`` string at all). Every text (titles, axis labels, category names, the ``<title>``
tooltips) is escaped here, so a feature named ``<script>`` stays text inside the SVG too.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Sequence

from markupsafe import Markup, escape

PALETTE = ("#4269d0", "#ef8a3a", "#3ca951", "#ff725c", "#a463f2", "#97bbf5", "#9c6b4e", "#6cc5b0")
_AXIS = "#555"
_GRID = "#e4e4e4"


def fmt(value: float | None) -> str:
    """A number as a chart or table shows it: 4 significant digits, ints without '.0'."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "–"
    if isinstance(value, float) and math.isinf(value):
        return "∞" if value > 0 else "-∞"
    if float(value).is_integer() and abs(value) < 1e15:
        return str(int(value))
    return f"{value:.4g}"


def _svg(width: int, height: int, title: str, body: list[str]) -> Markup:
    return Markup(
        f'<svg class="chart" width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}" role="img" aria-label="{escape(title)}" '
        f'font-family="sans-serif" font-size="10"><title>{escape(title)}</title>{"".join(body)}</svg>')


def _text(x: float, y: float, text: str, anchor: str = "middle", size: int = 10, extra: str = "") -> str:
    return (f'<text x="{x:.1f}" y="{y:.1f}" text-anchor="{anchor}" font-size="{size}" fill="{_AXIS}"'
            f'{extra}>{escape(text)}</text>')


def _ticks(lo: float, hi: float, count: int = 4) -> list[float]:
    """Round tick values covering [lo, hi] (the 1-2-5 rule)."""
    if hi <= lo:
        return [lo]
    raw = (hi - lo) / count
    mag = 10 ** math.floor(math.log10(raw))
    step = next(m * mag for m in (1, 2, 5, 10) if m * mag >= raw)
    first = math.ceil(lo / step) * step
    return [first + i * step for i in range(int((hi - first) / step + 1e-9) + 1)]


def histogram(buckets: Sequence[tuple[float, float, float]], title: str, x_label: str,
              y_label: str = "count", width: int = 290, height: int = 170, color: str = PALETTE[0]) -> Markup:
    """Bars over ``(low, high, count)`` buckets, x to scale (TFDV's standard histograms have
    equal-width buckets; quantile ones do not, and still draw right)."""
    m = {"l": 44, "r": 10, "t": 20, "b": 32}
    pw, ph = width - m["l"] - m["r"], height - m["t"] - m["b"]
    body = [_text(width / 2, 13, title, size=11)]
    if not buckets:
        return _svg(width, height, title, body + [_text(width / 2, height / 2, "no data")])
    lo, hi = min(b[0] for b in buckets), max(b[1] for b in buckets)
    top = max(b[2] for b in buckets) or 1.0
    span = (hi - lo) or 1.0

    def x(v: float) -> float:
        return m["l"] + (v - lo) / span * pw if hi > lo else m["l"] + pw / 2

    def y(v: float) -> float:
        return m["t"] + ph - v / top * ph

    body += _y_axis(0.0, top, y, m["l"], width - m["r"])
    for low, high, count in buckets:
        x0, x1 = x(low), x(high)
        w = max(x1 - x0 - 1, 1.5)
        tip = f"[{fmt(low)}, {fmt(high)}]: {fmt(count)}"
        body.append(f'<rect x="{x0:.1f}" y="{y(count):.1f}" width="{w:.1f}" height="{ph - (y(count) - m["t"]):.1f}"'
                    f' fill="{color}"><title>{escape(tip)}</title></rect>')
    base = m["t"] + ph
    body.append(f'<line x1="{m["l"]}" y1="{base}" x2="{width - m["r"]}" y2="{base}" stroke="{_AXIS}"/>')
    body.append(_text(m["l"], base + 12, fmt(lo), anchor="start"))
    body.append(_text(width - m["r"], base + 12, fmt(hi), anchor="end"))
    body.append(_text(m["l"] + pw / 2, height - 4, x_label))
    body.append(_text(10, m["t"] + ph / 2, y_label, extra=f' transform="rotate(-90 10 {m["t"] + ph / 2:.1f})"'))
    return _svg(width, height, title, body)


def _y_axis(lo: float, hi: float, y: object, left: float, right: float) -> list[str]:
    out = []
    for tick in _ticks(lo, hi):
        ty = y(tick)  # type: ignore[operator]
        out.append(f'<line x1="{left}" y1="{ty:.1f}" x2="{right}" y2="{ty:.1f}" stroke="{_GRID}"/>')
        out.append(_text(left - 3, ty + 3, fmt(round(tick, 10)), anchor="end"))
    return out


def bar_chart(items: Sequence[tuple[str, float]], title: str, x_label: str = "count",
              width: int = 290, color: str = PALETTE[1], bar_height: int = 16) -> Markup:
    """Horizontal bars, one per (label, value), in the order given (top values: most frequent first)."""
    label_w = min(130, 12 + 6 * max((len(label) for label, _ in items), default=4))
    m = {"l": label_w, "r": 46, "t": 20, "b": 24}
    height = m["t"] + m["b"] + max(len(items), 1) * (bar_height + 3)
    pw = width - m["l"] - m["r"]
    body = [_text(width / 2, 13, title, size=11)]
    if not items:
        return _svg(width, height, title, body + [_text(width / 2, height / 2, "no data")])
    top = max(v for _, v in items) or 1.0
    for i, (label, value) in enumerate(items):
        y0 = m["t"] + i * (bar_height + 3)
        w = max(value / top * pw, 1.0)
        shown = label if len(label) <= 20 else label[:19] + "…"
        body.append(f'<g><title>{escape(label)}: {escape(fmt(value))}</title>'
                    f'{_text(m["l"] - 4, y0 + bar_height - 4, shown, anchor="end")}'
                    f'<rect x="{m["l"]}" y="{y0}" width="{w:.1f}" height="{bar_height}" fill="{color}"/>'
                    f'{_text(m["l"] + w + 3, y0 + bar_height - 4, fmt(value), anchor="start")}</g>')
    body.append(_text(m["l"] + pw / 2, height - 6, x_label))
    return _svg(width, height, title, body)


@dataclass
class Series:
    """One line of a line chart: a name for the legend and (x, y) points in order."""

    name: str
    points: list[tuple[float, float]] = field(default_factory=list)


def line_chart(series: Sequence[Series], title: str, x_label: str, y_label: str,
               x_range: tuple[float, float] | None = None, y_range: tuple[float, float] | None = None,
               diagonal: bool = False, width: int = 340, height: int = 260) -> Markup:
    """Lines with markers carrying ``<title>`` tooltips (ROC, PR, calibration). ``diagonal``
    draws y = x, the reference of a ROC or a calibration plot."""
    m = {"l": 46, "r": 12, "t": 22, "b": 42 + 14 * ((len(series) + 2) // 3)}
    pw, ph = width - m["l"] - m["r"], height - m["t"] - m["b"]
    body = [_text(width / 2, 14, title, size=11)]
    pts = [p for s in series for p in s.points if all(math.isfinite(v) for v in p)]
    if not pts:
        return _svg(width, height, title, body + [_text(width / 2, height / 2, "no data")])
    x0, x1 = x_range or (min(p[0] for p in pts), max(p[0] for p in pts))
    y0, y1 = y_range or (min(p[1] for p in pts), max(p[1] for p in pts))
    x1, y1 = (x1 if x1 > x0 else x0 + 1), (y1 if y1 > y0 else y0 + 1)

    def sx(v: float) -> float:
        return m["l"] + (v - x0) / (x1 - x0) * pw

    def sy(v: float) -> float:
        return m["t"] + ph - (v - y0) / (y1 - y0) * ph

    body += _y_axis(y0, y1, sy, m["l"], width - m["r"])
    base = m["t"] + ph
    for tick in _ticks(x0, x1):
        body.append(_text(sx(tick), base + 12, fmt(round(tick, 10))))
    body.append(f'<line x1="{m["l"]}" y1="{base}" x2="{width - m["r"]}" y2="{base}" stroke="{_AXIS}"/>')
    if diagonal:
        lo, hi = max(x0, y0), min(x1, y1)
        body.append(f'<line x1="{sx(lo):.1f}" y1="{sy(lo):.1f}" x2="{sx(hi):.1f}" y2="{sy(hi):.1f}" '
                    f'stroke="#999" stroke-dasharray="4 3"/>')
    for i, s in enumerate(series):
        color = PALETTE[i % len(PALETTE)]
        good = [p for p in s.points if all(math.isfinite(v) for v in p)]
        path = " ".join(f"{sx(px):.1f},{sy(py):.1f}" for px, py in good)
        body.append(f'<polyline points="{path}" fill="none" stroke="{color}" stroke-width="1.5"/>')
        step = max(1, len(good) // 40)  # tooltips on at most ~40 markers per line
        for px, py in good[::step]:
            tip = f"{s.name}: {x_label} {fmt(px)}, {y_label} {fmt(py)}"
            body.append(f'<circle cx="{sx(px):.1f}" cy="{sy(py):.1f}" r="2.2" fill="{color}">'
                        f'<title>{escape(tip)}</title></circle>')
        lx, ly = m["l"] + (i % 3) * (pw / 3), base + 44 + 14 * (i // 3)
        body.append(f'<rect x="{lx:.1f}" y="{ly - 8}" width="10" height="3" fill="{color}"/>'
                    + _text(lx + 13, ly - 4, s.name[:28], anchor="start"))
    body.append(_text(m["l"] + pw / 2, base + 27, x_label))
    body.append(_text(11, m["t"] + ph / 2, y_label, extra=f' transform="rotate(-90 11 {m["t"] + ph / 2:.1f})"'))
    return _svg(width, height, title, body)


def heatmap_table(row_labels: Sequence[str], col_labels: Sequence[str], values: Sequence[Sequence[float]],
                  title: str, row_axis: str, col_axis: str) -> Markup:
    """A table whose cells are shaded by value (a confusion matrix): exact numbers stay
    readable and copyable, which an SVG grid would not give; ``title`` attributes are tooltips."""
    top = max((v for row in values for v in row), default=0.0) or 1.0
    head = "".join(f"<th>{escape(c)}</th>" for c in col_labels)
    rows = []
    for label, row in zip(row_labels, values):
        cells = []
        for col, v in zip(col_labels, row):
            alpha = 0.08 + 0.8 * (v / top)
            ink = "#fff" if alpha > 0.55 else "#111"
            cells.append(f'<td style="background:rgba(66,105,208,{alpha:.2f});color:{ink}" '
                         f'title="{escape(row_axis)} {escape(label)}, {escape(col_axis)} {escape(col)}: '
                         f'{escape(fmt(v))}">{escape(fmt(v))}</td>')
        rows.append(f"<tr><th>{escape(label)}</th>{''.join(cells)}</tr>")
    return Markup(f'<table class="heatmap"><caption>{escape(title)}</caption>'
                  f'<tr><th>{escape(row_axis)} \\ {escape(col_axis)}</th>{head}</tr>{"".join(rows)}</table>')
