"""Penguin Examples and Schema artifacts for component tests, built without ExampleGen.

Rows of the palmerpenguins CSV become tf.Examples (NA values left out, as ExampleGen does),
split 2:1 into train/eval by row index, written as gzip TFRecords in the Examples layout.
"""
from __future__ import annotations

import csv
import os
from typing import Any

from beampipe.metadata.artifacts import Examples, Schema

NUMERIC_FLOAT = ("bill_length_mm", "bill_depth_mm")
NUMERIC_INT = ("flipper_length_mm", "body_mass_g", "year")


def penguin_rows() -> list[dict[str, str]]:
    import palmerpenguins

    path = os.path.join(os.path.dirname(palmerpenguins.__file__), "data", "penguins.csv")
    with open(path) as f:
        return list(csv.DictReader(f))


def to_example(row: dict[str, str], drop: tuple[str, ...] = ()) -> Any:
    import tensorflow as tf

    feature = {}
    for key, value in row.items():
        if key in drop or value in ("NA", ""):
            continue
        if key in NUMERIC_FLOAT:
            feature[key] = tf.train.Feature(float_list=tf.train.FloatList(value=[float(value)]))
        elif key in NUMERIC_INT:
            feature[key] = tf.train.Feature(int64_list=tf.train.Int64List(value=[int(float(value))]))
        else:
            feature[key] = tf.train.Feature(bytes_list=tf.train.BytesList(value=[value.encode()]))
    return tf.train.Example(features=tf.train.Features(feature=feature))


def write_examples(uri: str, rows: list[dict[str, str]] | None = None, span: int = 0) -> Examples:
    """An Examples artifact at uri with splits train (2/3) and eval (1/3)."""
    import tensorflow as tf

    rows = penguin_rows() if rows is None else rows
    splits = {"train": [r for i, r in enumerate(rows) if i % 3 != 0],
              "eval": [r for i, r in enumerate(rows) if i % 3 == 0]}
    art = Examples(uri)
    for name, part in splits.items():
        os.makedirs(art.split_uri(name), exist_ok=True)
        with tf.io.TFRecordWriter(art.shard_uri(name), "GZIP") as writer:
            for row in part:
                writer.write(to_example(row).SerializeToString())
    art.splits = list(splits)
    art.span = span
    return art


def write_schema(uri: str, examples: Examples) -> Schema:
    """A Schema artifact inferred by TFDV from the train split (as SchemaGen does)."""
    import tensorflow as tf
    import tensorflow_data_validation as tfdv
    from tfx_bsl.coders import example_coder

    path = examples.shard_uri("train")
    records = [r.numpy() for r in tf.data.TFRecordDataset(path, compression_type="GZIP")]
    batch = example_coder.ExamplesToRecordBatchDecoder().DecodeBatch(records)
    from tensorflow_data_validation.statistics import stats_impl

    stats = stats_impl.generate_statistics_in_memory(batch, tfdv.StatsOptions())
    schema = tfdv.infer_schema(stats)
    os.makedirs(uri, exist_ok=True)
    tfdv.write_schema_text(schema, Schema(uri).schema_file())
    return Schema(uri)


def read_examples(pattern: str) -> list[Any]:
    """Parsed tf.Examples from gzip TFRecord files matching pattern."""
    import glob

    import tensorflow as tf

    files = sorted(glob.glob(pattern))
    assert files, f"no files match {pattern}"
    return [tf.train.Example.FromString(r.numpy())
            for r in tf.data.TFRecordDataset(files, compression_type="GZIP")]


PENGUIN_MODULE = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..", "..",
                                              "examples", "penguin", "penguin_utils.py"))
_TRANSFORMED: dict[str, Any] = {}


def make_outputs(component: Any, root: str) -> dict[str, list[Any]]:
    """Empty output artifacts for every output key of a component, as the launcher stages them."""
    outputs = {}
    for key, spec in component.OUTPUTS.items():
        uri = os.path.join(root, key)
        os.makedirs(uri, exist_ok=True)
        outputs[key] = [spec.type(uri)]
    return outputs


def transformed_penguin() -> dict[str, Any]:
    """Penguin examples, schema and one Transform run with penguin_utils, once per process.

    Trainer and Tuner tests share it: the Transform run is the slow part.
    """
    if not _TRANSFORMED:
        import atexit
        import shutil
        import tempfile

        from beampipe.components.base import ExecContext
        from beampipe.components.transform import Transform

        root = tempfile.mkdtemp(prefix="beampipe-penguin-")
        atexit.register(shutil.rmtree, root, ignore_errors=True)  # shared by the session's tests
        examples = write_examples(os.path.join(root, "examples"))
        schema = write_schema(os.path.join(root, "schema"), examples)
        outputs = make_outputs(Transform, os.path.join(root, "transform"))
        ctx = ExecContext(node_id="Transform", run_id="r1", pipeline_name="penguin", pipeline_root=root,
                          inputs={"examples": [examples], "schema": [schema]}, outputs=outputs,
                          exec_properties={"module_file": PENGUIN_MODULE},
                          temp_dir=os.path.join(root, "tmp"))
        Transform.execute(ctx)
        _TRANSFORMED.update(root=root, examples=examples, schema=schema,
                            **{k: v[0] for k, v in outputs.items()})
    return _TRANSFORMED


def _own_tmp_path() -> Any:
    """A temp dir of our own: pytest keeps only the newest 3 base temp dirs per user, so
    another engineer's concurrent pytest run can delete ``tmp_path`` under a long test."""
    import pathlib
    import shutil
    import tempfile

    path = tempfile.mkdtemp(prefix="beampipe-test-")
    yield pathlib.Path(path)
    shutil.rmtree(path, ignore_errors=True)


def _fixture() -> Any:
    import pytest

    return pytest.fixture(name="tmp_path")(_own_tmp_path)


own_tmp_path = _fixture()
