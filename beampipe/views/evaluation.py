"""ModelEvaluation: metrics per slice (sortable), baseline beside candidate, thresholds, plots.

Reads what TFMA wrote into the artifact -- ``metrics-*``, ``plots-*`` and ``validations*``
(TFRecord files of MetricsForSlice, PlotsForSlice, ValidationResult) and ``eval_config.json``
-- through the private descriptor pool of ``_protos``: importing TFMA would load TensorFlow
and Beam into the web server. So this works for any TFMA 0.4x output, TFX's included.
"""
from __future__ import annotations

import json
import logging
import re
from dataclasses import dataclass, field
from typing import Any

from markupsafe import Markup

from beampipe.metadata.artifacts import Artifact
from beampipe.views import _protos
from beampipe.views._common import SORT_SCRIPT, ViewError, listdir, note, read_bytes, render


def _records(artifact: Artifact, prefix: str, message: str) -> list[Any]:
    cls = _protos.tfma_message(message)
    out = []
    for name in listdir(artifact):
        if name.startswith(prefix) and not name.endswith((".json", ".html")):
            for record in _protos.tfrecords(read_bytes(artifact, name)):
                out.append(cls.FromString(record))
    return out


def slice_name(slice_key: Any) -> str:
    """'Overall', or 'island = Dream' (the Evaluator's message and report use the same form)."""
    parts = []
    for key in slice_key.single_slice_keys:
        which = key.WhichOneof("kind")
        value = getattr(key, which) if which else ""
        parts.append(f"{key.column} = {value.decode('utf-8', 'replace') if isinstance(value, bytes) else value}")
    return ", ".join(parts) or "Overall"


def metric_name(key: Any) -> str:
    name = key.name
    if key.HasField("sub_key"):
        for sub in ("class_id", "k", "top_k"):
            if key.sub_key.HasField(sub):
                name += f" ({sub}={getattr(key.sub_key, sub).value})"
    if key.output_name:
        name = f"{key.output_name}/{name}"
    return name


def _scalar(value: Any) -> float | None:
    which = value.WhichOneof("type")
    if which == "double_value":
        return value.double_value.value
    if which == "bounded_value":
        return value.bounded_value.value.value
    return None


@dataclass
class Metrics:
    """Scalar metrics by slice: ``values[slice][(metric, role)]`` with role candidate,
    baseline or change (TFMA's ``is_diff``)."""

    values: dict[str, dict[tuple[str, str], float]] = field(default_factory=dict)
    has_baseline: bool = False

    def names(self) -> list[str]:
        return sorted({m for row in self.values.values() for (m, _) in row})

    def slices(self) -> list[str]:
        return sorted(self.values, key=lambda s: (s != "Overall", s))


def load_metrics(artifact: Artifact) -> Metrics:
    out = Metrics()
    for record in _records(artifact, "metrics", "MetricsForSlice"):
        row = out.values.setdefault(slice_name(record.slice_key), {})
        for kv in record.metric_keys_and_values:
            value = _scalar(kv.value)
            if value is None:
                continue
            model = kv.key.model_name
            role = "change" if kv.key.is_diff else ("baseline" if model == "baseline" else "candidate")
            out.has_baseline |= role != "candidate"
            row[(metric_name(kv.key), role)] = value
    return out


def run_metrics_from_evaluation(artifact: Artifact) -> dict[str, float]:
    """The candidate's Overall-slice scalar metrics (the compare page's numbers); {} when the
    artifact holds no readable TFMA metrics."""
    try:
        overall = load_metrics(artifact).values.get("Overall", {})
    except (ViewError, _protos.ProtoUnavailable):
        return {}
    except Exception:  # noqa: BLE001 - a corrupt record must not break the compare page
        logging.getLogger(__name__).exception("metrics of %s unreadable", artifact)
        return {}
    return {m: v for (m, role), v in sorted(overall.items()) if role == "candidate"}


def _snake(name: str) -> str:
    return re.sub(r"(?<=[a-z0-9])([A-Z])", r"_\1", name).lower()


def _bound_text(threshold: dict[str, Any]) -> str:
    parts = []
    value = threshold.get("valueThreshold") or {}
    if "lowerBound" in value:
        parts.append(f">= {value['lowerBound']:.4g}")
    if "upperBound" in value:
        parts.append(f"<= {value['upperBound']:.4g}")
    change = threshold.get("changeThreshold") or {}
    op = "<=" if change.get("direction") == "LOWER_IS_BETTER" else ">="
    if "absolute" in change:
        parts.append(f"change {op} {change['absolute']:.4g}")
    if "relative" in change:
        parts.append(f"relative change {op} {change['relative']:.4g}")
    return " and ".join(parts)


def configured_thresholds(artifact: Artifact) -> list[tuple[str, str]]:
    """(metric key name, bound) of every threshold in the EvalConfig TFMA saved beside its output."""
    try:
        config = json.loads(read_bytes(artifact, "eval_config.json")).get("evalConfig", {})
    except (ViewError, ValueError):
        return []
    out = []
    for spec in config.get("metricsSpecs", []):
        for metric in spec.get("metrics", []):
            if "threshold" in metric:
                try:
                    name = json.loads(metric.get("config") or "{}").get("name")
                except ValueError:
                    name = None
                out.append((name or _snake(metric.get("className", "?")), _bound_text(metric["threshold"])))
        for name, threshold in (spec.get("thresholds") or {}).items():
            out.append((name, _bound_text(threshold)))
    return out


def _failures(validation: Any) -> list[dict[str, Any]]:
    out = []
    for per_slice in validation.metric_validations_per_slice:
        for failure in per_slice.failures:
            threshold = failure.metric_threshold
            from google.protobuf import json_format
            bound = _bound_text(json_format.MessageToDict(threshold))
            out.append({"metric": metric_name(failure.metric_key), "slice": slice_name(per_slice.slice_key),
                        "value": _scalar(failure.metric_value), "threshold": bound,
                        "message": failure.message})
    return out


_TEMPLATE = """<div class="view evaluation">
{% if validation is none %}<p class="note">No validation result (TFMA wrote none).</p>
{% elif validation.validation_ok %}<p class="verdict ok">All thresholds passed{% if validation.rubber_stamp %}
(first model: change thresholds not applied){% endif %}.</p>
{% else %}<p class="verdict bad">Thresholds failed: {{ failures|length }} failure(s).</p>{% endif %}
{% if thresholds or failures %}<h2>Thresholds</h2>
<table><thead><tr><th>metric</th><th>threshold</th><th>result</th></tr></thead><tbody>
{% for name, bound, failed in thresholds %}<tr><td>{{ name }}</td><td>{{ bound }}</td>
<td>{% if failed %}<b class="bad">failed</b> on {{ failed|join(', ') }}{% elif validation is none %}–{% else %}<span class="ok">passed</span>{% endif %}</td></tr>
{% endfor %}</tbody></table>
{% if failures %}<table><thead><tr><th>failed metric</th><th>slice</th><th>value</th><th>threshold</th></tr></thead><tbody>
{% for f in failures %}<tr class="drift"><td>{{ f.metric }}</td><td>{{ f.slice }}</td><td class="n">{{ f.value|num }}</td>
<td>{{ f.threshold }}</td></tr>{% endfor %}</tbody></table>{% endif %}
{% for m in missing %}<p class="bad">{{ m }}</p>{% endfor %}{% endif %}
<h2>Metrics by slice</h2>
{% if not metrics.values %}<p class="note">No scalar metrics.</p>{% else %}
<table class="metrics sortable"><thead>
{% if metrics.has_baseline %}<tr><th rowspan="2" data-col="0">slice</th>{% for n in names %}<th colspan="3" class="nosort">{{ n }}</th>{% endfor %}</tr>
<tr>{% for n in names %}{% set c = 1 + 3 * loop.index0 %}<th data-col="{{ c }}">candidate</th><th data-col="{{ c + 1 }}">baseline</th><th data-col="{{ c + 2 }}">change</th>{% endfor %}</tr>
{% else %}<tr><th>slice</th>{% for n in names %}<th>{{ n }}</th>{% endfor %}</tr>{% endif %}
</thead><tbody>
{% for s in metrics.slices() %}<tr><td>{{ s }}</td>
{% for n in names %}{% for role in roles %}{% set v = metrics.values[s].get((n, role)) %}
<td class="n{% if role == 'change' and v is not none %}{{ ' ok' if v > 0 else (' bad' if v < 0 else '') }}{% endif %}" data-v="{{ '' if v is none else v }}">{% if role == 'change' and v is not none and v > 0 %}+{% endif %}{{ v|num }}</td>
{% endfor %}{% endfor %}</tr>
{% endfor %}</tbody></table>{% endif %}
{{ plots }}
{{ sort_script }}
</div>"""


def render_evaluation(artifact: Artifact) -> Markup:
    from beampipe.views.evaluation_plots import render_plots
    metrics = load_metrics(artifact)
    validations = _records(artifact, "validations", "ValidationResult")
    validation = validations[0] if validations else None
    failures = _failures(validation) if validation is not None else []
    failed_on: dict[str, list[str]] = {}
    for f in failures:
        failed_on.setdefault(f["metric"], []).append(f["slice"])
    thresholds = [(name, bound, failed_on.get(name, [])) for name, bound in configured_thresholds(artifact)]
    missing = []
    if validation is not None:
        if validation.missing_thresholds:
            missing.append("a threshold names a metric that was not computed")
        for spec in validation.missing_slices:
            missing.append("a slice has no examples: " + (", ".join(spec.feature_keys) or str(dict(spec.feature_values))))
    try:
        plots = render_plots(_records(artifact, "plots", "PlotsForSlice"))
    except ViewError as err:
        plots = note(str(err))
    roles = ["candidate", "baseline", "change"] if metrics.has_baseline else ["candidate"]
    return render(_TEMPLATE, validation=validation, failures=failures, thresholds=thresholds, missing=missing,
                  metrics=metrics, names=metrics.names(), roles=roles, plots=plots, sort_script=SORT_SCRIPT)
