"""Transform's own batch reader and shard writer (issue 13) change no output byte.

Taxi-like data through CsvExampleGen, StatisticsGen and SchemaGen, then Transform twice with
the taxi benchmark's preprocessing_fn: once through TFXIO and Beam's TFRecord sink (the
implementation before, kept as the path distributed runners take), once through
``transforms.example_batches``. Every output file must be the same, byte for byte:
transformed examples, transform graph, pre/post-transform statistics, schemas, anomalies.
"""
from __future__ import annotations

import os

from tests.components.testdata.penguin_inputs import own_tmp_path  # noqa: F401 (fixture tmp_path)

from beampipe.components import transform as transform_module
from beampipe.components.base import Channel, ExecContext
from beampipe.components.example_gen import CsvExampleGen
from beampipe.components.schema_gen import SchemaGen
from beampipe.components.statistics_gen import StatisticsGen
from beampipe.components.transform import Transform
from beampipe.metadata.artifacts import Schema
from tests.components.testdata.penguin_inputs import make_outputs
from tests.components.testdata.tree import files_under

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
TAXI_MODULE = os.path.join(ROOT, "benchmarks", "taxi_preprocessing.py")


def _run(component, root: str, name: str, inputs: dict, props: dict, beam_args=()) -> dict:
    outputs = make_outputs(component, os.path.join(root, name))
    ctx = ExecContext(node_id=name, run_id="r", pipeline_name="p", pipeline_root=root, inputs=inputs,
                      outputs=outputs, exec_properties=props, temp_dir=os.path.join(root, "tmp", name))
    ctx.beam_pipeline_args = list(beam_args)
    component.execute(ctx)
    return {key: arts[0] for key, arts in outputs.items()}


def _taxi_transform_inputs(root: str, rows: int) -> tuple:
    """Taxi-like rows through CsvExampleGen, StatisticsGen and SchemaGen: (the Examples,
    Transform's inputs, Transform's exec properties with the taxi preprocessing_fn)."""
    from benchmarks.make_taxi_csv import write

    write(rows, os.path.join(root, "data", "taxi.csv"))
    gen = CsvExampleGen(input_base=os.path.join(root, "data"))
    examples = _run(CsvExampleGen, root, "gen", {}, gen.exec_properties)["examples"]
    stats = _run(StatisticsGen, root, "stats", {"examples": [examples]}, {})["statistics"]
    schema = _run(SchemaGen, root, "schema", {"statistics": [stats]}, {})["schema"]
    props = Transform(examples=gen.outputs["examples"], schema=Channel(Schema),
                      module_file=TAXI_MODULE).exec_properties
    return examples, {"examples": [examples], "schema": [schema]}, props


def test_fast_io_outputs_equal_reference_outputs(tmp_path, monkeypatch) -> None:
    root = str(tmp_path)
    examples, inputs, props = _taxi_transform_inputs(root, 3000)
    # Beam args: pre/post statistics on Beam too, as at 1M rows and more.
    beam_args = ["--runner=DirectRunner"]

    monkeypatch.setattr(transform_module, "_FAST_IO", False)
    reference = _run(Transform, root, "reference", inputs, props, beam_args)
    monkeypatch.setattr(transform_module, "_FAST_IO", True)
    fast = _run(Transform, root, "fast", inputs, props, beam_args)

    ref_files, fast_files = files_under(os.path.join(root, "reference")), files_under(os.path.join(root, "fast"))
    assert sorted(ref_files) == sorted(fast_files)
    # The SavedModel's function names carry a per-process counter: two runs in one process
    # name them differently. The graphs are compared by what they compute instead.
    graph_files = {os.path.join("transform_graph", "transform_fn", name)
                   for name in ("saved_model.pb", "fingerprint.pb")}
    assert [name for name in ref_files if ref_files[name] != fast_files[name]
            and name not in graph_files] == []
    _assert_same_transform(reference["transform_graph"].uri, fast["transform_graph"].uri,
                           examples.split_uri("eval"))
    train = fast["transformed_examples"].split_uri("train")
    assert os.listdir(train) == ["data_tfrecord-00000-of-00001.gz"]
    assert fast["transformed_examples"].splits == reference["transformed_examples"].splits
    # No Beam args: pre/post statistics streamed without Beam (tfdv_stream), the same bytes.
    _run(Transform, root, "streamed", inputs, props)
    streamed = files_under(os.path.join(root, "streamed"))
    assert [name for name in fast_files if "_stats" in name and streamed[name] != fast_files[name]] == []


def _assert_same_transform(reference_uri: str, fast_uri: str, raw_dir: str) -> None:
    """Both transform graphs give the same tensors on the same raw examples."""
    import numpy as np
    import tensorflow as tf
    import tensorflow_transform as tft

    from beampipe.transforms.example_io import tfrecords
    from beampipe.transforms.tfdv_io import example_files

    records = [r for path in example_files(raw_dir) for r in tfrecords(path)][:500]
    outputs = []
    for uri in (reference_uri, fast_uri):
        graph = tft.TFTransformOutput(uri)
        raw = tf.io.parse_example(tf.constant(records), graph.raw_feature_spec())
        outputs.append({k: tf.sparse.to_dense(v) if isinstance(v, tf.sparse.SparseTensor) else v
                        for k, v in graph.transform_raw_features(raw).items()})
    assert sorted(outputs[0]) == sorted(outputs[1])
    for key in outputs[0]:
        np.testing.assert_array_equal(outputs[0][key].numpy(), outputs[1][key].numpy(), err_msg=key)


def test_multi_processing_workers_get_the_user_module(tmp_path) -> None:
    """Beam worker processes cannot import the module file under its generated name: the
    user's functions travel by value, and the outputs are those of the in-process run."""
    from beampipe.transforms.example_io import tfrecords
    from beampipe.transforms.tfdv_io import example_files

    root = str(tmp_path)
    examples, inputs, props = _taxi_transform_inputs(root, 2000)
    local = _run(Transform, root, "local", inputs, props, ["--runner=DirectRunner"])
    workers = _run(Transform, root, "workers", inputs, props,
                   ["--runner=DirectRunner", "--direct_running_mode=multi_processing",
                    "--direct_num_workers=2"])
    _assert_same_transform(local["transform_graph"].uri, workers["transform_graph"].uri,
                           examples.split_uri("eval"))
    for split in ("train", "eval"):
        records = [sorted(r for path in example_files(out["transformed_examples"].split_uri(split))
                          for r in tfrecords(path)) for out in (local, workers)]
        assert len(records[0]) == len(records[1]) > 0
        assert records[0] == records[1], split
