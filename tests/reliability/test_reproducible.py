"""Byte-reproducible outputs: each data node, run twice on the same inputs into two output
directories, writes the same bytes (sha256 of every relative path and content).

Why it matters: the launcher fingerprints every output and keys the cache of the nodes
downstream on it, so one changed byte (a gzip header time, a map written in hash order,
floats added up in another order) re-runs everything after the node.

All runs use the local DirectRunner, where ``beam_util.reads_in_order`` reads example files
as one ordered stream. One exception is documented where it is made: the SavedModel of
Transform (``transform_fn/saved_model.pb`` and its ``fingerprint.pb``).
"""
from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
import time

import pytest

from beampipe.components.base import ExecContext
from beampipe.components.example_gen import CsvExampleGen, ImportExampleGen
from beampipe.components.example_validator import ExampleValidator
from beampipe.components.schema_gen import SchemaGen
from beampipe.metadata import layout
from beampipe.metadata.artifacts import (ExampleAnomalies, Examples, ExampleStatistics, InferenceResult,
                                         ModelBlessing, ModelEvaluation, Schema, TransformGraph)
from beampipe.proto.serving import DataSpec, OutputExampleSpec
from tests.components import model_fixtures as mf
from tests.components.test_bulk_inferrer import run_inferrer
from tests.components.test_evaluator import run_evaluator
from tests.components.test_example_gen import run_example_gen
from tests.components.test_statistics_gen import run_statistics_gen
from tests.components.testdata.penguin_inputs import own_tmp_path  # noqa: F401 (fixture tmp_path)
from tests.conftest import PENGUIN_CSV

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
PENGUIN_DIR = os.path.dirname(os.path.abspath(PENGUIN_CSV))


def tree_digest(root: str) -> dict[str, str]:
    """sha256 of every file under root, by relative path."""
    found = {}
    for folder, dirs, files in os.walk(root):
        dirs.sort()
        for name in sorted(files):
            path = os.path.join(folder, name)
            with open(path, "rb") as f:
                found[os.path.relpath(path, root)] = hashlib.sha256(f.read()).hexdigest()
    return found


def assert_identical(first: str, second: str, skip: tuple[str, ...] = ()) -> dict[str, str]:
    a, b = tree_digest(first), tree_digest(second)
    a = {k: v for k, v in a.items() if not k.endswith(skip)} if skip else a
    b = {k: v for k, v in b.items() if not k.endswith(skip)} if skip else b
    assert a, f"{first} holds no files"
    assert sorted(a) == sorted(b), "the two runs wrote different files"
    differ = sorted(k for k in a if a[k] != b[k])
    assert not differ, f"files differ between two runs on the same input: {differ}"
    return a


def rel(path: str, base) -> str:
    """A path built by the layout API, relative to a run's directory (tree_digest's keys)."""
    return os.path.relpath(path, str(base))


def assert_gzip_headers_carry_no_time(root: str) -> None:
    """Bytes 4..8 of a gzip file are its mtime; flag 0x08 means a file name follows."""
    shards = [os.path.join(d, f) for d, _, files in os.walk(root) for f in files if f.endswith(".gz")]
    assert shards
    for path in shards:
        with open(path, "rb") as f:
            head = f.read(10)
        assert head[:2] == b"\x1f\x8b" and head[4:8] == b"\0\0\0\0" and not head[3] & 0x08, path


# -- ExampleGen --------------------------------------------------------------------------------


def test_csv_example_gen_twice_same_bytes(tmp_path):
    first = run_example_gen(CsvExampleGen(input_base=PENGUIN_DIR), tmp_path, "one")
    time.sleep(1.2)  # a write time in a gzip header would now differ
    second = run_example_gen(CsvExampleGen(input_base=PENGUIN_DIR), tmp_path, "two")
    files = assert_identical(first.uri, second.uri)
    assert {rel(first.shard_uri(s), first.uri) for s in ("train", "eval")} <= set(files)
    assert_gzip_headers_carry_no_time(first.uri)
    assert first.custom_properties == second.custom_properties


def test_csv_example_gen_same_bytes_in_another_process(tmp_path):
    """Per-process randomness (string hash seed, map order by address) would only show here."""
    here = run_example_gen(CsvExampleGen(input_base=PENGUIN_DIR), tmp_path, "here")
    code = ("import pathlib, sys\n"
            "from beampipe.components.example_gen import CsvExampleGen\n"
            "from tests.components.test_example_gen import run_example_gen\n"
            f"run_example_gen(CsvExampleGen(input_base={PENGUIN_DIR!r}),\n"
            f"                pathlib.Path({str(tmp_path)!r}), 'there')\n")
    env = {**os.environ, "PYTHONPATH": REPO, "PYTHONHASHSEED": "12345"}
    done = subprocess.run([sys.executable, "-c", code], cwd=REPO, env=env, capture_output=True, text=True,
                          timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    assert_identical(here.uri, str(tmp_path / "there"))


def _write_tfrecords(folder, files: int, rows: int) -> None:
    import tensorflow as tf
    os.makedirs(folder, exist_ok=True)
    for k in range(files):
        with tf.io.TFRecordWriter(os.path.join(folder, f"part-{k}.tfrecord.gz"), "GZIP") as writer:
            for i in range(rows):
                example = tf.train.Example()
                example.features.feature["x"].int64_list.value.append(i * files + k)
                example.features.feature["s"].bytes_list.value.append(f"row {i} of file {k}".encode())
                writer.write(example.SerializeToString())


def test_import_example_gen_tfrecord_and_parquet_twice_same_bytes(tmp_path):
    """Several input files: Beam's own sink wrote them in bundle order, which varied."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    _write_tfrecords(tmp_path / "rec", files=4, rows=5000)
    pq_dir = tmp_path / "pq"
    pq_dir.mkdir()
    for k in range(3):
        pq.write_table(pa.table({"n": list(range(k, 3000, 3)), "s": [f"v{i % 7}" for i in range(k, 3000, 3)]}),
                       str(pq_dir / f"d{k}.parquet"))
    runs = {}
    for name in ("one", "two"):
        runs[name] = (run_example_gen(ImportExampleGen(input_base=str(tmp_path / "rec")), tmp_path, f"rec_{name}"),
                      run_example_gen(ImportExampleGen(input_base=str(pq_dir), payload_format="parquet"),
                                      tmp_path, f"pq_{name}"))
        time.sleep(1.2)
    for (first, second), inputs in zip(zip(runs["one"], runs["two"]), (4, 3)):
        files = assert_identical(first.uri, second.uri)
        assert len(files) == 2 * inputs  # one shard per input file and split
        assert_gzip_headers_carry_no_time(first.uri)


# -- StatisticsGen, SchemaGen, ExampleValidator -------------------------------------------------


@pytest.fixture(scope="module")
def penguin_examples(tmp_path_factory) -> Examples:
    return run_example_gen(CsvExampleGen(input_base=PENGUIN_DIR), tmp_path_factory.mktemp("eg"))


@pytest.mark.parametrize("beam_args", [[], ["--direct_num_workers=1"]], ids=["in_process", "beam"])
def test_statistics_gen_twice_same_bytes(penguin_examples, tmp_path, beam_args):
    """Both paths: small data in this process, and (any Beam arg) TFDV on Beam."""
    from beampipe.components.statistics_gen import StatisticsGen
    from beampipe.metadata.artifacts import ExampleStatistics
    for name in ("one", "two"):
        ctx = ExecContext(node_id="StatisticsGen", run_id="r", pipeline_name="t", pipeline_root=str(tmp_path),
                          inputs={"examples": [penguin_examples]},
                          outputs={"statistics": [ExampleStatistics(str(tmp_path / name))]},
                          exec_properties={}, beam_pipeline_args=beam_args, temp_dir=str(tmp_path / "tmp"))
        StatisticsGen.execute(ctx)
    files = assert_identical(str(tmp_path / "one"), str(tmp_path / "two"))
    one = ExampleStatistics(str(tmp_path / "one"))
    assert rel(one.report_file("train"), one.uri) in files and rel(one.stats_file("eval"), one.uri) in files


def _run(cls, inputs: dict, key: str, art, props: dict | None = None):
    ctx = ExecContext(node_id=cls.__name__, run_id="r", pipeline_name="t", pipeline_root=os.path.dirname(art.uri),
                      inputs=inputs, outputs={key: [art]}, exec_properties=props or {})
    os.makedirs(art.uri, exist_ok=True)
    cls.execute(ctx)
    return art


def test_schema_gen_and_example_validator_twice_same_bytes(penguin_examples, tmp_path):
    from google.protobuf import text_format
    from tensorflow_metadata.proto.v0 import schema_pb2
    stats = run_statistics_gen(penguin_examples, tmp_path / "stats")
    for name in ("one", "two"):
        _run(SchemaGen, {"statistics": [stats]}, "schema", Schema(str(tmp_path / f"schema_{name}")))
    assert_identical(str(tmp_path / "schema_one"), str(tmp_path / "schema_two"))

    # A stricter schema (every feature always one value, a species missing from its domain), so the
    # anomalies map has several entries: it must be written in key order. (A CSV gap is an empty
    # value list, as in TFX, so it breaks the value count, not the presence.)
    schema = text_format.Parse(open(Schema(str(tmp_path / "schema_one")).schema_file()).read(), schema_pb2.Schema())
    for feature in schema.feature:
        feature.presence.min_fraction = 1.0
        feature.value_count.min = feature.value_count.max = 1
    species = next(d for d in schema.string_domain if d.name == "species")
    species.value.remove("Gentoo")
    (tmp_path / "strict").mkdir()
    with open(Schema(str(tmp_path / "strict")).schema_file(), "w") as f:
        f.write(text_format.MessageToString(schema))
    arts = [_run(ExampleValidator, {"statistics": [stats], "schema": [Schema(str(tmp_path / "strict"))]},
                 "anomalies", ExampleAnomalies(str(tmp_path / f"anomalies_{name}"))) for name in ("one", "two")]
    assert_identical(arts[0].uri, arts[1].uri)
    assert arts[0].custom_properties == arts[1].custom_properties
    assert json.loads(arts[0].custom_properties["anomalies_summary"])["train"] >= 3


# -- Transform -----------------------------------------------------------------------------------


def test_transform_twice_same_bytes_but_its_saved_model(tmp_path):
    """Everything Transform writes is identical except the SavedModel's graph file.

    ``transform_fn/saved_model.pb`` is not reproducible, for reasons inside TF and TFT:
    it names traced functions with a process-wide counter (``__inference_..._2599`` in one
    run, ``..._6534`` in the next run in the same process), and TFT names the vocabulary's
    hash table after the absolute path of its temporary file. ``fingerprint.pb`` hashes that
    graph. The variables, assets (vocabularies), metadata, transformed examples, statistics,
    schemas, anomalies and analyzer cache are byte-identical, and checked here.
    """
    from beampipe.components.transform import Transform
    from tests.components.testdata.penguin_inputs import (PENGUIN_MODULE, make_outputs, write_examples,
                                                          write_schema)

    root = str(tmp_path)
    examples = write_examples(os.path.join(root, "examples"))
    schema = write_schema(os.path.join(root, "schema"), examples)
    for name in ("one", "two"):
        ctx = ExecContext(node_id="Transform", run_id="r", pipeline_name="p", pipeline_root=root,
                          inputs={"examples": [examples], "schema": [schema]},
                          outputs=make_outputs(Transform, os.path.join(root, name)),
                          exec_properties={"module_file": PENGUIN_MODULE},
                          temp_dir=os.path.join(root, f"tmp_{name}"))
        Transform.execute(ctx)
    one = os.path.join(root, "one")
    fn_dir = TransformGraph(os.path.join(one, "transform_graph")).transform_fn_dir()
    files = assert_identical(one, os.path.join(root, "two"),
                             skip=(layout.join(TransformGraph.TRANSFORM_FN_DIR, layout.SAVED_MODEL_FILE),
                                   layout.join(TransformGraph.TRANSFORM_FN_DIR, "fingerprint.pb")))
    assert {rel(Examples(os.path.join(one, "transformed_examples")).shard_uri("train"), one),
            rel(layout.join(fn_dir, "variables", "variables.data-00000-of-00001"), one),
            rel(layout.join(fn_dir, "assets", "species"), one),
            rel(ExampleStatistics(os.path.join(one, "post_transform_stats")).stats_file("train"), one),
            rel(ExampleAnomalies(os.path.join(one, "post_transform_anomalies")).anomalies_file("train"), one),
            } <= set(files)


# -- Evaluator, BulkInferrer -----------------------------------------------------------------------


def test_evaluator_twice_same_bytes(tmp_path_factory, tmp_path):
    examples, model = mf.shared(tmp_path_factory, "examples"), mf.shared(tmp_path_factory, "model")
    runs = [run_evaluator(tmp_path / name, examples, model, mf.eval_config_json(0.5)) for name in ("one", "two")]
    files = assert_identical(str(tmp_path / "one"), str(tmp_path / "two"))
    one = tmp_path / "one"
    assert rel(ModelEvaluation(str(one / "evaluation")).report_file(), one) in files
    assert rel(ModelBlessing(str(one / "blessing")).marker(True), one) in files
    assert runs[0][1].custom_properties == runs[1][1].custom_properties


def test_bulk_inferrer_twice_same_bytes(tmp_path_factory, tmp_path):
    examples, model = mf.shared(tmp_path_factory, "examples"), mf.shared(tmp_path_factory, "model")
    for name in ("one", "two"):
        run_inferrer(tmp_path / name, examples, model)
        run_inferrer(tmp_path / f"{name}_ex", examples, model, data_spec=DataSpec(example_splits=["eval"]),
                     output_example_spec=OutputExampleSpec(feature_prefix="pred_"))
    files = assert_identical(str(tmp_path / "one"), str(tmp_path / "two"))
    result = InferenceResult(str(tmp_path / "one" / "result"))
    assert rel(result.prediction_logs_prefix("train") + "-00000-of-00001" + result.LOGS_SUFFIX,
               tmp_path / "one") in files
    shard = Examples(str(tmp_path / "one_ex" / "output_examples")).shard_uri("eval")
    assert rel(shard, tmp_path / "one_ex") in assert_identical(str(tmp_path / "one_ex"), str(tmp_path / "two_ex"))


# -- the point of it all: a re-run ExampleGen keeps the nodes after it cached ----------------------


@pytest.mark.e2e
def test_rerun_example_gen_keeps_downstream_cached(tmp_path):
    from beampipe.components.statistics_gen import StatisticsGen
    from beampipe.orchestration.local_runner import LocalDagRunner
    from beampipe.orchestration.pipeline import Pipeline

    def pipeline() -> Pipeline:
        gen = CsvExampleGen(input_base=PENGUIN_DIR).with_caching(False)  # always runs again
        stats = StatisticsGen(examples=gen.outputs["examples"])
        schema = SchemaGen(statistics=stats.outputs["statistics"])
        return Pipeline(pipeline_name="repro", pipeline_root=str(tmp_path / "root"),
                        components=[gen, stats, schema])

    first = LocalDagRunner().run(pipeline())
    assert first.status == "COMPLETE", [(r.node_id, r.error) for r in first.failed]
    time.sleep(1.2)
    again = LocalDagRunner().run(pipeline())
    assert {n: r.status for n, r in again.nodes.items()} == {
        "CsvExampleGen": "COMPLETE", "StatisticsGen": "CACHED", "SchemaGen": "CACHED"}
