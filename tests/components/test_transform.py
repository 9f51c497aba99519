"""Transform on real penguin data with real TFT: graph, materialized data, train/serve consistency."""
from __future__ import annotations

import os

import pytest

from tests.components.testdata.penguin_inputs import own_tmp_path  # noqa: F401 (fixture tmp_path)

from beampipe.components.base import ExecContext
from beampipe.components.transform import Transform
from beampipe.metadata import layout
from beampipe.metadata.artifacts import Schema, TransformGraph
from tests.components.testdata.penguin_inputs import (PENGUIN_MODULE, make_outputs, penguin_rows,
                                                      read_examples, to_example, transformed_penguin,
                                                      write_examples, write_schema)

FEATURES = ["bill_length_mm", "bill_depth_mm", "flipper_length_mm", "body_mass_g"]


def _ctx(root: str, examples: list, schema, props: dict, cache=None) -> ExecContext:
    inputs = {"examples": examples, "schema": [schema]}
    if cache is not None:
        inputs["analyzer_cache"] = [cache]
    return ExecContext(node_id="Transform", run_id="r", pipeline_name="p", pipeline_root=root,
                       inputs=inputs, outputs=make_outputs(Transform, os.path.join(root, "out")),
                       exec_properties=props, temp_dir=os.path.join(root, "tmp"))


def test_outputs_in_tfx_layout() -> None:
    t = transformed_penguin()
    graph = t["transform_graph"].uri
    fn_dir = t["transform_graph"].transform_fn_dir()
    for path in (layout.join(fn_dir, layout.SAVED_MODEL_FILE), t["transform_graph"].raw_schema_file(),
                 Schema(layout.join(graph, TransformGraph.TRANSFORMED_METADATA_DIR)).schema_file(),
                 layout.join(fn_dir, "assets", "species")):
        assert os.path.exists(path), path
    assert t["transformed_examples"].splits == ["train", "eval"]
    assert os.path.exists(t["pre_transform_stats"].stats_file("train"))
    assert os.path.exists(t["post_transform_stats"].stats_file("train"))
    assert os.path.exists(t["post_transform_anomalies"].anomalies_file("train"))
    assert os.path.exists(t["post_transform_schema"].schema_file())
    assert os.listdir(t["updated_analyzer_cache"].uri)
    train = read_examples(t["transformed_examples"].split_files("train"))
    evaluation = read_examples(t["transformed_examples"].split_files("eval"))
    rows = penguin_rows()
    assert len(train) + len(evaluation) == len(rows)
    # z-scored on the train split: mean ~0, std ~1; missing values filled; labels are indices
    import numpy as np
    values = np.array([e.features.feature["flipper_length_mm"].float_list.value[0] for e in train])
    assert abs(values.mean()) < 0.05 and abs(values.std() - 1) < 0.05
    labels = {e.features.feature["species"].int64_list.value[0] for e in train}
    assert labels == {0, 1, 2}
    vocab = open(layout.join(fn_dir, "assets", "species")).read().split()
    assert sorted(vocab) == ["Adelie", "Chinstrap", "Gentoo"]


def test_train_serve_consistency() -> None:
    """The graph applied at serving time to raw examples gives exactly the materialized rows."""
    import numpy as np
    import tensorflow as tf
    import tensorflow_transform as tft

    t = transformed_penguin()
    output = tft.TFTransformOutput(t["transform_graph"].uri)
    layer = output.transform_features_layer()
    rows = [r for i, r in enumerate(penguin_rows()) if i % 3 == 0]  # the eval split, in file order
    serialized = tf.constant([to_example(r).SerializeToString() for r in rows])
    served = layer(tf.io.parse_example(serialized, output.raw_feature_spec()))
    served_rows = sorted(zip(*(served[k].numpy().tolist() for k in FEATURES + ["species"])))
    materialized = read_examples(t["transformed_examples"].split_files("eval"))
    mat_rows = sorted(tuple(e.features.feature[k].float_list.value[0] for k in FEATURES)
                      + (e.features.feature["species"].int64_list.value[0],) for e in materialized)
    assert len(served_rows) == len(mat_rows) == len(rows)
    np.testing.assert_array_equal(np.array(served_rows, dtype=np.float32),
                                  np.array(mat_rows, dtype=np.float32))


def _broken_module(tmp_path, body: str) -> str:
    path = tmp_path / "broken_module.py"
    path.write_text(body)
    return str(path)


@pytest.mark.parametrize("body,needle", [
    ("def preprocessing_fn(inputs)\n    return inputs\n", "syntax error"),
    ("def something_else(inputs):\n    return inputs\n", "defines no function 'preprocessing_fn'"),
    ("def preprocessing_fn(inputs):\n    return {'x': inputs['no_such_feature']}\n", "KeyError"),
])
def test_broken_module_file_names_file_and_function(tmp_path, body: str, needle: str) -> None:
    t = transformed_penguin()
    module = _broken_module(tmp_path, body)
    ctx = _ctx(str(tmp_path), [t["examples"]], t["schema"], {"module_file": module})
    with pytest.raises(ValueError) as info:
        Transform.execute(ctx)
    message = str(info.value)
    assert module in message and "preprocessing_fn" in message and needle in message


def test_preprocessing_fn_import_path_and_missing_split(tmp_path) -> None:
    t = transformed_penguin()
    ctx = _ctx(str(tmp_path), [t["examples"]], t["schema"],
               {"preprocessing_fn": "no_such_pkg.mod.preprocessing_fn"})
    with pytest.raises(ValueError, match="no_such_pkg.mod"):
        Transform.execute(ctx)
    ctx = _ctx(str(tmp_path), [t["examples"]], t["schema"],
               {"module_file": PENGUIN_MODULE, "splits_config": {"analyze": ["test"]}})
    with pytest.raises(ValueError, match="no split 'test'"):
        Transform.execute(ctx)


@pytest.mark.e2e
def test_splits_config_no_materialize_and_analyzer_cache(tmp_path) -> None:
    """A second span reuses the first span's analysis from the cache; only 'eval' is transformed."""
    t = transformed_penguin()
    rows = penguin_rows()
    span1 = write_examples(str(tmp_path / "span1"), rows[:150], span=1)
    ctx = _ctx(str(tmp_path / "run"), [t["examples"], span1], t["schema"],
               {"module_file": PENGUIN_MODULE, "splits_config": {"analyze": ["train"], "transform": ["eval"]},
                "disable_statistics": True},
               cache=t["updated_analyzer_cache"])
    Transform.execute(ctx)
    cache_dir = ctx.output("updated_analyzer_cache").uri
    old_keys = set(os.listdir(t["updated_analyzer_cache"].uri))
    assert old_keys < set(os.listdir(cache_dir))  # old span kept, new span added
    out = ctx.output("transformed_examples")
    assert out.splits == ["eval"] and out.span == 1
    assert not os.path.exists(out.split_uri("train"))
    assert len(read_examples(out.split_files("eval"))) == 50
    assert not os.listdir(ctx.output("pre_transform_stats").uri)

    ctx2 = _ctx(str(tmp_path / "run2"), [t["examples"]], t["schema"],
                {"module_file": PENGUIN_MODULE, "materialize": False})
    Transform.execute(ctx2)
    assert not os.listdir(ctx2.output("transformed_examples").uri)
    assert os.path.exists(ctx2.output("transform_graph").transform_fn_dir())


def test_constructor_needs_one_source() -> None:
    from beampipe.components.base import Channel
    from beampipe.metadata.artifacts import Examples, Schema

    with pytest.raises(ValueError, match="exactly one"):
        Transform(examples=Channel(Examples), schema=Channel(Schema))
    node = Transform(examples=Channel(Examples), schema=Channel(Schema), module_file=PENGUIN_MODULE)
    assert set(node.outputs) == {"transform_graph", "transformed_examples", "pre_transform_schema",
                                 "pre_transform_stats", "post_transform_schema", "post_transform_stats",
                                 "post_transform_anomalies", "updated_analyzer_cache"}
    assert node.exec_properties["materialize"] is True


def test_statistics_without_beam_equal_beam_statistics(tmp_path) -> None:
    """Small data: pre/post-transform statistics skip Beam, and equal what Beam computes."""
    import tensorflow_data_validation as tfdv

    t = transformed_penguin()  # no Beam args: statistics computed without Beam
    ctx = _ctx(str(tmp_path), [t["examples"]], t["schema"], {"module_file": PENGUIN_MODULE})
    ctx.beam_pipeline_args = ["--runner=DirectRunner"]  # any Beam arg: statistics on Beam
    Transform.execute(ctx)
    for key in ("pre_transform_stats", "post_transform_stats"):
        mem = tfdv.load_stats_binary(t[key].stats_file("train"))
        beam = tfdv.load_stats_binary(ctx.output(key).stats_file("train"))
        assert mem == beam, key
