"""TFMA's evaluation files in one Beam step, for the local runner.

TFMA's default writers put each of its five outputs (eval config, metrics, plots,
attributions, validations) through its own Beam file sink: ``WriteToText`` or
``WriteToTFRecord``, each five or six stages (initialize, write bundles, group, pre-finalize,
finalize) with side inputs. On penguin's 342 rows those 24 stages were most of the
Evaluator's Beam stages and about a third of its Beam time, to write five files of a few
dozen bytes.

:func:`writers` returns one writer for the same four record outputs: every output's records
go through one GroupByKey and one DoFn writes each file, framed as Beam's TFRecord sink
frames them, under the names it gives them (one shard: the local runner writes one bundle).
:func:`write_eval_config` writes ``eval_config.json`` without Beam, as TFMA's writer would.
The records are made by TFMA's own functions (``convert_slice_*_to_proto``, its
``CombineValidations``); the test compares the files with those TFMA's writers write.
"""
from __future__ import annotations

import os
from typing import Any, Iterable

from beampipe.transforms.example_io import write_tfrecords

# TFMA's output keys and how its MetricsPlotsAndValidationsWriter names their files
# (``WriteToTFRecord``: shard template -SSSSS-of-NNNNN, none for validations).
_SHARDED = "-00000-of-00001.tfrecord"
_SINGLE = ".tfrecord"
_VALIDATIONS = "validations"  # tfma.constants.VALIDATIONS_KEY (checked by the test)


def updated_config(eval_config: Any, eval_shared_model: Any) -> Any:
    """The EvalConfig as ``ExtractEvaluateAndWriteResults`` hands it to its writers."""
    from tensorflow_model_analysis.api import model_eval_lib
    return model_eval_lib._update_eval_config_with_defaults(eval_config, eval_shared_model)


def _models(eval_shared_model: Any) -> list[Any]:
    from tensorflow_model_analysis.utils import model_util
    return model_util.verify_and_update_eval_shared_models(eval_shared_model) or []


def write_eval_config(output_path: str, eval_config: Any, eval_shared_model: Any) -> None:
    """``eval_config.json`` as TFMA's EvalConfigWriter writes it through ``WriteToText``
    (one line and a newline), with the display values TFMA's default writers give it."""
    from tensorflow_model_analysis.writers import eval_config_writer as ecw

    config = updated_config(eval_config, eval_shared_model)
    if ecw.EVAL_CONFIG_FILE in config.options.disabled_outputs.values:
        return
    locations = {m.model_name: "<unknown>" if m.model_path is None else m.model_path
                 for m in _models(eval_shared_model)} or {"": "<unknown>"}
    text = ecw._serialize_eval_run(config, "<user provided PCollection>", "<unknown>", locations)
    name = f"{ecw.EVAL_CONFIG_FILE}.{ecw.EVAL_CONFIG_FILE_FORMAT}"
    with open(os.path.join(output_path, name), "wb") as f:
        f.write(text.encode("utf-8") + b"\n")


def writers(output_path: str, eval_config: Any, eval_shared_model: Any) -> list[Any]:
    """The writers to pass ``ExtractEvaluateAndWriteResults`` in place of TFMA's defaults
    (with :func:`write_eval_config`, which covers the one left out)."""
    import apache_beam as beam
    import tensorflow_model_analysis as tfma
    from tensorflow_model_analysis.utils import model_util

    single = eval_shared_model if not isinstance(eval_shared_model, (list, dict)) else None
    callbacks = (single.add_metrics_callbacks if single is not None else None) or []
    rubber_stamp = model_util.has_rubber_stamp(_models(eval_shared_model))
    write = beam.ptransform_fn(_write_evaluation)(
        output_path=output_path, eval_config=updated_config(eval_config, eval_shared_model),
        callbacks=callbacks, rubber_stamp=rubber_stamp)
    return [tfma.writers.Writer(stage_name="WriteMetricsAndPlots", ptransform=write)]


def _record_outputs(callbacks: list[Any]) -> list[tuple[str, str, Any, Any]]:
    """(key, file suffix, TFMA's converter to a proto or None, the proto class) of each
    record output, as TFMA's MetricsPlotsAndValidationsWriter converts and names them."""
    import functools

    from tensorflow_model_analysis import constants
    from tensorflow_model_analysis.proto import metrics_for_slice_pb2 as mfs
    from tensorflow_model_analysis.proto import validation_result_pb2
    from tensorflow_model_analysis.writers import metrics_plots_and_validations_writer as w
    return [(constants.METRICS_KEY, _SHARDED,
             functools.partial(w.convert_slice_metrics_to_proto, add_metrics_callbacks=callbacks),
             mfs.MetricsForSlice),
            (constants.PLOTS_KEY, _SHARDED,
             functools.partial(w.convert_slice_plots_to_proto, add_metrics_callbacks=callbacks),
             mfs.PlotsForSlice),
            (constants.ATTRIBUTIONS_KEY, _SHARDED, w.convert_slice_attributions_to_proto,
             mfs.AttributionsForSlice),
            (constants.VALIDATIONS_KEY, _SINGLE, None, validation_result_pb2.ValidationResult)]


def _encoded(value: Any, key: str, convert: Any, proto: Any) -> tuple[str, bytes]:
    """The record ``WriteToTFRecord``'s ProtoCoder writes for one element, keyed by output."""
    import apache_beam as beam
    return key, beam.coders.ProtoCoder(proto).encode(value if convert is None else convert(value))


def _write_evaluation(evaluation: dict[str, Any], output_path: str, eval_config: Any,
                      callbacks: list[Any], rubber_stamp: bool) -> Any:
    """Every record output of an Evaluation through one GroupByKey into its file (the
    expansion of the writer's PTransform; module-level functions pickle by reference)."""
    import apache_beam as beam

    pipeline = next(iter(evaluation.values())).pipeline
    keyed, files = [], {}
    for key, suffix, convert, proto in _record_outputs(callbacks):
        if key not in evaluation:
            continue
        files[key] = os.path.join(output_path, key) + suffix
        keyed.append(evaluation[key] | f"Encode{key.title()}" >> beam.Map(
            _encoded, key, convert, proto))
    # Every file is written, with no records when its output has none (as the sinks do).
    every = pipeline | "Outputs" >> beam.Create([(key, None) for key in files], reshuffle=False)
    return ((*keyed, every) | "Flatten" >> beam.Flatten() | "Group" >> beam.GroupByKey()
            | "Write" >> beam.FlatMap(_write_output, files, eval_config, rubber_stamp))


def _write_output(element: tuple[str, Iterable[bytes | None]], files: dict[str, str],
                  eval_config: Any, rubber_stamp: bool) -> list[str]:
    """One output's records into its file; validations merged first, as TFMA does."""
    key, values = element
    records = [v for v in values if v is not None]
    if key == _VALIDATIONS:
        records = [_merged_validations(records, eval_config, rubber_stamp)]
    write_tfrecords(files[key], records, gzip=False)
    return [files[key]]


def _merged_validations(records: list[bytes], eval_config: Any, rubber_stamp: bool) -> bytes:
    """TFMA's ``CombineGlobally(CombineValidations)`` on one bundle: add every input in order,
    then extract (with no input: the default ``extract_output(create_accumulator())``)."""
    import apache_beam as beam
    from tensorflow_model_analysis.proto import validation_result_pb2
    from tensorflow_model_analysis.writers.metrics_plots_and_validations_writer import CombineValidations

    combine = CombineValidations(eval_config, rubber_stamp=rubber_stamp)
    accumulator = combine.create_accumulator()
    for record in records:
        accumulator = combine.add_input(accumulator, validation_result_pb2.ValidationResult.FromString(record))
    result = combine.extract_output(accumulator)
    return beam.coders.ProtoCoder(validation_result_pb2.ValidationResult).encode(result)
