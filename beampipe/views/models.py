"""Model, ModelBlessing / InfraBlessing, PushedModel, HyperParameters, TunerResults, value
artifacts and ExamplesDiff.

The SavedModel's signatures come from ``saved_model.pb`` parsed with TensorBoard's TF-free
``MetaGraphDef`` (see ``_protos.meta_graphs``): loading the model with TensorFlow would cost
seconds and a GB per page. A PushedModel shows what the Pusher recorded (destination and
version): the destination is outside the artifact, and a view reads only inside it.
"""
from __future__ import annotations

import json
from typing import Any

from markupsafe import Markup

from beampipe.metadata import layout
from beampipe.metadata.artifacts import (Artifact, ExamplesDiff, HyperParameters, Model, ModelBlessing, PushedModel,
                                         TunerResults, artifact_class)
from beampipe.views import _protos
from beampipe.views._common import SORT_SCRIPT, ViewError, listdir, note, read_bytes, render, table

MAX_VALUE_CHARS = 20_000


def _saved_model_dir(artifact: Artifact) -> list[str]:
    """The parts under the URI where ``saved_model.pb`` is: ``Format-Serving`` (Trainer) or the root."""
    if layout.SAVED_MODEL_FILE in listdir(artifact, Model.SERVING_DIR):
        return [Model.SERVING_DIR]
    if layout.SAVED_MODEL_FILE in listdir(artifact):
        return []
    raise ViewError(f"no {layout.SAVED_MODEL_FILE} in {artifact.uri} or its {Model.SERVING_DIR}/")


def _tensor(info: Any) -> tuple[str, str]:
    from tensorboard.compat.proto import types_pb2
    dtype = types_pb2.DataType.Name(info.dtype).removeprefix("DT_").lower()
    if info.tensor_shape.unknown_rank:
        shape = "unknown rank"
    else:
        shape = "[" + ", ".join("None" if d.size == -1 else str(d.size) for d in info.tensor_shape.dim) + "]"
    kind = info.WhichOneof("encoding")
    if kind == "coo_sparse":
        shape += " (sparse)"
    elif kind == "composite_tensor":
        shape += " (composite)"
    return dtype, shape


def signatures(artifact: Artifact) -> list[dict[str, Any]]:
    """Each signature: name, method, and its inputs and outputs as (name, dtype, shape)."""
    parts = _saved_model_dir(artifact)
    graphs = _protos.meta_graphs(read_bytes(artifact, *parts, layout.SAVED_MODEL_FILE))
    out = []
    for graph in graphs:
        tags = ", ".join(graph.meta_info_def.tags)
        for name, sig in sorted(graph.signature_def.items()):
            if name.startswith("__"):  # __saved_model_init_op: not callable
                continue
            out.append({"name": name, "tags": tags, "method": sig.method_name,
                        "inputs": [(k, *_tensor(v)) for k, v in sorted(sig.inputs.items())],
                        "outputs": [(k, *_tensor(v)) for k, v in sorted(sig.outputs.items())]})
    return out


def render_model(artifact: Artifact) -> Markup:
    sigs = signatures(artifact)
    where = "/".join(_saved_model_dir(artifact)) or "."
    return render("""<div class="view model"><p>SavedModel in <code>{{ where }}</code>: {{ sigs|length }} signature(s)</p>
{% for s in sigs %}<h3><code>{{ s.name }}</code> <small>{{ s.method }} · tags {{ s.tags }}</small></h3>
<table><thead><tr><th></th><th>name</th><th>dtype</th><th>shape</th></tr></thead><tbody>
{% for n, d, sh in s.inputs %}<tr><td>input</td><td>{{ n }}</td><td>{{ d }}</td><td>{{ sh }}</td></tr>{% endfor %}
{% for n, d, sh in s.outputs %}<tr><td>output</td><td>{{ n }}</td><td>{{ d }}</td><td>{{ sh }}</td></tr>{% endfor %}
</tbody></table>{% endfor %}</div>""", sigs=sigs, where=where)


def render_blessing(artifact: Artifact) -> Markup:
    """Blessed or not, from the marker file (it decides, as in TFX), and why."""
    blessing = artifact_class(artifact.type_name)
    files = set(listdir(artifact))
    blessed_file, not_file = getattr(blessing, "BLESSED_FILE", ""), getattr(blessing, "NOT_BLESSED_FILE", "")
    if blessed_file and blessed_file in files:
        blessed: bool | None = True
    elif not_file and not_file in files:
        blessed = False
    else:
        flag = artifact.custom_properties.get("blessed")
        blessed = None if flag is None else bool(int(flag))
    props = artifact.custom_properties
    try:
        failures = json.loads(props.get("failures") or "[]")
    except ValueError:
        failures = []
    rows = [[f.get("metric", ""), f.get("slice", ""), f.get("value"), f.get("threshold", "")] for f in failures]
    facts = [(label, props[key]) for key, label in (("current_model", "candidate"), ("baseline_model", "baseline"),
                                                    ("decided_by", "decided by")) if props.get(key)]
    return render("""<div class="view blessing">
{% if blessed is none %}<p class="verdict">No verdict recorded.</p>
{% else %}<p class="verdict {{ 'ok' if blessed else 'bad' }}"><b>{{ word }}</b></p>{% endif %}
{% if message %}<p>{{ message }}</p>{% endif %}
{% if rows %}<h3>Failed thresholds</h3>{{ t }}{% endif %}
{% for label, value in facts %}<div>{{ label }}: <code>{{ value }}</code></div>{% endfor %}</div>""",
                  blessed=blessed,
                  word=(blessed_file if blessed else not_file)
                  or (ModelBlessing.BLESSED_FILE if blessed else ModelBlessing.NOT_BLESSED_FILE.replace("_", " ")),
                  message=props.get("message", ""), rows=rows, facts=facts,
                  t=table(["metric", "slice", "value", "threshold"], rows))


def render_pushed(artifact: Artifact) -> Markup:
    props = artifact.custom_properties
    pushed = props.get(PushedModel.PUSHED_KEY)
    return render("""<div class="view pushed">
{% if pushed is none %}<p class="note">Not recorded whether the model was pushed.</p>
{% elif pushed %}<p class="verdict ok">Pushed as version <b>{{ version }}</b></p>
<div>destination: <code>{{ dest }}</code></div>{% if model %}<div>model: <code>{{ model }}</code></div>{% endif %}
{% else %}<p class="verdict bad">Not pushed</p><p>{{ reason }}</p>{% endif %}{{ sigs }}</div>""",
                  pushed=None if pushed is None else bool(int(pushed)), version=props.get(PushedModel.VERSION_KEY, "?"),
                  dest=props.get(PushedModel.DESTINATION_KEY, ""), model=props.get("pushed_model", ""),
                  reason=props.get("pushed_reason", ""), sigs=_maybe_signatures(artifact) if pushed else "")


def _maybe_signatures(artifact: Artifact) -> Markup:
    try:
        return Markup("<h3>Pushed SavedModel</h3>") + render_model(artifact)
    except (ViewError, _protos.ProtoUnavailable) as err:
        return note(str(err))


def render_hyperparameters(artifact: Artifact) -> Markup:
    try:
        config = json.loads(read_bytes(artifact, HyperParameters.BEST_FILE))
    except ValueError as err:
        raise ViewError(f"{HyperParameters.BEST_FILE} is not JSON: {err}") from None
    values = config.get("values", config) if isinstance(config, dict) else {}
    space = {s.get("config", {}).get("name"): s for s in config.get("space", [])} if isinstance(config, dict) else {}
    rows = []
    for name, value in sorted(values.items()):
        cfg = space.get(name, {}).get("config", {})
        choices = cfg.get("values") or ([cfg["min_value"], cfg["max_value"]] if "min_value" in cfg else [])
        rows.append([name, json.dumps(value), space.get(name, {}).get("class_name", ""),
                     ", ".join(json.dumps(c) for c in choices)])
    return Markup('<div class="view hyperparameters"><h3>Best hyperparameters</h3>') + table(
        ["name", "value", "kind", "search space"], rows) + Markup("</div>")


def render_tuner_results(artifact: Artifact) -> Markup:
    try:
        trials = json.loads(read_bytes(artifact, TunerResults.RESULTS_FILE))
    except ValueError as err:
        raise ViewError(f"{TunerResults.RESULTS_FILE} is not JSON: {err}") from None
    if not isinstance(trials, list) or not trials:
        return note("no trials recorded")
    keys = ["trial_id", "score"] + sorted({k for t in trials for k in t} - {"trial_id", "score"})
    rows = [[t.get(k) if isinstance(t.get(k), (int, float)) else json.dumps(t.get(k)) if not isinstance(
        t.get(k), str) else t.get(k) for k in keys] for t in trials]
    return (Markup(f'<div class="view tuner-results"><p>{len(trials)} trial(s), best first</p>')
            + table(keys, rows, sortable=True) + SORT_SCRIPT + Markup("</div>"))


def render_value(artifact: Artifact) -> Markup:
    from beampipe.metadata import value_artifacts
    cls = artifact_class(artifact.type_name)
    if not (isinstance(cls, type) and issubclass(cls, value_artifacts.ValueArtifact)):
        return Markup("")
    value_art = cls(artifact.uri)
    value_art.custom_properties.update(artifact.custom_properties)
    try:
        value = value_art.read()
    except (OSError, ValueError, UnicodeDecodeError) as err:
        raise ViewError(f"cannot read the value: {err}") from None
    text = (value.decode("utf-8", "replace") if isinstance(value, bytes)
            else json.dumps(value, indent=1, sort_keys=True) if isinstance(value, (dict, list)) else repr(value)
            if value is None else str(value))
    cut = len(text) > MAX_VALUE_CHARS
    return render('<div class="view value"><pre>{{ text }}</pre>{% if cut %}<p class="note">(first {{ n }} '
                  'characters)</p>{% endif %}</div>', text=text[:MAX_VALUE_CHARS], cut=cut, n=MAX_VALUE_CHARS)


_SKEW = "tensorflow_data_validation/skew/protos/feature_skew_results.proto"


def render_examples_diff(artifact: Artifact) -> Markup:
    """Per split pair, TFDV's per-feature skew counts (FeatureSkew) and the id match stats."""
    skew_cls = _protos.message_class(_SKEW, "tensorflow.data_validation.FeatureSkew")
    match_cls = _protos.message_class(_SKEW, "tensorflow.data_validation.MatchStats")
    parts = []
    for pair in (n for n in listdir(artifact) if n.startswith(ExamplesDiff.SPLIT_PAIR_PREFIX)):
        rows, matches = [], []
        for name in listdir(artifact, pair):
            data = read_bytes(artifact, pair, name)
            if name.startswith(ExamplesDiff.SKEW_STATS):
                for rec in _protos.tfrecords(data):
                    s = skew_cls.FromString(rec)
                    rows.append([s.feature_name, s.base_count, s.test_count, s.match_count, s.base_only,
                                 s.test_only, s.mismatch_count, s.diff_count])
            elif name.startswith(ExamplesDiff.MATCH_STATS):
                matches += [match_cls.FromString(rec) for rec in _protos.tfrecords(data)]
        match_text = "; ".join(f"{m.matching_pairs_count} matching pairs, {m.ids_missing_in_base_count} ids "
                               f"missing in base, {m.ids_missing_in_test_count} missing in test" for m in matches)
        parts.append(render("<h3>{{ pair }}</h3><p>{{ match }}</p>{{ t }}", pair=pair.removeprefix(
            ExamplesDiff.SPLIT_PAIR_PREFIX).replace("_", " vs ", 1), match=match_text, t=table(
            ["feature", "base", "test", "match", "base only", "test only", "mismatch", "diff"],
            sorted(rows), sortable=True)))
    if not parts:
        return note("no split pairs in this ExamplesDiff")
    return Markup('<div class="view examples-diff">') + Markup("").join(parts) + SORT_SCRIPT + Markup("</div>")
