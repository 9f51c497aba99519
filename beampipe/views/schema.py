"""Schema and ExampleAnomalies: the feature table a schema declares, and the rules data broke.

Both are ``tensorflow_metadata`` protos (``schema.pbtxt`` as text, ``SchemaDiff.pb`` binary),
read with protobuf only.
"""
from __future__ import annotations

from typing import Any

from markupsafe import Markup

from beampipe.metadata import layout
from beampipe.metadata.artifacts import Artifact, ExampleAnomalies, Schema
from beampipe.views.charts import fmt
from beampipe.views._common import SORT_SCRIPT, ViewError, note, read_bytes, render, splits_of, table


def load_schema(artifact: Artifact) -> Any:
    from google.protobuf import text_format
    from tensorflow_metadata.proto.v0 import schema_pb2
    text = read_bytes(artifact, Schema.SCHEMA_FILE).decode("utf-8", "replace")
    try:
        return text_format.Parse(text, schema_pb2.Schema())
    except text_format.ParseError as err:
        raise ViewError(f"{Schema.SCHEMA_FILE} is not a text-format Schema: {err}") from None


def _presence(feature: Any) -> str:
    if feature.HasField("presence"):
        p = feature.presence
        parts = [f"min fraction {fmt(p.min_fraction)}" if p.HasField("min_fraction") else "",
                 f"min count {p.min_count}" if p.HasField("min_count") else ""]
        return "required" if p.min_fraction == 1.0 else (", ".join(x for x in parts if x) or "optional")
    return "–"


def _valency(feature: Any) -> str:
    if feature.HasField("shape"):
        dims = [str(d.size) for d in feature.shape.dim]
        return f"shape [{', '.join(dims)}]"
    if feature.HasField("value_count"):
        vc = feature.value_count
        if vc.min == vc.max == 1:
            return "single"
        return f"{vc.min}..{vc.max or '∞'} values"
    return "–"


def _domain(feature: Any, schema: Any) -> str:
    which = feature.WhichOneof("domain_info")
    if which is None:
        return "–"
    if which == "domain":  # a named top-level string domain
        named = {d.name: d for d in schema.string_domain}
        values = list(named[feature.domain].value) if feature.domain in named else []
        return f"{feature.domain}: " + _values(values)
    dom = getattr(feature, which)
    if which == "string_domain":
        return _values(list(dom.value))
    if which in ("int_domain", "float_domain"):
        lo = fmt(dom.min) if dom.HasField("min") else "-∞"
        hi = fmt(dom.max) if dom.HasField("max") else "∞"
        return f"[{lo}, {hi}]"
    return which.replace("_", " ")


def _values(values: list[str], limit: int = 12) -> str:
    more = f" … (+{len(values) - limit})" if len(values) > limit else ""
    return ", ".join(values[:limit]) + more if values else "–"


def _comparator(feature: Any) -> str:
    out = []
    for kind in ("drift_comparator", "skew_comparator"):
        if feature.HasField(kind):
            comp = getattr(feature, kind)
            for measure in ("infinity_norm", "jensen_shannon_divergence"):
                if comp.HasField(measure):
                    out.append(f"{kind.split('_')[0]}: {measure.replace('_', ' ')} ≤ "
                               f"{fmt(getattr(comp, measure).threshold)}")
    return "; ".join(out) or "–"


def render_schema(artifact: Artifact) -> Markup:
    from tensorflow_metadata.proto.v0 import schema_pb2
    schema = load_schema(artifact)
    rows = []
    for f in schema.feature:
        envs = ", ".join(f.in_environment) or ("not in " + ", ".join(f.not_in_environment)
                                              if f.not_in_environment else "all")
        rows.append([f.name, schema_pb2.FeatureType.Name(f.type), _presence(f), _valency(f),
                     _domain(f, schema), envs, _comparator(f)])
    extra = []
    for sparse in schema.sparse_feature:
        extra.append(f"sparse feature {sparse.name}: index "
                     + ", ".join(i.name for i in sparse.index_feature) + f"; value {sparse.value_feature.name}")
    return render("""<div class="view schema"><p>{{ n }} features{% if envs %}; environments: {{ envs }}{% endif %}</p>
{{ t }}{% for e in extra %}<p>{{ e }}</p>{% endfor %}{{ sort }}</div>""",
                  n=len(schema.feature), envs=", ".join(schema.default_environment), extra=extra,
                  t=table(["feature", "type", "presence", "valency / shape", "domain", "environments",
                           "drift / skew"], rows, sortable=True), sort=SORT_SCRIPT)


def load_anomalies(artifact: Artifact, split: str) -> Any:
    from tensorflow_metadata.proto.v0 import anomalies_pb2
    data = read_bytes(artifact, layout.split_dir_name(split), ExampleAnomalies.ANOMALIES_FILE)
    try:
        return anomalies_pb2.Anomalies.FromString(data)
    except Exception as err:  # noqa: BLE001
        raise ViewError(f"{split}: not an Anomalies proto ({err})") from None


def anomaly_rows(anomalies: Any) -> list[list[Any]]:
    """feature, severity, rule (reason type), what was found: one row per reason."""
    from tensorflow_metadata.proto.v0 import anomalies_pb2
    rows: list[list[Any]] = []
    infos = sorted(anomalies.anomaly_info.items())
    if anomalies.HasField("dataset_anomaly_info"):
        infos.append(("(dataset)", anomalies.dataset_anomaly_info))
    for name, info in infos:
        severity = anomalies_pb2.AnomalyInfo.Severity.Name(info.severity)
        reasons = list(info.reason) or [None]
        for reason in reasons:
            if reason is None:
                rows.append([name, severity, info.short_description, info.description])
            else:
                rule = anomalies_pb2.AnomalyInfo.Type.Name(reason.type)
                rows.append([name, severity, f"{rule}: {reason.short_description}", reason.description])
    return rows


def drift_rows(anomalies: Any) -> list[list[Any]]:
    """TFDV's own drift and skew measurements (where the schema sets comparators)."""
    rows: list[list[Any]] = []
    for info in anomalies.drift_skew_info:
        name = ".".join(info.path.step)
        for kind, items in (("drift", info.drift_measurements), ("skew", info.skew_measurements)):
            for m in items:
                verdict = Markup('<b class="bad">over</b>') if m.value > m.threshold else "within"
                rows.append([name, kind, m.Type.Name(m.type), m.value, m.threshold, verdict])
    return rows


def render_anomalies(artifact: Artifact, splits: list[str] | None = None) -> Markup:
    parts = []
    for split in splits or splits_of(artifact):
        anomalies = load_anomalies(artifact, split)
        rows, drift = anomaly_rows(anomalies), drift_rows(anomalies)
        parts.append(render("""<h2>Split {{ split }}</h2>
{% if rows %}<p class="bad">{{ n }} anomalous feature(s)</p>{{ t }}{% else %}<p class="ok">Split {{ split }}: no anomalies found.</p>{% endif %}
{% if drift %}<h3>Drift and skew (TFDV comparators)</h3>{{ d }}{% endif %}""",
                            split=split, rows=rows, n=len({r[0] for r in rows}), drift=drift,
                            t=table(["feature", "severity", "rule broken", "found"], rows, sortable=True),
                            d=table(["feature", "kind", "measure", "value", "threshold", ""], drift)))
    if not parts:
        return note("this anomalies artifact lists no splits")
    return Markup('<div class="view anomalies">') + Markup("").join(parts) + SORT_SCRIPT + Markup("</div>")
