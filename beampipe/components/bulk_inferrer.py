"""BulkInferrer: batch predictions over Examples with tfx-bsl's RunInference.

Why a custom model loader: tfx-bsl loads a SavedModel with the TF1 loader into a
``tf.compat.v1.Session`` and feeds graph tensor names. That path restores variables by
their graph names, which is where TF2/Keras exports can fail ("Could not find variable
dense_x/bias", reported for TFX 1.16's BulkInferrer). We pass RunInference a
``load_override_fn`` that loads the model the TF2 way (``tf.saved_model.load``, object-based
restore) behind the small Session-like ``run(fetches, feed_dict)`` RunInference calls, so
tfx-bsl keeps batching, signature checks and PredictionLog building. (On this stack the stock
loader also worked on our exports - the test fixture and the penguin Trainer's model - so
the override is a guard against that failure mode, not a fix for one we reproduced.)

``output_examples`` is produced only when ``output_example_spec`` asks for it (TFX declares
that channel only then); otherwise the executor drops it (``ctx.drop_output``) and no empty
Examples artifact is recorded. Without the spec, prediction logs go to ``inference_result``.
With it, each signature's results go into the columns its ``OutputColumnsSpec`` names
(classify labels/scores, regress value, named predict outputs), by TFX's rules
(``transforms.prediction_to_example``); several classify/regress signatures in
``model_spec`` run as one multi-inference.
"""
from __future__ import annotations

import os
from typing import Any

from beampipe.components.base import BaseComponent, Channel, ExecContext, In, Out, Param
from beampipe.components.evaluator import serving_model_path, why_not_blessed
from beampipe.metadata.artifacts import Examples, InferenceResult, Model, ModelBlessing
from beampipe.proto.serving import DataSpec, ModelSpec, OutputExampleSpec, from_dict


class BulkInferrer(BaseComponent):
    INPUTS = {"examples": In(Examples), "model": In(Model),
              "model_blessing": In(ModelBlessing, optional=True)}
    OUTPUTS = {"inference_result": Out(InferenceResult), "output_examples": Out(Examples)}
    PARAMETERS = {"data_spec": Param(dict), "model_spec": Param(dict),
                  "output_example_spec": Param(dict)}

    def __init__(self, examples: Channel, model: Channel, model_blessing: Channel | None = None,
                 data_spec: DataSpec | None = None, model_spec: ModelSpec | None = None,
                 output_example_spec: OutputExampleSpec | None = None) -> None:
        super().__init__({"examples": examples, "model": model, "model_blessing": model_blessing},
                         {"data_spec": data_spec, "model_spec": model_spec,
                          "output_example_spec": output_example_spec})

    @classmethod
    def execute(cls, ctx: ExecContext) -> None:
        import apache_beam as beam
        from tfx_bsl.public.beam import RunInference
        from tfx_bsl.public.proto import model_spec_pb2

        from beampipe.transforms.beam_util import read_records, reads_in_order
        from beampipe.transforms.prediction_to_example import prediction_to_example
        from beampipe.transforms.tfdv_io import example_files

        examples, model = ctx.input("examples"), ctx.input("model")
        blessing = ctx.optional_input("model_blessing")
        result = ctx.output("inference_result")
        out_spec = from_dict(OutputExampleSpec, ctx.prop("output_example_spec"))
        out_examples = ctx.output("output_examples") if out_spec is not None else None
        if blessing is not None and not os.path.exists(blessing.marker(blessed=True)):
            ctx.log.warning("model %s is NOT BLESSED (%s): no inference", model.uri, why_not_blessed(blessing))
            result.custom_properties["inferred"] = 0
            ctx.drop_output("output_examples")  # nothing inferred: no examples to record
            return
        if out_examples is None:
            ctx.drop_output("output_examples")
        data_spec = from_dict(DataSpec, ctx.prop("data_spec")) or DataSpec()
        model_spec = from_dict(ModelSpec, ctx.prop("model_spec")) or ModelSpec()
        splits = data_spec.example_splits or examples.splits
        missing = [s for s in splits if s not in examples.splits]
        if missing:
            raise ValueError(f"node '{ctx.node_id}': Examples at {examples.uri} have splits "
                             f"{examples.splits}, not {missing}")
        path = serving_model_path(model)
        spec = model_spec_pb2.InferenceSpecType(saved_model_spec=model_spec_pb2.SavedModelSpec(
            model_path=path, signature_name=model_spec.model_signature_name or ["serving_default"],
            tag=model_spec.tag or ["serve"]))
        gzip = beam.io.filesystem.CompressionTypes.GZIP
        # On the local runner each split is read as one ordered stream, so Beam's sink writes the
        # predictions in input order, the same bytes every run (see beam_util.reads_in_order).
        in_order = reads_in_order(ctx.beam_pipeline_args)
        with ctx.beam_pipeline() as p:
            for split in splits:
                logs = (read_records(p, f"Read[{split}]", example_files(ctx.split_uri(examples, split)),
                                     in_order)
                        | f"Infer[{split}]" >> RunInference(spec, load_override_fn=load_tf2_model))
                if out_examples is not None:
                    _ = (logs | f"ToExample[{split}]" >> beam.Map(prediction_to_example, out_spec)
                         | f"WriteExamples[{split}]" >> beam.io.WriteToTFRecord(
                             out_examples.shard_prefix(split), file_name_suffix=Examples.SHARD_SUFFIX,
                             compression_type=gzip))
                else:
                    from tensorflow_serving.apis import prediction_log_pb2
                    _ = logs | f"Write[{split}]" >> beam.io.WriteToTFRecord(
                        result.prediction_logs_prefix(split), file_name_suffix=result.LOGS_SUFFIX,
                        compression_type=gzip, coder=beam.coders.ProtoCoder(prediction_log_pb2.PredictionLog))
        if out_examples is not None:
            out_examples.splits = splits
        result.custom_properties["inferred"] = 1
        result.custom_properties["split_names"] = ",".join(splits)


class _TF2Session:
    """What RunInference needs of a tf.compat.v1.Session, over a TF2-loaded SavedModel.

    A fetch may belong to several signatures fed by the same input (multi-inference: classify
    and regress); each signature that has a fetched output is called once per batch."""

    def __init__(self, model_path: str, tags: Any) -> None:
        import tensorflow as tf
        from tensorflow.python.saved_model import loader_impl

        self._model = tf.saved_model.load(model_path, tags=list(tags))
        meta = loader_impl.parse_saved_model(model_path).meta_graphs[0]
        # signature -> {graph input tensor name: alias}; graph output tensor name -> [(signature, alias)]
        self._inputs: dict[str, dict[str, str]] = {}
        self._outputs: dict[str, list[tuple[str, str]]] = {}
        for sig_name, sig in meta.signature_def.items():
            self._inputs[sig_name] = {info.name: alias for alias, info in sig.inputs.items()}
            for alias, info in sig.outputs.items():
                self._outputs.setdefault(info.name, []).append((sig_name, alias))

    def run(self, fetches: Any, feed_dict: dict[str, Any]) -> Any:
        import tensorflow as tf
        [(name, batch)] = feed_dict.items()
        called: dict[str, Any] = {}

        def value(tensor_name: str) -> Any:
            for sig_name, out_alias in self._outputs[tensor_name]:
                alias = self._inputs[sig_name].get(name)
                if alias is None:
                    continue
                if sig_name not in called:
                    called[sig_name] = self._model.signatures[sig_name](**{alias: tf.constant(batch)})
                return called[sig_name][out_alias].numpy()
            raise KeyError(f"no signature fed by {name!r} outputs {tensor_name!r}")

        if isinstance(fetches, dict):  # as Session.run: the fetch structure is kept
            return {key: value(name) for key, name in fetches.items()}
        return [value(name) for name in fetches]

    def close(self) -> None:
        self._model = None


def load_tf2_model(model_path: str, tags: Any) -> _TF2Session:
    return _TF2Session(model_path, tags)
