"""BulkInferrer on tfx-bsl RunInference with a tf-keras model exported with a raw-example signature."""
from __future__ import annotations

import glob
import os

from beampipe.components.base import Channel, ExecContext
from beampipe.components.bulk_inferrer import BulkInferrer
from beampipe.metadata.artifacts import Examples, InferenceResult, Model
from beampipe.proto.serving import DataSpec, OutputExampleSpec
from tests.components import model_fixtures as mf


def run_inferrer(tmp_path, examples, model, **kwargs):
    out = {"inference_result": [InferenceResult(str(tmp_path / "result"))],
           "output_examples": [Examples(str(tmp_path / "output_examples"))]}
    for arts in out.values():
        os.makedirs(arts[0].uri)
    comp = BulkInferrer(examples=Channel(Examples), model=Channel(Model), **kwargs)
    ctx = ExecContext(node_id="BulkInferrer", run_id="r", pipeline_name="p", pipeline_root=str(tmp_path),
                      inputs={"examples": [examples], "model": [model]}, outputs=out,
                      exec_properties=comp.exec_properties, temp_dir=str(tmp_path / "tmp"))
    BulkInferrer.execute(ctx)
    return out["inference_result"][0], out["output_examples"][0]


def test_one_prediction_per_example(tmp_path_factory, tmp_path):
    import tensorflow as tf
    from tensorflow_serving.apis import prediction_log_pb2
    examples, model = mf.shared(tmp_path_factory, "examples"), mf.shared(tmp_path_factory, "model")
    result, _ = run_inferrer(tmp_path, examples, model, data_spec=DataSpec(example_splits=["eval"]))
    files = glob.glob(os.path.join(result.uri, "prediction_logs-eval*.gz"))
    logs = [prediction_log_pb2.PredictionLog.FromString(r.numpy())
            for r in tf.data.TFRecordDataset(files, "GZIP")]
    inputs = mf.read_examples(examples.uri, "eval")
    assert len(logs) == len(inputs) == 60
    species = []
    for log in logs:
        probs = tf.make_ndarray(log.predict_log.response.outputs["outputs"]).reshape(-1)
        assert probs.shape == (3,) and abs(probs.sum() - 1) < 1e-4
        [raw] = log.predict_log.request.inputs["examples"].string_val
        truth = tf.train.Example.FromString(raw).features.feature["species"].bytes_list.value[0].decode()
        species.append(mf.SPECIES[int(probs.argmax())] == truth)
    assert sum(species) / len(species) > 0.8  # the predictions belong to their examples


def test_output_examples(tmp_path_factory, tmp_path):
    import tensorflow as tf
    examples, model = mf.shared(tmp_path_factory, "examples"), mf.shared(tmp_path_factory, "model")
    _, out = run_inferrer(tmp_path, examples, model, data_spec=DataSpec(example_splits=["eval"]),
                          output_example_spec=OutputExampleSpec(feature_prefix="pred_"))
    assert out.splits == ["eval"]
    records = mf.read_examples(out.uri, "eval")
    assert len(records) == 60
    ex = tf.train.Example.FromString(records[0])
    assert len(ex.features.feature["pred_outputs"].float_list.value) == 3
    assert ex.features.feature["island"].bytes_list.value  # the input features are kept
