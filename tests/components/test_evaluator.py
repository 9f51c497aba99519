"""Evaluator on real TFMA: a good model is blessed, thresholds and a baseline can refuse it."""
from __future__ import annotations

import json
import os
import re

from beampipe.components.base import Channel, ExecContext
from beampipe.components.evaluator import Evaluator
from beampipe.metadata.artifacts import Examples, Model, ModelBlessing, ModelEvaluation
from tests.components import model_fixtures as mf
from tests.components.testdata.tree import files_under


def run_evaluator(tmp_path, examples, model, eval_config, baseline=None, beam_args=(), **props):
    """Run the executor as the launcher would: empty staging dirs for outputs."""
    out = {"evaluation": [ModelEvaluation(str(tmp_path / "evaluation"))],
           "blessing": [ModelBlessing(str(tmp_path / "blessing"))]}
    for arts in out.values():
        os.makedirs(arts[0].uri)
    comp = Evaluator(examples=Channel(Examples), model=Channel(Model),
                     baseline_model=Channel(Model) if baseline else None,
                     eval_config=eval_config, **props)
    ctx = ExecContext(node_id="Evaluator", run_id="r", pipeline_name="p", pipeline_root=str(tmp_path),
                      inputs={"examples": [examples], "model": [model],
                              "baseline_model": [baseline] if baseline else []},
                      outputs=out, exec_properties=json.loads(json.dumps(comp.exec_properties)),
                      temp_dir=str(tmp_path / "tmp"), beam_pipeline_args=list(beam_args))
    Evaluator.execute(ctx)
    return out["evaluation"][0], out["blessing"][0]


def test_eval_config_travels_as_json():
    comp = Evaluator(examples=Channel(Examples), model=Channel(Model), eval_config=mf.eval_config_json(0.5))
    cfg = json.loads(comp.exec_properties["eval_config"])
    assert cfg["modelSpecs"][0]["labelKey"] == "species"


def test_good_model_blessed_and_threshold_refuses(tmp_path_factory, tmp_path):
    examples, model = mf.shared(tmp_path_factory, "examples"), mf.shared(tmp_path_factory, "model")
    evaluation, blessing = run_evaluator(tmp_path / "a", examples, model, mf.eval_config_json(0.8))
    assert os.path.exists(blessing.marker(True)) and not os.path.exists(blessing.marker(False))
    assert blessing.custom_properties["blessed"] == 1
    assert "sparse_categorical_accuracy" in json.loads(blessing.custom_properties["decided_by"])
    report = open(evaluation.report_file()).read()
    assert "Overall" in report and "island = Dream" in report and "sparse_categorical_accuracy" in report

    # an impossible bar: NOT blessed, and the message names the metric
    _, refused = run_evaluator(tmp_path / "b", examples, model, mf.eval_config_json(1.01))
    assert os.path.exists(refused.marker(False))
    assert not os.path.exists(refused.marker(True))
    assert refused.custom_properties["blessed"] == 0
    message = refused.custom_properties["message"]
    assert re.match(r"NOT BLESSED: sparse_categorical_accuracy is (1|0\.\d+) on Overall \(threshold >= 1\.01\); "
                    r"sparse_categorical_accuracy is [\d.]+ on slice island = \w+ \(threshold", message), message
    [overall] = [f for f in json.loads(refused.custom_properties["failures"]) if f["slice"] == "Overall"]
    assert overall["metric"] == "sparse_categorical_accuracy" and 0.5 < overall["value"] <= 1
    assert overall["threshold"] == ">= 1.01"


def test_worse_candidate_fails_change_threshold(tmp_path_factory, tmp_path):
    examples = mf.shared(tmp_path_factory, "examples")
    good, bad = mf.shared(tmp_path_factory, "model"), mf.shared(tmp_path_factory, "bad_model")
    config = mf.eval_config_json(0.0, change=-1e-10)  # must not get worse than the baseline
    # First run, no baseline: change thresholds are not applied (rubber stamp), so blessed.
    _, first = run_evaluator(tmp_path / "first", examples, bad, config)
    assert first.custom_properties["blessed"] == 1
    evaluation, blessing = run_evaluator(tmp_path / "second", examples, bad, config, baseline=good)
    assert blessing.custom_properties["blessed"] == 0
    assert "sparse_categorical_accuracy" in json.loads(blessing.custom_properties["decided_by"])
    message = blessing.custom_properties["message"]
    assert re.search(r"sparse_categorical_accuracy changed by -0\.\d+ against the baseline \(0\.\d+ vs "
                     r"(1|0\.\d+)\) on Overall \(threshold change >= -1e-10\)", message), message
    report = open(evaluation.report_file()).read()
    assert "baseline" in report and "change" in report
    # and the good model beats the bad baseline
    _, better = run_evaluator(tmp_path / "third", examples, good, config, baseline=bad)
    assert better.custom_properties["blessed"] == 1


def test_baseline_that_is_the_candidate_is_dropped():
    model, other = Model("/m/1"), Model("/m/2")
    model.id, other.id = 7, 8
    examples = [Examples("/e")]
    same = Evaluator.prepare_inputs({"examples": examples, "model": [model], "baseline_model": [model]})
    assert same["baseline_model"] == [] and same["model"] == [model]
    kept = Evaluator.prepare_inputs({"examples": examples, "model": [model], "baseline_model": [other]})
    assert kept["baseline_model"] == [other]
    unpublished = Model("/m/new")  # no id yet: never mistaken for the baseline
    assert Evaluator.prepare_inputs({"model": [unpublished], "baseline_model": [other]})["baseline_model"]


def test_unknown_metric_named_with_spellings(tmp_path):
    """Checked before the model loads: the message is about the EvalConfig, not Keras model code."""
    import pytest
    import tensorflow_model_analysis as tfma
    config = mf.eval_config_json(0.5)
    config.metrics_specs[0].metrics.add(class_name="SparseCategoricalAcuracy")
    with pytest.raises(ValueError) as err:
        run_evaluator(tmp_path, Examples(str(tmp_path / "none")), Model(str(tmp_path / "none")), config)
    message = str(err.value)
    for part in ("eval_config metrics_specs[0].metrics[2]", "class_name 'SparseCategoricalAcuracy'",
                 "Did you mean 'SparseCategoricalAccuracy'", "TFMA metrics: AUC,", "ExampleCount",
                 "Keras metrics (tf_keras.metrics): AUC, Accuracy,", "module="):
        assert part in message, message
    assert "custom_object_scope" not in message and "keras.utils" not in message

    bad_module = tfma.EvalConfig(metrics_specs=[tfma.MetricsSpec(metrics=[
        tfma.MetricConfig(class_name="MyMetric", module="no_such_package.metrics")])])
    with pytest.raises(ValueError, match="module 'no_such_package.metrics' \\(for class_name 'MyMetric'\\) "
                                         "cannot be imported"):
        run_evaluator(tmp_path / "b", Examples(str(tmp_path / "none")), Model(str(tmp_path / "none")), bad_module)


def test_feature_slicing_spec_adds_slices(tmp_path_factory, tmp_path):
    """TFX's FeatureSlicingSpec: each SingleSlicingSpec becomes a TFMA slice over its columns."""
    import pytest
    from beampipe.components.base import WiringError
    from beampipe.components.evaluator import _load_metrics
    from beampipe.proto import FeatureSlicingSpec, SingleSlicingSpec
    examples, model = mf.shared(tmp_path_factory, "examples"), mf.shared(tmp_path_factory, "model")
    config = mf.eval_config_json()
    del config.slicing_specs[:]
    config.slicing_specs.add()  # overall only
    spec = FeatureSlicingSpec(specs=[SingleSlicingSpec(), SingleSlicingSpec(column_for_slicing=["island"]),
                                     SingleSlicingSpec(column_for_slicing=["island", "sex"])])
    evaluation, _ = run_evaluator(tmp_path, examples, model, config, feature_slicing_spec=spec)
    slices = set(_load_metrics(evaluation.uri))
    assert {"Overall", "island = Dream", "island = Biscoe"} <= slices, slices
    assert any("island" in s and "sex" in s for s in slices), slices
    with pytest.raises(WiringError, match="Estimator EvalSavedModel"):
        Evaluator(examples=Channel(Examples), model=Channel(Model), feature_slicing_spec=spec)


def test_cloudpickle_outputs_equal_beams_default_pickler(tmp_path_factory, tmp_path):
    """The Evaluator plans with cloudpickle (faster); Beam's default pickler gives the same files."""
    examples, model = mf.shared(tmp_path_factory, "examples"), mf.shared(tmp_path_factory, "model")
    config = mf.eval_config_json(0.8)
    fast_eval, fast_bless = run_evaluator(tmp_path / "fast", examples, model, config)
    ref_eval, ref_bless = run_evaluator(tmp_path / "ref", examples, model, config,
                                        beam_args=["--pickle_library=default"])
    fast, ref = files_under(fast_eval.uri), files_under(ref_eval.uri)
    assert sorted(fast) == sorted(ref) and any(name.startswith("metrics") for name in fast)
    assert [name for name in fast if fast[name] != ref[name]] == []
    assert files_under(fast_bless.uri) == files_under(ref_bless.uri)
    assert fast_bless.custom_properties == ref_bless.custom_properties


_CHILD = r"""
import json, os, sys
sys.path.insert(0, os.getcwd())
from beampipe.components import evaluator
from beampipe.metadata.artifacts import Examples, Model
from tests.components import model_fixtures as mf
from tests.components.test_evaluator import run_evaluator
import pathlib
examples_uri, model_uri, out = sys.argv[1:4]
config = mf.eval_config_json(0.8)
examples = Examples(examples_uri)
examples.splits = ["train", "eval"]
# First in this fresh process: AutoGraph converts tf-keras as it did before (the reference).
from tensorflow.python.autograph.core import config as autograph
def skipped():
    return str(autograph.DoNotConvert("tf_keras")) in {str(r) for r in autograph.CONVERSION_RULES}
evaluator._SKIP_AUTOGRAPH = False
run_evaluator(pathlib.Path(out) / "ref", examples, Model(model_uri), config)
assert not skipped()
evaluator._SKIP_AUTOGRAPH = True
run_evaluator(pathlib.Path(out) / "fast", examples, Model(model_uri), config)
assert skipped()
"""


def test_evaluation_without_autograph_for_tf_keras_equals_with_it(tmp_path_factory, tmp_path):
    """AutoGraph's rules are process-wide and stay once set: the reference runs first, in a
    fresh process; both evaluations must write the same bytes."""
    import subprocess
    import sys

    examples, model = mf.shared(tmp_path_factory, "examples"), mf.shared(tmp_path_factory, "model")
    root = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
    subprocess.run([sys.executable, "-c", _CHILD, examples.uri, model.uri, str(tmp_path)],
                   cwd=root, check=True, timeout=600)
    for output in ("evaluation", "blessing"):
        fast, ref = files_under(tmp_path / "fast" / output), files_under(tmp_path / "ref" / output)
        assert sorted(fast) == sorted(ref) and fast
        assert [name for name in fast if fast[name] != ref[name]] == []
    assert any(name.startswith("metrics") for name in files_under(tmp_path / "fast" / "evaluation"))
