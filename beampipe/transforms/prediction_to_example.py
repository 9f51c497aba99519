"""BulkInferrer's output examples: a PredictionLog becomes its input tf.Example plus result columns.

As TFX's ``prediction_to_example_utils``: ``OutputExampleSpec.output_columns_spec`` says, per
signature, which columns receive a classify result (labels, scores), a regress value, or the
named predict outputs. A single-signature log needs exactly one spec; a multi-inference log
(several classify/regress signatures) matches specs by ``signature_name`` (empty:
serving_default). A column that already exists in the example is an error, not an overwrite.
beampipe adds one case TFX lacks: a predict log with no spec at all writes every output as
``<feature_prefix><output name>``.
"""
from __future__ import annotations

from typing import Any

from beampipe.proto.bulk_inferrer import OutputColumnsSpec, OutputExampleSpec

DEFAULT_SIGNATURE = "serving_default"
Features = list[tuple[str, list[Any]]]


def prediction_to_example(log: Any, spec: OutputExampleSpec) -> bytes:
    """The serialized tf.Example for one PredictionLog (features in name order)."""
    import tensorflow as tf

    specs = spec.output_columns_spec
    which = log.WhichOneof("log_type")
    if which == "multi_inference_log":
        example = tf.train.Example()
        example.CopyFrom(log.multi_inference_log.request.input.example_list.examples[0])
        features = _multi(log.multi_inference_log, specs)
    elif which == "predict_log" and not specs:
        return _all_predict_outputs(log.predict_log, spec.feature_prefix)
    else:
        if len(specs) != 1:
            raise ValueError(f"output_example_spec: a single-signature {which} needs exactly one "
                             f"output_columns_spec, got {len(specs)}")
        if which == "predict_log":
            predict = _need(specs[0], "predict_output", which).predict_output
            [serialized] = next(iter(log.predict_log.request.inputs.values())).string_val
            example = tf.train.Example.FromString(serialized)
            features = _predict(log.predict_log.response.outputs, predict.output_columns)
        elif which == "classify_log":
            classify = _need(specs[0], "classify_output", which).classify_output
            example = tf.train.Example()
            example.CopyFrom(log.classify_log.request.input.example_list.examples[0])
            features = _classes(log.classify_log.response.result, classify)
        elif which == "regress_log":
            regress = _need(specs[0], "regress_output", which).regress_output
            example = tf.train.Example()
            example.CopyFrom(log.regress_log.request.input.example_list.examples[0])
            features = [(regress.value_column, [log.regress_log.response.result.regressions[0].value])]
        else:
            raise ValueError(f"output_example_spec: unsupported prediction log {which!r}")
    _add(example, features)
    return example.SerializeToString(deterministic=True)


def _need(spec: OutputColumnsSpec, field: str, which: str) -> OutputColumnsSpec:
    if spec.WhichOneof("output_type") != field:
        raise ValueError(f"output_example_spec: the model's signature gives a {which}, so its "
                         f"output_columns_spec needs {field}, not {spec.WhichOneof('output_type')}")
    return spec


def _multi(log: Any, specs: list[OutputColumnsSpec]) -> Features:
    by_name = {s.signature_name or DEFAULT_SIGNATURE: s for s in specs}
    features: Features = []
    for result in log.response.results:
        name = result.model_spec.signature_name
        if name not in by_name:
            raise ValueError(f"output_example_spec: no output_columns_spec for signature {name!r} "
                             f"(specs name {sorted(by_name)})")
        if result.HasField("classification_result"):
            features += _classes(result.classification_result,
                                 _need(by_name[name], "classify_output", "classification").classify_output)
        elif result.HasField("regression_result"):
            column = _need(by_name[name], "regress_output", "regression").regress_output.value_column
            features.append((column, [result.regression_result.regressions[0].value]))
        else:
            raise ValueError(f"output_example_spec: unsupported result for signature {name!r}")
    return features


def _classes(result: Any, spec: Any) -> Features:
    classes = result.classifications[0].classes
    features: Features = []
    if spec.label_column:
        features.append((spec.label_column, [c.label for c in classes]))
    if spec.score_column:
        features.append((spec.score_column, [c.score for c in classes]))
    return features


def _predict(outputs: Any, columns: list[Any]) -> Features:
    import numpy as np
    import tensorflow as tf

    features: Features = []
    for col in columns:
        if col.output_key not in outputs:
            raise ValueError(f"output_example_spec: the signature has no output {col.output_key!r}; "
                             f"it has {sorted(outputs)}")
        values = np.squeeze(tf.make_ndarray(outputs[col.output_key]))
        if values.ndim > 1:
            raise ValueError(f"output_example_spec: output {col.output_key!r} has shape {values.shape}"
                             " per example; a column takes a 1-D value")
        features.append((col.output_column, values.tolist() if values.ndim == 1 else [values.item()]))
    return features


def _add(example: Any, features: Features) -> None:
    """Add each column, typed as TFX does: strings/bytes -> bytes, ints -> int64, else float."""
    feature_map = example.features.feature
    for name, values in features:
        if name in feature_map:
            raise ValueError(f"output_example_spec: column {name!r} already exists in the input example")
        if not values:
            feature_map[name].float_list.value[:] = []
        elif isinstance(values[0], (str, bytes)):
            feature_map[name].bytes_list.value[:] = [v.encode() if isinstance(v, str) else v for v in values]
        elif isinstance(values[0], int):
            feature_map[name].int64_list.value[:] = values
        else:
            feature_map[name].float_list.value[:] = values


def _all_predict_outputs(log: Any, prefix: str) -> bytes:
    """beampipe's default: every output of the predict signature as ``<prefix><alias>``."""
    import tensorflow as tf

    [serialized] = next(iter(log.request.inputs.values())).string_val
    example = tf.train.Example.FromString(serialized)
    for alias, tensor in log.response.outputs.items():
        values = tf.make_ndarray(tensor).reshape(-1)
        feature = example.features.feature[f"{prefix}{alias}"]
        if values.dtype.kind in "iub":
            feature.int64_list.value.extend(int(v) for v in values)
        elif values.dtype.kind == "f":
            feature.float_list.value.extend(float(v) for v in values)
        else:
            feature.bytes_list.value.extend(v if isinstance(v, bytes) else str(v).encode() for v in values)
    return example.SerializeToString(deterministic=True)
