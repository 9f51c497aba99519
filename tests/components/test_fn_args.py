"""TFX's module-file contract: names, loading errors, DataAccessor datasets, lazy imports."""
from __future__ import annotations

import os
import subprocess
import sys

import pytest

from tests.components.testdata.penguin_inputs import own_tmp_path  # noqa: F401 (fixture tmp_path)

from beampipe.components.fn_args import DataAccessor, FnArgs, load_user_fn


def test_tfx_names_from_top_level() -> None:
    import beampipe as tfx

    assert tfx.components.FnArgs is FnArgs
    assert tfx.components.DataAccessor is DataAccessor
    assert tfx.components.TunerFnResult._fields == ("tuner", "fit_kwargs")
    args = tfx.proto.TrainArgs(num_steps=100)
    assert args.num_steps == 100 and args.splits == []
    assert tfx.proto.EvalArgs(num_steps=5, splits=["eval"]).splits == ["eval"]
    assert tfx.proto.TuneArgs(num_parallel_trials=3).num_parallel_trials == 3


def test_fn_args_fields_and_alias() -> None:
    args = FnArgs(transform_output="/graph", train_files=["a/*"])
    assert args.transform_graph_path == "/graph"
    for name in ("train_files", "eval_files", "transform_output", "schema_path", "schema_file",
                 "serving_model_dir", "model_run_dir", "train_steps", "eval_steps", "hyperparameters",
                 "custom_config", "base_model", "data_accessor", "working_dir"):
        assert hasattr(args, name), name


def test_load_user_fn_errors(tmp_path) -> None:
    good = tmp_path / "mod_ok.py"
    good.write_text("import helper_beside\n\ndef run_fn(a):\n    return helper_beside.VALUE + a\n")
    (tmp_path / "helper_beside.py").write_text("VALUE = 40\n")
    assert load_user_fn(str(good), None, "run_fn")(2) == 42  # sibling files importable
    with pytest.raises(ValueError, match="does not exist"):
        load_user_fn(str(tmp_path / "nope.py"), None, "run_fn")
    bad = tmp_path / "mod_bad_import.py"
    bad.write_text("import no_such_module_xyz\n")
    with pytest.raises(ValueError, match=r"mod_bad_import.py \(for run_fn\) failed to load: ModuleNotFoundError"):
        load_user_fn(str(bad), None, "run_fn")
    assert load_user_fn(None, "os.path.join", "run_fn") is os.path.join
    with pytest.raises(ValueError, match="defines no function 'nope'"):
        load_user_fn(None, "os.path.nope", "run_fn")
    with pytest.raises(ValueError, match="either module_file or run_fn"):
        load_user_fn(None, None, "run_fn")


def test_importing_components_loads_no_ml_library() -> None:
    code = ("import sys, beampipe as tfx\n"
            "from beampipe.components import Transform, Trainer, Tuner, FnArgs\n"
            "from beampipe.components.base import Channel\n"
            "from beampipe.metadata.artifacts import Examples\n"
            "Trainer(examples=Channel(Examples), module_file='m.py', train_args=tfx.proto.TrainArgs(num_steps=3))\n"
            "heavy = [m for m in ('tensorflow', 'tensorflow_transform', 'apache_beam', 'tfx_bsl', 'keras_tuner')"
            " if m in sys.modules]\n"
            "assert not heavy, heavy\n")
    subprocess.run([sys.executable, "-c", code], check=True,
                   cwd=os.path.join(os.path.dirname(__file__), "..", ".."))


def test_data_accessor_batches_features_and_label(tmp_path) -> None:
    from tfx_bsl.public import tfxio

    from tests.components.testdata.penguin_inputs import penguin_rows, write_examples, write_schema

    examples = write_examples(str(tmp_path / "ex"), penguin_rows()[:30])
    schema_art = write_schema(str(tmp_path / "schema"), examples)
    import tensorflow_data_validation as tfdv

    schema = tfdv.load_schema_text(schema_art.schema_file())
    dataset = DataAccessor().tf_dataset_factory(
        [examples.split_files("train")],
        tfxio.TensorFlowDatasetOptions(batch_size=4, label_key="species", num_epochs=1, shuffle=False),
        schema)
    features, label = next(iter(dataset))
    assert label.shape[0] == 4 and "species" not in features and "island" in features
    assert sum(int(lbl.shape[0]) for _, lbl in dataset) == 20
    with pytest.raises(ValueError, match="needs a schema"):
        DataAccessor().tf_dataset_factory("x", tfxio.TensorFlowDatasetOptions(batch_size=1))
    with pytest.raises(ValueError, match="no example files match"):
        DataAccessor().tf_dataset_factory(str(tmp_path / "none*"), tfxio.TensorFlowDatasetOptions(batch_size=1),
                                          schema)
