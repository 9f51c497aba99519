"""Evaluator: TFMA metrics per slice, thresholds against values and a baseline, a blessing.

The user's ``tfma.EvalConfig`` is stored as JSON (an execution property must be JSON) and
parsed back in the executor. With no baseline (first run) change thresholds are dropped, as
TFX does ("rubber stamp"); value thresholds always apply.

Penguin label: TFMA needs an integer label for ``label_key='species'`` while the model's
``serving_default`` parses RAW examples (string species). The model also exports a
``transform_features`` signature (raw examples -> transformed features, species as its
vocabulary index) and the EvalConfig names it in ``preprocessing_function_names``, exactly as
TFX's penguin template does; TFMA then reads the label from the transformed features.

``feature_slicing_spec`` (TFX's deprecated FeatureSlicingSpec) adds its slices to the
EvalConfig's ``slicing_specs``. TFX allows it only instead of an eval_config, for Estimator
EvalSavedModels; with no Estimators on TF 2.16, beampipe takes it only beside an eval_config.
"""
from __future__ import annotations

import json
import os
from typing import Any

from beampipe.components.base import BaseComponent, Channel, ExecContext, In, Out, Param, WiringError
from beampipe.components.fn_args import skip_autograph_for_tf_keras
from beampipe.metadata.artifacts import Artifact, Examples, Model, ModelBlessing, ModelEvaluation
from beampipe.proto._message import from_dict
from beampipe.proto.evaluation import FeatureSlicingSpec

# AutoGraph leaves tf-keras, TFT, tfx-bsl and tfmd alone (fn_args.GRAPH_MODE_LIBRARIES), as in
# the Trainer: on its own (a task process, or Trainer cached) penguin's Evaluator took 4.5-5.4
# CPU-seconds instead of 1.8-2.0, transpiling tf-keras's metric code to the same graph.
# False only for the test comparing the outputs.
_SKIP_AUTOGRAPH = True
# On the local runner, TFMA's files are written in one Beam step (tfma_write). False only for
# the test comparing the files with those TFMA's own writers write.
_FAST_WRITE = True


class Evaluator(BaseComponent):
    INPUTS = {"examples": In(Examples), "model": In(Model), "baseline_model": In(Model, optional=True)}
    OUTPUTS = {"evaluation": Out(ModelEvaluation), "blessing": Out(ModelBlessing)}
    PARAMETERS = {"eval_config": Param(str, required=True), "example_splits": Param(list),
                  "fairness_indicator_thresholds": Param(list), "feature_slicing_spec": Param(dict)}

    def __init__(self, examples: Channel, model: Channel, baseline_model: Channel | None = None,
                 eval_config: Any = None, example_splits: list[str] | None = None,
                 fairness_indicator_thresholds: list[float] | None = None,
                 feature_slicing_spec: FeatureSlicingSpec | None = None) -> None:
        if feature_slicing_spec is not None and eval_config is None:
            raise WiringError(
                "Evaluator: feature_slicing_spec without eval_config means, in TFX, an Estimator "
                "EvalSavedModel that carries its own labels and metrics; TF 2.16 has no Estimators "
                "and beampipe evaluates through a tfma.EvalConfig. Pass eval_config (model_specs, "
                "metrics_specs): the feature_slicing_spec's slices are added to its slicing_specs.")
        super().__init__({"examples": examples, "model": model, "baseline_model": baseline_model},
                         {"eval_config": _config_json(eval_config), "example_splits": example_splits,
                          "fairness_indicator_thresholds": fairness_indicator_thresholds,
                          "feature_slicing_spec": feature_slicing_spec})

    @classmethod
    def prepare_inputs(cls, inputs: dict[str, list[Artifact]]) -> dict[str, list[Artifact]]:
        """A baseline that is the candidate itself is no baseline.

        When Trainer is cached, the latest blessed model is the very model under evaluation;
        comparing it with itself says nothing, and dropping it lets such a run be a cache hit
        of the evaluation that blessed the model.
        """
        model, baseline = inputs.get("model") or [], inputs.get("baseline_model") or []
        if model and baseline and baseline[0].id is not None and baseline[0].id == model[0].id:
            return {**inputs, "baseline_model": []}
        return inputs

    @classmethod
    def execute(cls, ctx: ExecContext) -> None:
        import tensorflow_model_analysis as tfma
        from tensorflow_model_analysis.utils import config_util

        examples, model = ctx.input("examples"), ctx.input("model")
        baseline = ctx.optional_input("baseline_model")
        if _SKIP_AUTOGRAPH:  # TFMA updates Keras metrics in a tf.function: tf-keras's own code
            skip_autograph_for_tf_keras()
        config = _parse_config(ctx.prop("eval_config"), ctx.node_id)
        _add_fairness(config, ctx.prop("fairness_indicator_thresholds"))
        _add_feature_slices(config, ctx.prop("feature_slicing_spec"), ctx)
        check_metric_names(config, ctx.node_id)
        config = config_util.update_eval_config_with_defaults(
            config, has_baseline=baseline is not None, rubber_stamp=baseline is None)
        shared = [tfma.default_eval_shared_model(
            eval_saved_model_path=serving_model_path(baseline if spec.is_baseline else model),
            model_name=spec.name, eval_config=config) for spec in config.model_specs]
        splits = ctx.prop("example_splits") or ["eval"]
        missing = [s for s in splits if s not in examples.splits]
        if missing:
            raise ValueError(f"node '{ctx.node_id}': Examples at {examples.uri} have splits "
                             f"{examples.splits}, not {missing} (set example_splits)")
        evaluation, blessing = ctx.output("evaluation"), ctx.output("blessing")
        ctx.log.info("evaluating %s on %s (baseline %s)", model.uri, splits, baseline and baseline.uri)
        from tfx_bsl.tfxio import tf_example_record
        # TFMA reads Arrow record batches with the raw examples in a column (its input format).
        from beampipe.transforms import tfma_write
        from beampipe.transforms.beam_util import in_process_pickler, read_record_batches, reads_in_order
        from beampipe.transforms.tfdv_io import example_files
        files = [f for s in splits for f in example_files(ctx.split_uri(examples, s))]
        tfxio = tf_example_record.TFExampleRecord(file_pattern=files,
                                                  raw_record_column_name=tfma.ARROW_INPUT_COLUMN)
        eval_shared_model = shared if len(shared) > 1 else shared[0]
        local = reads_in_order(ctx.beam_pipeline_args)
        # Local runner: TFMA's five file sinks (24 Beam stages) become one step (tfma_write).
        fast_write = local and _FAST_WRITE
        writers = tfma_write.writers(evaluation.uri, config, eval_shared_model) if fast_write else None
        # Ordered on the local runner: metric sums reproduce. Cloudpickle: faster planning.
        with ctx.beam_pipeline(in_process_pickler(ctx.beam_pipeline_args)) as p:
            _ = (read_record_batches(p, "Read", tfxio, files, local)
                 | "Evaluate" >> tfma.ExtractEvaluateAndWriteResults(
                     eval_shared_model=eval_shared_model, eval_config=config,
                     output_path=evaluation.uri, writers=writers))
        if fast_write:
            tfma_write.write_eval_config(evaluation.uri, config, eval_shared_model)

        validation = tfma.load_validation_result(evaluation.uri)
        metrics = _load_metrics(evaluation.uri)
        verdict, decided_by, failures, message = _verdict(validation, config, metrics)
        open(blessing.marker(verdict), "w").close()
        blessing.custom_properties.update({
            blessing.BLESSED_KEY: int(verdict), "decided_by": json.dumps(decided_by), "message": message,
            "current_model": model.uri, "current_model_id": int(model.id or 0)})
        if failures:  # every failed threshold: metric, slice, value, threshold (Pusher quotes them)
            blessing.custom_properties["failures"] = json.dumps(failures[:50], sort_keys=True)
        if baseline is not None:
            blessing.custom_properties.update({"baseline_model": baseline.uri,
                                               "baseline_model_id": int(baseline.id or 0)})
        from beampipe.transforms import reports
        reports.write(evaluation.report_file(), reports.evaluation_html(evaluation, blessing))
        ctx.log.info("%s", message)


def serving_model_path(model: Model) -> str:
    """The Model's serving SavedModel as Trainer writes it; a bare SavedModel dir also works."""
    path = model.serving_dir()
    return path if os.path.isdir(path) else model.uri


def _config_json(config: Any) -> str | None:
    """EvalConfig proto (or its JSON / dict) -> JSON text for the execution property."""
    if config is None:
        raise WiringError("Evaluator: eval_config (a tfma.EvalConfig) is required")
    if isinstance(config, str):
        return config
    if isinstance(config, dict):
        return json.dumps(config, sort_keys=True)
    if not hasattr(config, "DESCRIPTOR"):
        raise WiringError(f"Evaluator: eval_config must be a tfma.EvalConfig, got {type(config).__name__}")
    from google.protobuf import json_format
    return json_format.MessageToJson(config, sort_keys=True, indent=None)


def _parse_config(text: str, node_id: str) -> Any:
    import tensorflow_model_analysis as tfma
    from google.protobuf import json_format
    try:
        return json_format.Parse(text, tfma.EvalConfig())
    except json_format.ParseError as err:
        raise ValueError(f"node '{node_id}': eval_config is not a valid tfma.EvalConfig: {err}") from None


def _add_fairness(config: Any, thresholds: list[float] | None) -> None:
    """TFX's fairness_indicator_thresholds: a FairnessIndicators metric at those thresholds."""
    if not thresholds:
        return
    spec = config.metrics_specs[0] if config.metrics_specs else config.metrics_specs.add()
    spec.metrics.add(class_name="FairnessIndicators",
                     config=json.dumps({"thresholds": list(thresholds)}))


def _add_feature_slices(config: Any, spec: Any, ctx: ExecContext) -> None:
    """TFX's deprecated feature_slicing_spec: each SingleSlicingSpec is a TFMA slice over its
    columns (TFX makes ``SingleSliceSpec(columns=...)`` of it); added unless already there."""
    if spec is None:
        return
    import tensorflow_model_analysis as tfma
    ctx.log.warning("feature_slicing_spec is deprecated (TFX too): put the slices in "
                    "eval_config.slicing_specs")
    for fields in from_dict(FeatureSlicingSpec, spec).to_slicing_specs():
        wanted = tfma.SlicingSpec(**fields)
        if wanted not in config.slicing_specs:
            config.slicing_specs.append(wanted)


_KERAS_INTERNAL = {"Metric", "MeanMetricWrapper", "MeanTensor"}


def check_metric_names(config: Any, node_id: str) -> None:
    """Every metric of the EvalConfig names a class TFMA can build, else one ValueError.

    TFMA hands a name it does not know to Keras, whose error ("Unknown metric function ...
    use a keras.utils.custom_object_scope") is about Keras model code, not the EvalConfig.
    """
    import importlib

    import tf_keras
    from tensorflow_model_analysis.metrics import metric_types

    tfma_names = set(metric_types.registered_metrics())
    keras_names = {n for n, obj in vars(tf_keras.metrics).items()
                   if isinstance(obj, type) and issubclass(obj, tf_keras.metrics.Metric)} - _KERAS_INTERNAL
    for i, spec in enumerate(config.metrics_specs):
        for j, metric in enumerate(spec.metrics):
            where = f"node '{node_id}': eval_config metrics_specs[{i}].metrics[{j}]"
            name = metric.class_name
            if metric.module:
                try:
                    module = importlib.import_module(metric.module)
                except Exception as err:  # noqa: BLE001 - any import failure is the user's to fix
                    raise ValueError(f"{where}: module {metric.module!r} (for class_name {name!r}) cannot "
                                     f"be imported: {type(err).__name__}: {err}") from None
                if not isinstance(getattr(module, name, None), type):
                    raise ValueError(f"{where}: module {metric.module!r} has no class {name!r}") from None
                continue
            if name in tfma_names or name in keras_names or _keras_knows(tf_keras, name):
                continue
            raise ValueError(f"{where}: class_name {name!r} is not a metric TFMA or Keras knows. "
                             + _spelling_help(name, tfma_names, keras_names))


def _keras_knows(tf_keras: Any, name: str) -> bool:
    """Names Keras resolves besides its public classes (function metrics such as 'accuracy'):
    the names in the module whose globals ``tf_keras.metrics.deserialize`` looks in."""
    import sys
    module = sys.modules.get(tf_keras.metrics.deserialize.__module__)
    return not name.startswith("_") and callable(vars(module).get(name) if module else None)


def _spelling_help(name: str, tfma_names: set[str], keras_names: set[str]) -> str:
    import difflib
    every = sorted(tfma_names | keras_names)
    by_lower = {n.lower(): n for n in every}
    close = [by_lower[n] for n in difflib.get_close_matches(name.lower(), list(by_lower), n=3, cutoff=0.75)]
    text = f"Did you mean {' or '.join(repr(c) for c in close)}? " if close else ""
    if name == "FairnessIndicators":  # what fairness_indicator_thresholds adds
        import tensorflow_model_analysis as tfma
        text = (f"The TFMA installed here ({tfma.__version__}) has no FairnessIndicators metric, which "
                "fairness_indicator_thresholds asks for: drop that argument and add e.g. "
                "FalsePositiveRate-style metrics (FPR, FNR) at your thresholds instead. ")
    return (text + "Name a metric by its class, exactly as spelled (case matters), e.g. "
            "tfma.MetricConfig(class_name='SparseCategoricalAccuracy'). TFMA metrics: "
            + ", ".join(sorted(tfma_names)) + ". Keras metrics (tf_keras.metrics): "
            + ", ".join(sorted(keras_names)) + ". A metric class of your own, or from another package, "
            "also needs module='package.module' (the module that defines it).")


# -- results -------------------------------------------------------------------


def _load_metrics(output_path: str) -> dict[str, dict[tuple[str, str, bool], float]]:
    """Scalar metrics by slice name ('Overall', 'island = Dream', ...)."""
    import tensorflow_model_analysis as tfma

    table: dict[str, dict[tuple[str, str, bool], float]] = {}
    for record in tfma.load_metrics(output_path):
        row = table.setdefault(_slice_name(record.slice_key), {})
        for kv in record.metric_keys_and_values:
            which = kv.value.WhichOneof("type")
            if which != "double_value":
                continue
            metric = kv.key.name + (f" ({_sub_key(kv.key.sub_key)})" if kv.key.HasField("sub_key") else "")
            row[(metric, kv.key.model_name, kv.key.is_diff)] = kv.value.double_value.value
    return table


def _sub_key(sub_key: Any) -> str:
    for field in ("class_id", "k", "top_k"):
        if sub_key.HasField(field):
            return f"{field}={getattr(sub_key, field).value}"
    return ""


def _verdict(validation: Any, config: Any,
             metrics: dict) -> tuple[bool, list[str], list[dict[str, Any]], str]:
    """Blessed?, the metric(s) that decided, the failed thresholds (metric, slice, value,
    threshold) and a sentence saying so."""
    if not validation.validation_ok:
        from google.protobuf import text_format
        failures = [_failure(failure, _slice_name(per_slice.slice_key), metrics)
                    for per_slice in validation.metric_validations_per_slice for failure in per_slice.failures]
        failures.sort(key=lambda f: (f["slice"] != "Overall", f["slice"], f["metric"]))
        texts = [f["text"] for f in failures]
        if validation.missing_thresholds:
            texts.append("a threshold names a metric that was not computed")
        for missing in validation.missing_slices:
            texts.append(f"slice {text_format.MessageToString(missing, as_one_line=True)} has no examples")
        names = sorted({f["metric"] for f in failures})
        return False, names, failures, "NOT BLESSED: " + (_first(texts) or "validation failed "
                                                          "(see validations in the evaluation)")
    checked = sorted(_thresholded_metrics(config))
    if not checked:
        return True, [], [], "BLESSED: no thresholds configured"
    overall = metrics.get("Overall", {})
    values = [f"{m}={v:.4g}" for (m, model, diff), v in sorted(overall.items())
              if m in checked and not diff and model in ("", "candidate")]
    return True, checked, [], "BLESSED: all thresholds passed (" + ", ".join(values or checked) + ")"


def _failure(failure: Any, where: str, metrics: dict) -> dict[str, Any]:
    """One failed threshold as data and as a sentence: metric, slice, value, threshold.

    TFMA leaves ``failure.message`` empty; the value and the threshold are in the proto.
    """
    import tensorflow_model_analysis as tfma
    key = failure.metric_key
    metric = key.name + (f" ({_sub_key(key.sub_key)})" if key.HasField("sub_key") else "")
    value = (failure.metric_value.double_value.value
             if failure.metric_value.HasField("double_value") else None)
    threshold, bounds = failure.metric_threshold, []
    if threshold.HasField("change_threshold"):
        change = threshold.change_threshold
        op = "<=" if change.direction == tfma.MetricDirection.LOWER_IS_BETTER else ">="
        if change.HasField("absolute"):
            bounds.append(f"change {op} {change.absolute.value:.4g}")
        if change.HasField("relative"):
            bounds.append(f"relative change {op} {change.relative.value:.4g}")
        row = metrics.get(where, {})
        shown = (f"changed by {_num(value)} against the baseline ({_num(row.get((metric, 'candidate', False)))}"
                 f" vs {_num(row.get((metric, 'baseline', False)))})")
    else:
        bound = threshold.value_threshold
        if bound.HasField("lower_bound"):
            bounds.append(f">= {bound.lower_bound.value:.4g}")
        if bound.HasField("upper_bound"):
            bounds.append(f"<= {bound.upper_bound.value:.4g}")
        shown = f"is {_num(value)}"
    needed = " and ".join(bounds) or "unknown"
    on = "Overall" if where == "Overall" else f"slice {where}"
    return {"metric": metric, "slice": where, "value": value, "threshold": needed,
            "text": f"{metric} {shown} on {on} (threshold {needed})"}


def _num(value: float | None) -> str:
    return "?" if value is None else f"{value:.4g}"


def _first(texts: list[str], limit: int = 4) -> str:
    more = len(texts) - limit
    return "; ".join(texts[:limit]) + (f"; and {more} more" if more > 0 else "")


def why_not_blessed(blessing: Artifact) -> str:
    """The failed thresholds a NOT_BLESSED ModelBlessing records (for Pusher, BulkInferrer)."""
    props = blessing.custom_properties
    try:
        failures = json.loads(props.get("failures") or "[]")
    except ValueError:
        failures = []
    if failures:
        return _first([f["text"] for f in failures])
    message = str(props.get("message") or "")
    return message.removeprefix("NOT BLESSED: ") or "no reason recorded on the blessing"


def _thresholded_metrics(config: Any) -> set[str]:
    """Metric names (as TFMA keys them) that carry a threshold."""
    from tensorflow_model_analysis.metrics import metric_specs
    keys = metric_specs.metric_thresholds_from_metrics_specs(config.metrics_specs, config)
    return {key.name for key in keys}


def _slice_name(slice_key: Any) -> str:
    """The slice's name as the UI and the report spell it (``beampipe.views``, imported here,
    at run time, so that building a pipeline loads no templating)."""
    from beampipe.views.evaluation import slice_name

    return slice_name(slice_key)
