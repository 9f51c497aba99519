"""Stand-alone HTML reports for statistics and anomalies, readable in a browser without Jupyter.

Each page has a plain HTML table (works offline) and, for statistics, TFDV's own
Facets Overview view (needs the internet to load its web components).
"""
from __future__ import annotations

import html
from typing import Any

_STYLE = ("<style>body{font-family:sans-serif;margin:1.5em}table{border-collapse:collapse}"
          "td,th{border:1px solid #ccc;padding:3px 8px;text-align:right}"
          "td:first-child,th:first-child{text-align:left}.bad{color:#b00}</style>")


def _page(title: str, body: str) -> str:
    return (f"<!DOCTYPE html><html><head><meta charset='utf-8'><title>{html.escape(title)}</title>"
            f"{_STYLE}</head><body><h1>{html.escape(title)}</h1>{body}</body></html>\n")


def _table(headers: list[str], rows: list[list[Any]]) -> str:
    head = "".join(f"<th>{html.escape(h)}</th>" for h in headers)
    body = "".join("<tr>" + "".join(f"<td>{html.escape(str(c))}</td>" for c in row) + "</tr>" for row in rows)
    return f"<table><tr>{head}</tr>{body}</table>"


def _fmt(x: float) -> str:
    return f"{x:.4g}"


def feature_rows(stats: Any) -> list[list[Any]]:
    """One summary row per feature of the first dataset: type, count, missing, numbers or top values."""
    rows: list[list[Any]] = []
    if not stats.datasets:
        return rows
    dataset = stats.datasets[0]
    total = dataset.num_examples
    for feat in dataset.features:
        name = ".".join(feat.path.step) or feat.name
        kind = feat.WhichOneof("stats")
        from tensorflow_metadata.proto.v0 import statistics_pb2
        type_name = statistics_pb2.FeatureNameStatistics.Type.Name(feat.type)
        if kind == "num_stats":
            s = feat.num_stats
            common, detail = s.common_stats, (f"mean {_fmt(s.mean)}, std {_fmt(s.std_dev)}, "
                                              f"min {_fmt(s.min)}, max {_fmt(s.max)}, zeros {s.num_zeros}")
        elif kind == "string_stats":
            s = feat.string_stats
            top = ", ".join(f"{v.value}: {int(v.frequency)}" for v in s.top_values[:5])
            common, detail = s.common_stats, f"{s.unique} unique; top {top}"
        else:
            continue
        present = common.num_non_missing
        missing = common.num_missing
        pct = f"{100.0 * missing / total:.1f}%" if total else "-"
        rows.append([name, type_name, present, f"{missing} ({pct})", detail])
    return rows


def statistics_html(stats: Any, split: str) -> str:
    from tensorflow_data_validation.utils import display_util
    total = stats.datasets[0].num_examples if stats.datasets else 0
    table = _table(["feature", "type", "present", "missing", "summary"], feature_rows(stats))
    facets = display_util.get_statistics_html(stats, lhs_name=split)
    body = (f"<p>Split <b>{html.escape(split)}</b>: {total} examples.</p>{table}"
            f"<h2>Facets Overview</h2><p>(loads Facets from the internet)</p>{facets}")
    return _page(f"Statistics: {split}", body)


def anomalies_html(anomalies: Any, split: str) -> str:
    rows = []
    for name, info in sorted(anomalies.anomaly_info.items()):
        rows.append([name, info.short_description, info.description])
    if anomalies.HasField("dataset_anomaly_info"):
        info = anomalies.dataset_anomaly_info
        rows.append(["(dataset)", info.short_description, info.description])
    for name, drift in _drift_rows(anomalies):
        rows.append([name, "drift/skew measurement", drift])
    if rows:
        body = (f"<p class='bad'>Split <b>{html.escape(split)}</b>: {len(anomalies.anomaly_info)} "
                f"anomalous feature(s).</p>" + _table(["feature", "anomaly", "description"], rows))
    else:
        body = f"<p>Split <b>{html.escape(split)}</b>: no anomalies found.</p>"
    return _page(f"Anomalies: {split}", body)


def _drift_rows(anomalies: Any) -> list[tuple[str, str]]:
    out = []
    for info in getattr(anomalies, "drift_skew_info", []):
        name = ".".join(info.path.step)
        for m in list(info.drift_measurements) + list(info.skew_measurements):
            out.append((name, f"{m.Type.Name(m.type)} = {m.value:.4g} (threshold {m.threshold:.4g})"))
    return out
