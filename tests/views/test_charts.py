"""Inline SVG charts: one mark per datum, tooltips, labels escaped, empty data drawn as such."""
from __future__ import annotations

import re
import xml.etree.ElementTree as ET

from beampipe.views import charts

EVIL = "<script>alert(1)</script>"


def _parse(svg: str) -> ET.Element:
    return ET.fromstring(svg)  # well-formed XML: every text escaped


def test_histogram_bars_and_tooltips():
    svg = charts.histogram([(0, 1, 3), (1, 2, 5), (2, 3, 0)], f"hist {EVIL}", EVIL)
    root = _parse(svg)
    rects = root.findall("rect")
    assert len(rects) == 3 and [r.find("title").text for r in rects] == ["[0, 1]: 3", "[1, 2]: 5", "[2, 3]: 0"]
    assert "<script>" not in svg and "&lt;script&gt;" in svg
    assert root.get("aria-label") == f"hist {EVIL}"  # attribute escaped, value intact


def test_bar_chart_one_bar_per_value_in_order():
    svg = charts.bar_chart([(EVIL, 10), ("b", 5)], "top")
    root = _parse(svg)
    groups = root.findall("g")
    assert [g.find("title").text for g in groups] == [f"{EVIL}: 10", "b: 5"]
    widths = [float(g.find("rect").get("width")) for g in groups]
    assert widths[0] > widths[1] > 0


def test_line_chart_series_and_reference_diagonal():
    svg = charts.line_chart([charts.Series("a", [(0, 0), (0.5, 0.8), (1, 1)]), charts.Series(EVIL, [(0, 0.2)])],
                            "ROC", "fpr", "tpr", x_range=(0, 1), y_range=(0, 1), diagonal=True)
    root = _parse(svg)
    assert len(root.findall("polyline")) == 2 and len(root.findall("circle")) == 4
    assert root.find("line[@stroke-dasharray]") is not None
    assert "<script>" not in svg


def test_heatmap_table_shades_and_escapes():
    html = charts.heatmap_table(["0", EVIL], ["0", EVIL], [[5, 1], [0, 7]], "confusion", "actual", "predicted")
    assert len(re.findall(r"<td ", html)) == 4 and "<script>" not in html
    assert 'title="actual 0, predicted 0: 5"' in html


def test_empty_data_says_so():
    for svg in (charts.histogram([], "h", "x"), charts.bar_chart([], "b"),
                charts.line_chart([charts.Series("s", [])], "l", "x", "y")):
        assert "no data" in svg and _parse(svg) is not None


def test_fmt():
    assert charts.fmt(3.0) == "3" and charts.fmt(0.123456) == "0.1235" and charts.fmt(None) == "–"
    assert charts.fmt(float("nan")) == "–" and charts.fmt(float("inf")) == "∞"
