"""ExampleStatistics: per-feature histograms and top values, splits side by side, drift marked.

Reads ``Split-<name>/FeatureStats.pb`` (TFDV's DatasetFeatureStatisticsList) with the
``tensorflow_metadata`` protos, which import protobuf only: no TFDV, no TensorFlow.
Within one artifact the first split (``train`` when there is one) is the base every other
split is compared with (train vs eval skew); with ``compare_to`` each split is compared with
the same split of the other artifact (span N vs N-1), and those columns are shown beside.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from markupsafe import Markup

from beampipe.metadata.artifacts import Artifact, ExampleStatistics
from beampipe.views import charts
from beampipe.views import drift as driftlib
from beampipe.views._common import ViewError, note, read_bytes, render, splits_of, table

TOP_VALUES = 10


def load(artifact: Artifact, split: str) -> Any:
    """One split's DatasetFeatureStatisticsList."""
    from tensorflow_metadata.proto.v0 import statistics_pb2
    from beampipe.metadata import layout
    data = read_bytes(artifact, layout.split_dir_name(split), ExampleStatistics.STATS_FILE)
    try:
        return statistics_pb2.DatasetFeatureStatisticsList.FromString(data)
    except Exception as err:  # noqa: BLE001 - a corrupt file is a note on the page
        raise ViewError(f"{split}: not a DatasetFeatureStatisticsList ({err})") from None


def feature_name(feature: Any) -> str:
    return ".".join(feature.path.step) or feature.name


def _type_name(feature: Any) -> str:
    from tensorflow_metadata.proto.v0 import statistics_pb2
    return statistics_pb2.FeatureNameStatistics.Type.Name(feature.type)


@dataclass
class Column:
    """One split of one statistics artifact: a column of the side-by-side view."""

    label: str
    num_examples: int
    features: dict[str, Any]  # name -> FeatureNameStatistics


def _columns(artifact: Artifact, splits: list[str], prefix: str = "") -> list[Column]:
    cols = []
    for split in splits:
        stats = load(artifact, split)
        dataset = stats.datasets[0] if stats.datasets else None
        feats = {feature_name(f): f for f in dataset.features} if dataset else {}
        cols.append(Column(prefix + split, int(dataset.num_examples) if dataset else 0, feats))
    return cols


def _common(feature: Any) -> Any:
    kind = feature.WhichOneof("stats")
    return getattr(feature, kind).common_stats if kind in ("num_stats", "string_stats", "bytes_stats") else None


def _missing_share(feature: Any, total: int) -> float | None:
    common = _common(feature)
    return common.num_missing / total if common is not None and total else None


def _zero_share(feature: Any, total: int) -> float | None:
    if feature.WhichOneof("stats") != "num_stats" or not total:
        return None
    return feature.num_stats.num_zeros / total


def _summary(feature: Any) -> str:
    kind = feature.WhichOneof("stats")
    if kind == "num_stats":
        s = feature.num_stats
        return (f"mean {charts.fmt(s.mean)} · std {charts.fmt(s.std_dev)} · min {charts.fmt(s.min)}"
                f" · median {charts.fmt(s.median)} · max {charts.fmt(s.max)}")
    if kind == "string_stats":
        s = feature.string_stats
        return f"{s.unique} unique · avg length {charts.fmt(s.avg_length)}"
    return ""


def _chart(feature: Any, label: str, name: str) -> Markup:
    kind = feature.WhichOneof("stats")
    if kind == "num_stats":
        return charts.histogram(driftlib.standard_buckets(feature), f"{name} ({label})", name)
    if kind == "string_stats":
        top = [(v.value, v.frequency) for v in feature.string_stats.top_values[:TOP_VALUES]]
        return charts.bar_chart(top, f"{name}: top values ({label})")
    return note(f"no chart for {kind or 'this kind of'} statistics")


def _pairs(cols: list[Column], others: list[Column]) -> list[tuple[Column, Column]]:
    """(base, compared) pairs: each split against the same split of ``others`` when given,
    else every split against the first one."""
    if others:
        by_split = {c.label.split(" ", 1)[-1]: c for c in others}
        return [(by_split.get(c.label, others[0]), c) for c in cols]
    return [(cols[0], c) for c in cols[1:]]


_TEMPLATE = """
<div class="view statistics">
<p>{% for c in cols %}<b>{{ c.label }}</b>: {{ c.num_examples }} examples{% if not loop.last %} · {% endif %}
{% endfor %}</p>
{% if drift_rows %}
<h2>Drift{% if compared %} against {{ compared }}{% else %} between splits{% endif %}</h2>
<p class="note">L-infinity distance for categorical features (threshold {{ linf }}), Jensen-Shannon divergence
for numeric ones (threshold {{ js }}); above the threshold is marked as drift.</p>
<table class="drift-table sortable"><thead><tr><th>feature</th><th>base</th><th>compared</th><th>measure</th>
<th>distance</th><th>threshold</th><th>verdict</th></tr></thead><tbody>
{% for r in drift_rows %}<tr{% if r.drift.drifted %} class="drift"{% endif %}><td>{{ r.name }}</td>
<td>{{ r.base }}</td><td>{{ r.other }}</td><td>{{ r.drift.measure }}</td>
<td class="n" data-v="{{ r.drift.value }}">{{ r.drift.value|num }}</td><td class="n">{{ r.drift.threshold|num }}</td>
<td>{% if r.drift.drifted %}<b class="bad">drift</b>{% else %}<span class="ok">ok</span>{% endif %}</td></tr>
{% endfor %}</tbody></table>
{% endif %}
<h2>Features</h2>
{{ summary }}
{% for f in features %}
<div class="feature" id="feature-{{ loop.index }}"><h3><code>{{ f.name }}</code> <small>{{ f.type }}</small>
{% for d in f.drifts %}{% if d.drifted %} <b class="bad">drift ({{ d.measure }} {{ d.value|num }})</b>{% endif %}{% endfor %}</h3>
<div class="splits">
{% for cell in f.cells %}<div class="split">{{ cell.chart }}
<div class="note">{{ cell.label }}: missing {{ cell.missing|pct }}{% if cell.zeros is not none %} · zeros {{ cell.zeros|pct }}{% endif %}
<br>{{ cell.summary }}</div></div>
{% endfor %}</div></div>
{% endfor %}
{{ sort_script }}
</div>
"""


def render_statistics(artifact: Artifact, compare_to: Artifact | None = None,
                      splits: list[str] | None = None) -> Markup:
    """The statistics view; ``splits`` limits it (a per-split report shows its own split)."""
    from beampipe.views._common import SORT_SCRIPT
    chosen = splits or splits_of(artifact)
    if not chosen:
        return note("this statistics artifact lists no splits")
    cols = _columns(artifact, chosen)
    others: list[Column] = []
    compared = ""
    if compare_to is not None and compare_to.type_name == ExampleStatistics.TYPE_NAME:
        compared = f"{compare_to.type_name} {compare_to.id or compare_to.uri}"
        other_splits = splits_of(compare_to)
        others = _columns(compare_to, [s for s in chosen if s in other_splits] or other_splits[:1],
                          prefix=f"#{compare_to.id} " if compare_to.id is not None else "base ")
    shown = cols + others
    names = sorted({n for c in shown for n in c.features})
    drift_rows, drifts_by_name = [], {}
    for base, other in _pairs(cols, others):
        for name in names:
            if name in base.features and name in other.features:
                d = driftlib.feature_drift(base.features[name], other.features[name])
                if d is not None:
                    drift_rows.append({"name": name, "base": base.label, "other": other.label, "drift": d})
                    drifts_by_name.setdefault(name, []).append(d)
    features = []
    for name in names:
        cells = []
        for col in shown:
            feat = col.features.get(name)
            if feat is None:
                cells.append({"label": col.label, "chart": note(f"absent from {col.label}"), "missing": None,
                              "zeros": None, "summary": ""})
                continue
            cells.append({"label": col.label, "chart": _chart(feat, col.label, name),
                          "missing": _missing_share(feat, col.num_examples),
                          "zeros": _zero_share(feat, col.num_examples), "summary": _summary(feat)})
        first = next(c.features[name] for c in shown if name in c.features)
        features.append({"name": name, "type": _type_name(first), "cells": cells,
                         "drifts": drifts_by_name.get(name, [])})
    return render(_TEMPLATE, cols=shown, drift_rows=drift_rows, compared=compared, features=features,
                  summary=_summary_table(shown, names), linf=driftlib.L_INFINITY_THRESHOLD,
                  js=driftlib.JENSEN_SHANNON_THRESHOLD, sort_script=SORT_SCRIPT)


def _summary_table(cols: list[Column], names: list[str]) -> Markup:
    """One row per feature: type, then missing % and zeros % per split (sortable)."""
    headers = ["feature", "type"] + [f"{h} ({c.label})" for c in cols for h in ("missing %", "zeros %")]
    rows = []
    for name in names:
        first = next(c.features[name] for c in cols if name in c.features)
        row: list[Any] = [name, _type_name(first)]
        for c in cols:
            feat = c.features.get(name)
            for share in ((_missing_share(feat, c.num_examples), _zero_share(feat, c.num_examples))
                          if feat is not None else (None, None)):
                row.append(round(100 * share, 2) if share is not None else "–")
        rows.append(row)
    return table(headers, rows, sortable=True)
