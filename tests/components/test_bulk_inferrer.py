"""BulkInferrer on tfx-bsl RunInference with a tf-keras model exported with a raw-example signature."""
from __future__ import annotations

import glob
import os

import pytest

from beampipe.components.base import Channel, ExecContext
from beampipe.components.bulk_inferrer import BulkInferrer
from beampipe.metadata.artifacts import Examples, InferenceResult, Model
from beampipe.proto.serving import DataSpec, OutputExampleSpec
from tests.components import model_fixtures as mf


def run_inferrer(tmp_path, examples, model, blessing=None, **kwargs):
    """Run the executor as the launcher would; the Examples it records (None: dropped)."""
    out = {"inference_result": [InferenceResult(str(tmp_path / "result"))],
           "output_examples": [Examples(str(tmp_path / "output_examples"))]}
    for arts in out.values():
        os.makedirs(arts[0].uri)
    comp = BulkInferrer(examples=Channel(Examples), model=Channel(Model), **kwargs)
    ctx = ExecContext(node_id="BulkInferrer", run_id="r", pipeline_name="p", pipeline_root=str(tmp_path),
                      inputs={"examples": [examples], "model": [model],
                              "model_blessing": [blessing] if blessing else []}, outputs=out,
                      exec_properties=comp.exec_properties, temp_dir=str(tmp_path / "tmp"))
    BulkInferrer.execute(ctx)
    assert ctx.outputs is out
    return out["inference_result"][0], (out["output_examples"][0] if "output_examples" in out else None)


def test_one_prediction_per_example(tmp_path_factory, tmp_path):
    import tensorflow as tf
    from tensorflow_serving.apis import prediction_log_pb2
    examples, model = mf.shared(tmp_path_factory, "examples"), mf.shared(tmp_path_factory, "model")
    result, out_examples = run_inferrer(tmp_path, examples, model, data_spec=DataSpec(example_splits=["eval"]))
    assert out_examples is None  # no output_example_spec: no Examples recorded
    files = glob.glob(result.prediction_logs_prefix("eval") + "*" + result.LOGS_SUFFIX)
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
    assert out is not None and out.splits == ["eval"]
    assert os.listdir(out.split_uri("eval")) == [Examples.shard_name(0, 1)]
    records = mf.read_examples(out.uri, "eval")
    assert len(records) == 60
    ex = tf.train.Example.FromString(records[0])
    assert len(ex.features.feature["pred_outputs"].float_list.value) == 3
    assert ex.features.feature["island"].bytes_list.value  # the input features are kept


def test_unblessed_model_infers_nothing_and_records_no_examples(tmp_path_factory, tmp_path):
    examples, model = mf.shared(tmp_path_factory, "examples"), mf.shared(tmp_path_factory, "model")
    result, out = run_inferrer(tmp_path, examples, model, blessing=mf.blessing(str(tmp_path / "bl"), False),
                               output_example_spec=OutputExampleSpec(feature_prefix="pred_"))
    assert result.custom_properties["inferred"] == 0 and out is None
    assert os.listdir(result.uri) == []


@pytest.mark.e2e
def test_pipeline_records_output_examples_only_when_asked(tmp_path_factory, tmp_path):
    """Through the launcher: without output_example_spec no Examples artifact is LIVE (and no
    directory of it is left), with it one is, holding the examples."""
    from beampipe.metadata.store import MetadataStore
    from beampipe.orchestration.local_runner import LocalDagRunner
    from beampipe.orchestration.pipeline import Pipeline
    from tests.components.test_pusher import CopyModel, PenguinData

    def pipeline(**spec):
        data = PenguinData()
        trainer = CopyModel(examples=data.outputs["examples"],
                            source=mf.shared(tmp_path_factory, "model").uri).with_id("Trainer")
        infer = BulkInferrer(examples=data.outputs["examples"], model=trainer.outputs["model"],
                             data_spec=DataSpec(example_splits=["eval"]), **spec)
        return Pipeline("infer", str(tmp_path), [data, trainer, infer])

    store = MetadataStore(os.path.join(str(tmp_path), "metadata.sqlite"))
    plain = LocalDagRunner().run(pipeline())
    assert plain.status == "COMPLETE", [(r.node_id, r.error) for r in plain.failed]
    recorded = store.artifacts_of(plain.nodes["BulkInferrer"].execution_id)
    assert sorted(recorded) == ["inference_result"]
    assert not os.path.exists(os.path.join(str(tmp_path), "BulkInferrer", "output_examples"))

    asked = LocalDagRunner().run(pipeline(output_example_spec=OutputExampleSpec(feature_prefix="pred_")))
    assert asked.nodes["BulkInferrer"].status == "COMPLETE"
    [out] = store.artifacts_of(asked.nodes["BulkInferrer"].execution_id)["output_examples"]
    store.close()
    assert out.state == "LIVE" and out.splits == ["eval"] and len(mf.read_examples(out.uri, "eval")) == 60
