"""Stand-alone HTML reports for statistics, anomalies and evaluations, readable in a browser
without Jupyter.

Each page has a plain HTML table (works offline) and, for statistics, TFDV's own
Facets Overview view (needs the internet to load its web components).
"""
from __future__ import annotations

import html
from typing import Any

from beampipe.metadata.artifacts import ModelBlessing

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


_EVAL_STYLE = """body{font-family:sans-serif;margin:2em}table{border-collapse:collapse}
td,th{border:1px solid #ccc;padding:4px 8px;text-align:right}th{background:#f0f0f0}
td.s{text-align:left}.ok{color:#060}.bad{color:#a00}.d{color:#555;font-size:90%}"""


def evaluation_html(metrics: dict, config: Any, blessed: bool, message: str, model_uri: str,
                    baseline_uri: str | None) -> str:
    """Evaluator's page: verdict, then a slice x metric table, baseline beside candidate.

    ``metrics`` is slice name -> {(metric, model name, is_diff): value}.
    """
    names = sorted({m for row in metrics.values() for (m, _, diff) in row if not diff})
    has_baseline = baseline_uri is not None
    head = "".join(f"<th colspan='3'>{html.escape(n)}</th>" if has_baseline else
                   f"<th>{html.escape(n)}</th>" for n in names)
    sub = ("<tr><th></th>" + "<th>candidate</th><th>baseline</th><th>diff</th>" * len(names)
           + "</tr>") if has_baseline else ""
    rows = []
    ordered = sorted(metrics, key=lambda s: (s != "Overall", s))
    for slice_name in ordered:
        row = metrics[slice_name]
        cells = []
        for name in names:
            cand = _metric(row, name, ("", "candidate"), False)
            if has_baseline:
                base = _metric(row, name, ("baseline",), False)
                diff = _metric(row, name, ("", "candidate"), True)
                cells += [_cell(cand), _cell(base), f"<span class='d'>{_cell(diff)}</span>"]
            else:
                cells.append(_cell(cand))
        rows.append(f"<tr><td class='s'>{html.escape(slice_name)}</td>"
                    + "".join(f"<td>{c}</td>" for c in cells) + "</tr>")
    # The verdict reads as the marker file the blessing holds (BLESSED / NOT_BLESSED).
    word = ModelBlessing.BLESSED_FILE if blessed else ModelBlessing.NOT_BLESSED_FILE
    verdict = (f"<p class='{'ok' if blessed else 'bad'}'><b>{word}</b>"
               f" &mdash; {html.escape(message)}</p>")
    models = f"<p>candidate: <code>{html.escape(model_uri)}</code>"
    if baseline_uri:
        models += f"<br>baseline: <code>{html.escape(baseline_uri)}</code>"
    models += "</p>"
    from google.protobuf import json_format
    cfg = html.escape(json_format.MessageToJson(config, indent=1, sort_keys=True))
    return (f"<!doctype html><html><head><meta charset='utf-8'><title>Evaluation</title>"
            f"<style>{_EVAL_STYLE}</style></head><body><h1>Model evaluation</h1>{verdict}{models}"
            f"<table><tr><th>slice</th>{head}</tr>{sub}{''.join(rows)}</table>"
            f"<h2>EvalConfig</h2><pre>{cfg}</pre></body></html>")


def _metric(row: dict, name: str, models: tuple[str, ...], diff: bool) -> float | None:
    for model in models:
        if (name, model, diff) in row:
            return row[(name, model, diff)]
    return None


def _cell(value: float | None) -> str:
    return "&ndash;" if value is None else f"{value:.4g}"
