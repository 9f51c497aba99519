"""ExampleGen on real files through real Beam: splits, spans, formats, bad CSV, caching."""
from __future__ import annotations

import glob
import os
import shutil

import pytest

from beampipe.components.base import ExecContext
from beampipe.components.example_gen import CsvExampleGen, ImportExampleGen
from beampipe.metadata import layout
from beampipe.metadata.artifacts import Examples
from beampipe.proto import Input, Output, RangeConfig, SplitConfig
from beampipe.proto.example_gen_extras import PayloadFormat


def run_example_gen(component, tmp_path, name: str = "out") -> Examples:
    """Run a component's executor directly, the way the launcher does."""
    ctx = ExecContext(node_id="ExampleGen", run_id="r1", pipeline_name="t", pipeline_root=str(tmp_path),
                      inputs={}, outputs={"examples": [Examples(uri=str(tmp_path / name))]},
                      exec_properties=component.exec_properties, temp_dir=str(tmp_path / "tmp"))
    type(component).execute(ctx)
    return ctx.output("examples")


def read_examples(examples: Examples, split: str) -> list:
    import tensorflow as tf
    files = sorted(glob.glob(layout.join(examples.split_uri(split), Examples.SHARD_PATTERN)))
    assert files, f"no shards in split {split}"
    return [tf.train.Example.FromString(r.numpy())
            for r in tf.data.TFRecordDataset(files, compression_type="GZIP")]


def copy_penguins(penguin_csv: str, folder) -> str:
    os.makedirs(folder, exist_ok=True)
    return shutil.copy(penguin_csv, os.path.join(folder, "penguins.csv"))


def test_penguin_csv_default_split(penguin_csv, tmp_path):
    examples = run_example_gen(CsvExampleGen(input_base=os.path.dirname(penguin_csv)), tmp_path)
    assert examples.splits == ["train", "eval"]
    train, evals = read_examples(examples, "train"), read_examples(examples, "eval")
    assert len(train) + len(evals) == 344
    assert 200 <= len(train) <= 260  # 2:1 by hash buckets
    first = train[0].features.feature
    assert first["species"].bytes_list.value and first["year"].int64_list.value
    assert len(train) == 204  # TFX 1.16's CsvExampleGen puts the same rows in train
    # a row with empty fields (NA in the original) has them as empty lists of the column's type, as TFX
    sparse = [e for e in train + evals if not e.features.feature["bill_length_mm"].float_list.value]
    assert len(sparse) == 2 and all(e.features.feature["bill_length_mm"].HasField("float_list") and
                                    e.features.feature["year"].int64_list.value for e in sparse)
    assert len(examples.get_string_custom_property("input_fingerprint")) == 64
    assert not glob.glob(os.path.join(examples.uri, "*", "beam-temp-*"))


def test_partition_feature_and_three_splits(penguin_csv, tmp_path):
    config = Output(split_config=SplitConfig(
        splits=[SplitConfig.Split("train", 3), SplitConfig.Split("eval", 1), SplitConfig.Split("test", 1)],
        partition_feature_name="island"))
    examples = run_example_gen(CsvExampleGen(input_base=os.path.dirname(penguin_csv), output_config=config),
                               tmp_path)
    assert examples.splits == ["train", "eval", "test"]
    islands = {}
    total = 0
    for split in examples.splits:
        rows = read_examples(examples, split) if glob.glob(examples.split_files(split)) else []
        total += len(rows)
        for e in rows:
            islands.setdefault(e.features.feature["island"].bytes_list.value[0], set()).add(split)
    assert total == 344
    assert all(len(s) == 1 for s in islands.values())  # one island never straddles two splits


def test_spans_latest_by_default_or_chosen(penguin_csv, tmp_path):
    base = tmp_path / "in"
    copy_penguins(penguin_csv, base / "span-1")
    with open(base / "span-2" / "data.csv" if False else copy_penguins(penguin_csv, base / "span-2")) as f:
        head = [next(f) for _ in range(31)]
    with open(base / "span-2" / "penguins.csv", "w") as f:
        f.writelines(head)  # span 2: 30 rows
    pattern = Input(splits=[Input.Split("single_split", "span-{SPAN}/*.csv")])
    latest = run_example_gen(CsvExampleGen(input_base=str(base), input_config=pattern), tmp_path, "a")
    assert latest.span == 2
    assert len(read_examples(latest, "train")) + len(read_examples(latest, "eval")) == 30
    chosen = run_example_gen(CsvExampleGen(input_base=str(base), input_config=pattern, range_config=RangeConfig(
        static_range=RangeConfig.StaticRange(1, 1))), tmp_path, "b")
    assert chosen.span == 1
    assert len(read_examples(chosen, "train")) + len(read_examples(chosen, "eval")) == 344


def test_pre_split_input_keeps_its_splits(penguin_csv, tmp_path):
    base = tmp_path / "in"
    copy_penguins(penguin_csv, base / "train")
    copy_penguins(penguin_csv, base / "eval")
    config = Input(splits=[Input.Split("train", "train/*"), Input.Split("eval", "eval/*")])
    examples = run_example_gen(CsvExampleGen(input_base=str(base), input_config=config), tmp_path)
    assert examples.splits == ["train", "eval"]
    assert len(read_examples(examples, "train")) == len(read_examples(examples, "eval")) == 344


def test_import_tfrecord_gzip_and_plain_and_parquet(tmp_path):
    import pyarrow as pa
    import pyarrow.parquet as pq
    import tensorflow as tf

    base = tmp_path / "rec"
    base.mkdir()
    for name, options in [("a.tfrecord.gz", "GZIP"), ("b.tfrecord", None)]:
        with tf.io.TFRecordWriter(str(base / name), options=options) as w:
            for i in range(50):
                e = tf.train.Example()
                e.features.feature["x"].int64_list.value.append(i)
                w.write(e.SerializeToString())
    examples = run_example_gen(ImportExampleGen(input_base=str(base)), tmp_path, "rec_out")
    xs = sorted(e.features.feature["x"].int64_list.value[0]
                for s in examples.splits for e in read_examples(examples, s))
    assert xs == sorted(list(range(50)) * 2)

    pq_base = tmp_path / "pq"
    pq_base.mkdir()
    pq.write_table(pa.table({"n": [1, 2, None, 4], "f": [0.5, 1.5, 2.5, None], "s": ["a", "b", "c", "d"]}),
                   str(pq_base / "d.parquet"))
    examples = run_example_gen(ImportExampleGen(input_base=str(pq_base),
                                                payload_format=PayloadFormat.FORMAT_PARQUET),
                               tmp_path, "pq_out")
    rows = [e for s in examples.splits for e in read_examples(examples, s)]
    assert len(rows) == 4
    by_s = {e.features.feature["s"].bytes_list.value[0]: e.features.feature for e in rows}
    assert by_s[b"a"]["n"].int64_list.value == [1] and by_s[b"c"]["f"].float_list.value == [2.5]
    assert "n" not in by_s[b"c"] and "f" not in by_s[b"d"]


def test_import_rejects_non_example_files(tmp_path):
    base = tmp_path / "in"
    base.mkdir()
    (base / "x.tfrecord").write_text("hello, this is text\n")
    with pytest.raises(ValueError, match="x.tfrecord: not a TFRecord"):
        run_example_gen(ImportExampleGen(input_base=str(base)), tmp_path)


def _pipeline(root, components):
    from beampipe.orchestration.pipeline import Pipeline
    return Pipeline(pipeline_name="t", pipeline_root=str(root), components=components)


@pytest.mark.e2e
@pytest.mark.parametrize("content,expected", [
    (b"a,b\n1,2\n3\n", "line 3 column 'b'"),
    (b"a,b\n1,2\n3,\xff\n", "line 3 column 2: not valid UTF-8"),
    (b"a,b\n1,2\n3,\x00\n", "line 3 column 2: contains a NUL byte"),
])
def test_bad_csv_fails_the_node_and_leaves_nothing_live(tmp_path, content, expected):
    from beampipe.metadata.store import MetadataStore
    from beampipe.orchestration.local_runner import LocalDagRunner
    base = tmp_path / "in"
    base.mkdir()
    (base / "bad.csv").write_bytes(content)
    result = LocalDagRunner().run(_pipeline(tmp_path / "root", [CsvExampleGen(input_base=str(base))]))
    assert result.status == "FAILED"
    error = result.nodes["CsvExampleGen"].error
    assert str(base / "bad.csv") in error and expected in error
    store = MetadataStore(os.path.join(tmp_path, "root", "metadata.sqlite"))
    assert [a for a, _ in store.artifacts_in_run(result.run_id) if a.state == "LIVE"] == []
    store.close()


@pytest.mark.e2e
def test_edited_csv_of_same_size_reruns(tmp_path):
    from beampipe.orchestration.local_runner import LocalDagRunner
    base = tmp_path / "in"
    base.mkdir()
    csv = base / "d.csv"
    csv.write_text("a,b\n1,x\n2,y\n3,z\n")
    components = [CsvExampleGen(input_base=str(base))]
    first = LocalDagRunner().run(_pipeline(tmp_path / "root", components))
    again = LocalDagRunner().run(_pipeline(tmp_path / "root", components))
    csv.write_text("a,b\n1,x\n2,y\n4,z\n")  # same size, new content
    edited = LocalDagRunner().run(_pipeline(tmp_path / "root", components))
    statuses = [r.nodes["CsvExampleGen"].status for r in (first, again, edited)]
    assert statuses == ["COMPLETE", "CACHED", "COMPLETE"]


# -- column types: recorded, and checked across input splits and spans ---------------------------


def test_column_types_recorded(penguin_csv, tmp_path):
    import json
    examples = run_example_gen(CsvExampleGen(input_base=os.path.dirname(penguin_csv)), tmp_path)
    types = json.loads(examples.get_string_custom_property("column_types"))
    assert types["species"] == "BYTES" and types["year"] == "INT" and types["bill_length_mm"] == "FLOAT"


def test_input_splits_of_one_span_must_agree_on_types(tmp_path):
    base = tmp_path / "in"
    (base / "train").mkdir(parents=True)
    (base / "eval").mkdir()
    (base / "train" / "d.csv").write_text("age,name\n31,a\n40,b\n")
    (base / "eval" / "d.csv").write_text("age,name\n33,c\nunknown,d\n")
    config = Input(splits=[Input.Split("train", "train/*"), Input.Split("eval", "eval/*")])
    with pytest.raises(ValueError) as err:
        run_example_gen(CsvExampleGen(input_base=str(base), input_config=config), tmp_path)
    message = str(err.value)
    for part in ("column 'age' is BYTES", "input split 'eval'", f"{base / 'eval' / 'd.csv'} line 3 has 'unknown'",
                 "INT (integers) in input split 'train'", "allow_column_type_changes=True"):
        assert part in message, message
    allowed = run_example_gen(CsvExampleGen(input_base=str(base), input_config=config,
                                            allow_column_type_changes=True), tmp_path, "allowed")
    assert '"age": "BYTES"' in allowed.get_string_custom_property("column_types")


@pytest.mark.e2e
def test_column_changing_type_between_spans_fails_naming_both(tmp_path):
    from beampipe.metadata.store import MetadataStore
    from beampipe.orchestration.local_runner import LocalDagRunner
    base = tmp_path / "in"
    (base / "span-1").mkdir(parents=True)
    (base / "span-1" / "d.csv").write_text("age,name,note\n31,a,\n40,b,\n")  # note: no value yet
    pattern = Input(splits=[Input.Split("single_split", "span-{SPAN}/*.csv")])

    def run(**kwargs):
        gen = CsvExampleGen(input_base=str(base), input_config=pattern, **kwargs)
        return LocalDagRunner().run(_pipeline(tmp_path / "root", [gen]))

    assert run().status == "COMPLETE"
    (base / "span-2").mkdir()
    (base / "span-2" / "d.csv").write_text("age,name,note\n33,c,late\nunknown,d,\n")
    failed = run()
    assert failed.status == "FAILED"
    error = failed.nodes["CsvExampleGen"].error
    for part in ("column 'age' is BYTES (text) in span 2", f"{base / 'span-2' / 'd.csv'} line 3 has 'unknown'",
                 "but INT (integers) in span 1", "allow_column_type_changes=True"):
        assert part in error, error
    assert "'note'" not in error  # a column empty in span 1 has no type to change
    store = MetadataStore(os.path.join(tmp_path, "root", "metadata.sqlite"))
    assert [a for a, _ in store.artifacts_in_run(failed.run_id) if a.state == "LIVE"] == []
    store.close()

    accepted = run(allow_column_type_changes=True)
    assert accepted.status == "COMPLETE", [(r.node_id, r.error) for r in accepted.failed]


# -- range_config: TFX 1.16's ExampleGen reads one span (static, or rolling with num_spans=1) ----

def _span_dirs(base, spans: dict[int, str]) -> None:
    for span, body in spans.items():
        os.makedirs(base / f"span-{span}", exist_ok=True)
        (base / f"span-{span}" / "d.csv").write_text(body)


@pytest.mark.e2e
def test_static_range_caches_on_its_span_only(tmp_path):
    from beampipe.metadata.store import MetadataStore
    from beampipe.orchestration.launcher import latest_outputs
    from beampipe.orchestration.local_runner import LocalDagRunner
    from beampipe.proto import StaticRange
    base = tmp_path / "in"
    _span_dirs(base, {1: "a,b\n1,x\n2,y\n", 2: "a,b\n3,z\n"})
    pattern = Input(splits=[Input.Split("single_split", "span-{SPAN}/*.csv")])
    components = [CsvExampleGen(input_base=str(base), input_config=pattern,
                                range_config=RangeConfig(static_range=StaticRange(1, 1)))]
    first = LocalDagRunner().run(_pipeline(tmp_path / "root", components))
    again = LocalDagRunner().run(_pipeline(tmp_path / "root", components))
    (base / "span-2" / "d.csv").write_text("a,b\n4,w\n")  # another span: not read, still cached
    other = LocalDagRunner().run(_pipeline(tmp_path / "root", components))
    (base / "span-1" / "d.csv").write_text("a,b\n1,x\n5,y\n")  # its span, same size: re-run
    edited = LocalDagRunner().run(_pipeline(tmp_path / "root", components))
    statuses = [r.nodes["CsvExampleGen"].status for r in (first, again, other, edited)]
    assert statuses == ["COMPLETE", "CACHED", "CACHED", "COMPLETE"]
    store = MetadataStore(str(tmp_path / "root" / "metadata.sqlite"))
    [examples] = latest_outputs(store, "t", "CsvExampleGen", edited.run_id)["examples"]
    store.close()
    assert examples.span == 1 and examples.get_int_custom_property("span") == 1
    assert "version" not in examples.custom_properties  # no {VERSION} in the pattern, as TFX


@pytest.mark.e2e
def test_rolling_range_of_one_span_reads_the_latest(tmp_path):
    from beampipe.metadata.store import MetadataStore
    from beampipe.orchestration.launcher import latest_outputs
    from beampipe.orchestration.local_runner import LocalDagRunner
    from beampipe.proto import RollingRange
    base = tmp_path / "in"
    _span_dirs(base, {1: "a,b\n1,x\n"})
    os.makedirs(base / "span-1" / "v2")
    (base / "span-1" / "v2" / "d.csv").write_text("a,b\n1,x\n2,y\n")
    pattern = Input(splits=[Input.Split("single_split", "span-{SPAN}/v{VERSION}/*.csv")])
    components = [CsvExampleGen(input_base=str(base), input_config=pattern,
                                range_config=RangeConfig(rolling_range=RollingRange(num_spans=1)))]
    runs = [LocalDagRunner().run(_pipeline(tmp_path / "root", components))]
    runs.append(LocalDagRunner().run(_pipeline(tmp_path / "root", components)))
    os.makedirs(base / "span-3" / "v0")
    (base / "span-3" / "v0" / "d.csv").write_text("a,b\n7,q\n")
    runs.append(LocalDagRunner().run(_pipeline(tmp_path / "root", components)))
    assert [r.nodes["CsvExampleGen"].status for r in runs] == ["COMPLETE", "CACHED", "COMPLETE"]
    store = MetadataStore(str(tmp_path / "root" / "metadata.sqlite"))
    spans = [latest_outputs(store, "t", "CsvExampleGen", r.run_id)["examples"][0] for r in runs]
    store.close()
    assert [(e.span, e.version) for e in spans] == [(1, 2), (1, 2), (3, 0)]
    assert [(e.get_int_custom_property("span"), e.get_int_custom_property("version")) for e in spans] == \
        [(1, 2), (1, 2), (3, 0)]


@pytest.mark.parametrize("range_config,message", [
    (RangeConfig(static_range=RangeConfig.StaticRange(1, 2)), "start_span_number and end_span_number must be equal"),
    (RangeConfig(rolling_range=RangeConfig.RollingRange(num_spans=2)), "reads a single span"),
    (RangeConfig(rolling_range=RangeConfig.RollingRange(start_span_number=1)), "start_span_number is not supported"),
    (RangeConfig(), "give static_range or rolling_range"),
])
def test_ranges_example_gen_refuses_as_tfx(tmp_path, range_config, message):
    base = tmp_path / "in"
    _span_dirs(base, {1: "a,b\n1,x\n"})
    gen = CsvExampleGen(input_base=str(base), range_config=range_config, input_config=Input(
        splits=[Input.Split("single_split", "span-{SPAN}/*.csv")]))
    with pytest.raises(ValueError, match=message):
        CsvExampleGen.resolve_input(gen.exec_properties)


def test_payload_format_enum_number_or_name():
    """TFX passes example_gen_pb2.PayloadFormat values (ints); beampipe's names still work."""
    same = [ImportExampleGen(input_base="/data", payload_format=f).exec_properties["payload_format"]
            for f in (PayloadFormat.FORMAT_PARQUET, 15, "FORMAT_PARQUET", "parquet")]
    assert same == ["parquet"] * 4
    assert ImportExampleGen(input_base="/data").exec_properties["payload_format"] == "tf_example"
    with pytest.raises(ValueError, match="payload_format must be one of.*'proto'"):
        ImportExampleGen(input_base="/data", payload_format=PayloadFormat.FORMAT_PROTO)
