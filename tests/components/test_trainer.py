"""Trainer with the penguin module file on real transformed data: accuracy, serving, failures."""
from __future__ import annotations

import os
import time

import pytest

from tests.components.testdata.penguin_inputs import own_tmp_path  # noqa: F401 (fixture tmp_path)

from beampipe.components.base import ExecContext
from beampipe.components.trainer import Trainer
from beampipe.metadata import layout
from beampipe.metadata.artifacts import Model, TransformGraph
from tests.components.testdata.penguin_inputs import (PENGUIN_MODULE, make_outputs, penguin_rows,
                                                      to_example, transformed_penguin)


def train(root: str, props: dict, extra_inputs: dict | None = None) -> ExecContext:
    t = transformed_penguin()
    inputs = {"examples": [t["transformed_examples"]], "transform_graph": [t["transform_graph"]],
              **(extra_inputs or {})}
    ctx = ExecContext(node_id="Trainer", run_id="r", pipeline_name="p", pipeline_root=root,
                      inputs=inputs, outputs=make_outputs(Trainer, os.path.join(root, "out")),
                      exec_properties=props, temp_dir=os.path.join(root, "tmp"))
    Trainer.execute(ctx)
    return ctx


def serving_metrics(model_uri: str, graph_uri: str) -> tuple[float, float]:
    """Accuracy and log loss of the exported model on the eval rows, fed as serialized raw tf.Examples
    without the label: serving applies the transform graph itself."""
    import tensorflow as tf

    model = tf.saved_model.load(Model(model_uri).serving_dir())
    serve = model.signatures["serving_default"]
    rows = [r for i, r in enumerate(penguin_rows()) if i % 3 == 0]
    serialized = tf.constant([to_example(r, drop=("species",)).SerializeToString() for r in rows])
    import numpy as np

    probabilities = serve(examples=serialized)["probabilities"].numpy()
    vocab = open(layout.join(TransformGraph(graph_uri).transform_fn_dir(), "assets", "species")).read().split()
    truth = np.array([vocab.index(r["species"]) for r in rows])
    accuracy = float((probabilities.argmax(axis=1) == truth).mean())
    log_loss = float(-np.log(probabilities[np.arange(len(rows)), truth] + 1e-7).mean())
    return accuracy, log_loss


@pytest.mark.e2e
def test_penguin_trains_to_high_accuracy_and_serves_raw_examples(tmp_path) -> None:
    import tensorflow as tf

    t = transformed_penguin()
    tf.keras.utils.set_random_seed(0)
    started = time.time()
    ctx = train(str(tmp_path / "good"), {"module_file": PENGUIN_MODULE,
                                         "train_args": {"num_steps": 200}, "eval_args": {"num_steps": 10}})
    seconds = time.time() - started
    good, good_loss = serving_metrics(ctx.output("model").uri, t["transform_graph"].uri)
    print(f"\ntrainer: 200 steps in {seconds:.1f}s (incl. export), "
          f"eval accuracy {good:.3f}, log loss {good_loss:.3f}")
    assert good >= 0.9
    assert os.listdir(ctx.output("model_run").uri)  # TensorBoard logs
    sig = tf.saved_model.load(ctx.output("model").serving_dir()) \
        .signatures["serving_default"]
    assert list(sig.structured_input_signature[1]) == ["examples"]

    tf.keras.utils.set_random_seed(0)
    ctx = train(str(tmp_path / "one_step"), {"module_file": PENGUIN_MODULE,
                                             "train_args": {"num_steps": 1}, "eval_args": {"num_steps": 1}})
    bad, bad_loss = serving_metrics(ctx.output("model").uri, t["transform_graph"].uri)
    print(f"trainer: 1 step, eval accuracy {bad:.3f}, log loss {bad_loss:.3f}")
    assert bad < good and bad_loss > 3 * good_loss


def _module(tmp_path, body: str) -> str:
    path = tmp_path / "my_trainer_module.py"
    path.write_text(body)
    return str(path)


@pytest.mark.parametrize("body,needle", [
    ("def run_fn(fn_args):\n    return (\n", "syntax error"),
    ("def train(fn_args):\n    pass\n", "defines no function 'run_fn'"),
    ("def run_fn(fn_args):\n    raise RuntimeError('out of coffee')\n", "out of coffee"),
    ("def run_fn(fn_args):\n    pass\n", "without exporting a SavedModel"),
])
def test_broken_module_file_names_file_and_function(tmp_path, body: str, needle: str) -> None:
    module = _module(tmp_path, body)
    with pytest.raises(ValueError) as info:
        train(str(tmp_path), {"module_file": module})
    message = str(info.value)
    assert module in message and "run_fn" in message and needle in message


def test_run_fn_by_import_path_gets_tfx_fn_args(tmp_path) -> None:
    """run_fn as an import path; FnArgs carries TFX's fields."""
    import json

    t = transformed_penguin()
    ctx = train(str(tmp_path), {"run_fn": "tests.components.testdata.fake_run_fn.run_fn",
                                "train_args": {"num_steps": 7}, "eval_args": {"num_steps": 3},
                                "custom_config": {"k": 1}})
    seen = json.load(open(layout.join(ctx.output("model").serving_dir(), "fn_args.json")))
    assert seen["train_steps"] == 7 and seen["eval_steps"] == 3
    assert seen["transform_output"] == seen["transform_graph_path"] == t["transform_graph"].uri
    assert seen["train_files"] == [t["transformed_examples"].split_files("train")]
    assert seen["eval_files"] == [t["transformed_examples"].split_files("eval")]
    assert seen["serving_model_dir"] == ctx.output("model").serving_dir()
    assert seen["eval_model_dir"] == ctx.output("model").eval_dir()
    assert seen["model_run_dir"] == ctx.output("model_run").uri
    assert seen["custom_config"] == {"k": 1} and seen["hyperparameters"] is None


@pytest.mark.e2e
def test_pipeline_with_broken_run_fn_fails_and_leaves_nothing_live(tmp_path) -> None:
    """Through the launcher: the Trainer execution is FAILED and it published nothing."""
    from beampipe.components import CsvExampleGen, SchemaGen, StatisticsGen, Transform
    from beampipe.metadata.store import MetadataStore
    from beampipe.orchestration.local_runner import LocalDagRunner
    from beampipe.orchestration.pipeline import Pipeline

    module = _module(tmp_path, "def run_fn(fn_args):\n    raise RuntimeError('out of coffee')\n")
    data = os.path.join(os.path.dirname(__file__), "..", "..", "examples", "penguin", "data")
    gen = CsvExampleGen(input_base=os.path.abspath(data))
    stats = StatisticsGen(examples=gen.outputs["examples"])
    schema = SchemaGen(statistics=stats.outputs["statistics"])
    transform = Transform(examples=gen.outputs["examples"], schema=schema.outputs["schema"],
                          module_file=PENGUIN_MODULE)
    trainer = Trainer(examples=transform.outputs["transformed_examples"], module_file=module,
                      transform_graph=transform.outputs["transform_graph"])
    root = str(tmp_path / "root")
    pipeline = Pipeline("penguin-broken", root, [gen, stats, schema, transform, trainer],
                        metadata_uri=str(tmp_path / "mlmd.sqlite"))
    result = LocalDagRunner().run(pipeline)
    assert result.status == "FAILED"
    failed = result.nodes["Trainer"]
    assert failed.status == "FAILED" and module in failed.error and "run_fn" in failed.error
    assert result.nodes["Transform"].status == "COMPLETE"
    store = MetadataStore(str(tmp_path / "mlmd.sqlite"))
    assert store.execution(failed.execution_id)["state"] == "FAILED"
    assert not os.path.exists(os.path.join(root, "Trainer"))


@pytest.mark.e2e
def test_penguin_pipeline_end_to_end_then_fully_cached(tmp_path) -> None:
    """ExampleGen -> StatisticsGen -> SchemaGen -> Transform -> Tuner -> Trainer with the runner;
    a second run settles every node from the cache."""
    from beampipe.components import CsvExampleGen, SchemaGen, StatisticsGen, Transform, Tuner
    from beampipe.orchestration.local_runner import LocalDagRunner
    from beampipe.orchestration.pipeline import Pipeline
    from beampipe.proto.model import EvalArgs, TrainArgs

    data = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..", "examples", "penguin", "data"))
    gen = CsvExampleGen(input_base=data)
    stats = StatisticsGen(examples=gen.outputs["examples"])
    schema = SchemaGen(statistics=stats.outputs["statistics"])
    transform = Transform(examples=gen.outputs["examples"], schema=schema.outputs["schema"],
                          module_file=PENGUIN_MODULE)
    tuner = Tuner(examples=transform.outputs["transformed_examples"], module_file=PENGUIN_MODULE,
                  transform_graph=transform.outputs["transform_graph"],
                  train_args=TrainArgs(num_steps=20), eval_args=EvalArgs(num_steps=5))
    trainer = Trainer(examples=transform.outputs["transformed_examples"], module_file=PENGUIN_MODULE,
                      transform_graph=transform.outputs["transform_graph"],
                      hyperparameters=tuner.outputs["best_hyperparameters"],
                      train_args=TrainArgs(num_steps=200), eval_args=EvalArgs(num_steps=10))
    pipeline = Pipeline("penguin-train", str(tmp_path / "root"),
                        [gen, stats, schema, transform, tuner, trainer],
                        metadata_uri=str(tmp_path / "mlmd.sqlite"))
    first = LocalDagRunner().run(pipeline)
    assert first.status == "COMPLETE", [(r.node_id, r.error) for r in first.failed]
    from beampipe.metadata.store import MetadataStore
    store = MetadataStore(str(tmp_path / "mlmd.sqlite"))  # the recorded URIs (<execution>-<attempt>)
    [model] = store.artifacts_of(first.nodes["Trainer"].execution_id)["model"]
    [graph] = store.artifacts_of(first.nodes["Transform"].execution_id)["transform_graph"]
    store.close()
    accuracy, _ = serving_metrics(model.uri, graph.uri)
    print(f"\npipeline: {first.seconds:.1f}s, accuracy {accuracy:.3f}")
    assert accuracy >= 0.9
    second = LocalDagRunner().run(pipeline)
    assert {r.status for r in second.nodes.values()} == {"CACHED"}
