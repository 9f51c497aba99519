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


# -- output_example_spec: TFX's OutputColumnsSpec (classify / regress / predict columns) -----------

def _classify_regress_model(tmp_path_factory):
    if "classify_regress" not in mf._CACHE:
        mf._CACHE["classify_regress"] = mf.export_classify_regress_model(
            str(tmp_path_factory.mktemp("classify_regress")))
    return Model(mf._CACHE["classify_regress"].uri)


def _feature(ex, name):
    f = ex.features.feature[name]
    return list(f.bytes_list.value or f.float_list.value or f.int64_list.value)


def test_classify_and_regress_columns_multi_inference(tmp_path_factory, tmp_path):
    """Two signatures = one multi-inference; each spec's columns get its signature's results."""
    import tensorflow as tf
    from beampipe.proto import ClassifyOutput, ModelSpec, OutputColumnsSpec, RegressOutput
    examples = mf.shared(tmp_path_factory, "examples")
    spec = OutputExampleSpec(output_columns_spec=[
        OutputColumnsSpec(signature_name="classify",
                          classify_output=ClassifyOutput(label_column="pred_label", score_column="pred_score")),
        OutputColumnsSpec(signature_name="regress", regress_output=RegressOutput(value_column="mass_kg"))])
    _, out = run_inferrer(tmp_path, examples, _classify_regress_model(tmp_path_factory),
                          data_spec=DataSpec(example_splits=["eval"]),
                          model_spec=ModelSpec(model_signature_name=["classify", "regress"]),
                          output_example_spec=spec)
    records = [tf.train.Example.FromString(r) for r in mf.read_examples(out.uri, "eval")]
    assert len(records) == 60
    for ex in records:
        assert _feature(ex, "pred_label") == [s.encode() for s in mf.SPECIES]
        scores = _feature(ex, "pred_score")
        assert len(scores) == 3 and abs(sum(scores) - 1) < 1e-4
        flipper, mass = _feature(ex, "flipper_length_mm")[0], _feature(ex, "body_mass_g")[0]
        assert (scores.index(max(scores)) == 2) == (flipper > 205)
        assert _feature(ex, "mass_kg") == pytest.approx([mass / 1000.0])
        assert _feature(ex, "island")  # the input features are kept


def test_predict_output_columns_only_the_named_outputs(tmp_path_factory, tmp_path):
    import tensorflow as tf
    from beampipe.proto import OutputColumnsSpec, PredictOutput, PredictOutputCol
    examples, model = mf.shared(tmp_path_factory, "examples"), mf.shared(tmp_path_factory, "model")
    spec = OutputExampleSpec(output_columns_spec=[OutputColumnsSpec(predict_output=PredictOutput(
        output_columns=[PredictOutputCol(output_key="outputs", output_column="probabilities")]))])
    _, out = run_inferrer(tmp_path, examples, model, data_spec=DataSpec(example_splits=["eval"]),
                          output_example_spec=spec)
    ex = tf.train.Example.FromString(mf.read_examples(out.uri, "eval")[0])
    assert len(_feature(ex, "probabilities")) == 3 and "outputs" not in ex.features.feature


def _classify_log(label_column="", score_column=""):
    from tensorflow_serving.apis import prediction_log_pb2
    log = prediction_log_pb2.PredictionLog()
    ex = log.classify_log.request.input.example_list.examples.add()
    ex.features.feature["species"].bytes_list.value.append(b"Adelie")
    cls = log.classify_log.response.result.classifications.add()
    for label, score in [("a", 0.25), ("b", 0.75)]:
        cls.classes.add(label=label, score=score)
    return log


def test_prediction_to_example_follows_tfx_rules():
    """Unit level: empty column names are not written, wrong output type and an existing column
    are errors, a single-signature log needs exactly one spec (as TFX's converter)."""
    import tensorflow as tf
    from beampipe.proto import ClassifyOutput, OutputColumnsSpec, RegressOutput
    from beampipe.transforms.prediction_to_example import prediction_to_example

    def spec(*cols):
        return OutputExampleSpec(output_columns_spec=list(cols))

    ex = tf.train.Example.FromString(prediction_to_example(
        _classify_log(), spec(OutputColumnsSpec(classify_output=ClassifyOutput(score_column="s")))))
    assert sorted(ex.features.feature) == ["s", "species"] and _feature(ex, "s") == [0.25, 0.75]
    with pytest.raises(ValueError, match="needs classify_output, not regress_output"):
        prediction_to_example(_classify_log(), spec(OutputColumnsSpec(regress_output=RegressOutput("v"))))
    with pytest.raises(ValueError, match="'species' already exists"):
        prediction_to_example(_classify_log(), spec(OutputColumnsSpec(
            classify_output=ClassifyOutput(label_column="species"))))
    with pytest.raises(ValueError, match="exactly one output_columns_spec"):
        prediction_to_example(_classify_log(), spec())
