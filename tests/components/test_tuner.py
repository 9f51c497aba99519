"""Tuner with the penguin module file: best hyperparameters, which Trainer then uses."""
from __future__ import annotations

import json
import os

import pytest

from tests.components.testdata.penguin_inputs import own_tmp_path  # noqa: F401 (fixture tmp_path)

from beampipe.components.base import ExecContext
from beampipe.components.tuner import Tuner, TunerFnResult
from beampipe.metadata.artifacts import HyperParameters
from tests.components.testdata.penguin_inputs import PENGUIN_MODULE, make_outputs, transformed_penguin


def tune(root: str, props: dict) -> ExecContext:
    t = transformed_penguin()
    ctx = ExecContext(node_id="Tuner", run_id="r", pipeline_name="p", pipeline_root=root,
                      inputs={"examples": [t["transformed_examples"]],
                              "transform_graph": [t["transform_graph"]]},
                      outputs=make_outputs(Tuner, os.path.join(root, "out")),
                      exec_properties=props, temp_dir=os.path.join(root, "tmp"))
    Tuner.execute(ctx)
    return ctx


@pytest.mark.e2e
def test_best_hyperparameters_reach_trainer(tmp_path) -> None:
    import tensorflow as tf

    from tests.components.test_trainer import serving_metrics, train

    ctx = tune(str(tmp_path / "tune"), {"module_file": PENGUIN_MODULE, "train_args": {"num_steps": 30},
                                        "eval_args": {"num_steps": 5}, "tune_args": {"num_parallel_trials": 2}})
    best = ctx.output("best_hyperparameters")
    config = json.load(open(os.path.join(best.uri, "best_hyperparameters.txt")))
    assert set(config["values"]) == {"learning_rate", "hidden_units"}
    assert {p["config"]["name"] for p in config["space"]} == {"learning_rate", "hidden_units"}

    units = config["values"]["hidden_units"]
    tctx = train(str(tmp_path / "train"), {"module_file": PENGUIN_MODULE, "train_args": {"num_steps": 100},
                                           "eval_args": {"num_steps": 5}},
                 {"hyperparameters": [HyperParameters(best.uri)]})
    model = tf.saved_model.load(tctx.output("model").serving_dir())
    kernels = sorted(tuple(v.shape) for v in model.trainable_variables if len(v.shape) == 2)
    assert kernels == sorted([(4, units), (units, 3)])  # the model was built with the tuned size
    accuracy, _ = serving_metrics(tctx.output("model").uri, transformed_penguin()["transform_graph"].uri)
    assert accuracy >= 0.9


@pytest.mark.parametrize("body,needle", [
    ("def tuner_fn(fn_args):\n    return 42\n", "must return TunerFnResult"),
    ("def tuner_fn(fn_args):\n    raise KeyError('lost')\n", "lost"),
    ("x = = 1\n", "syntax error"),
    ("def run_fn(fn_args):\n    pass\n", "defines no function 'tuner_fn'"),
])
def test_broken_tuner_module_names_file_and_function(tmp_path, body: str, needle: str) -> None:
    module = tmp_path / "my_tuner_module.py"
    module.write_text(body)
    with pytest.raises(ValueError) as info:
        tune(str(tmp_path), {"module_file": str(module)})
    message = str(info.value)
    assert str(module) in message and "tuner_fn" in message and needle in message


def test_tuner_fn_result_has_tfx_fields() -> None:
    result = TunerFnResult(tuner="t", fit_kwargs={"x": 1})
    assert result.tuner == "t" and result.fit_kwargs == {"x": 1}
