"""The CSV fast path (csv_arrow + example_encode) writes byte-identical shards to the Python path.

Each case runs CsvExampleGen's executor twice on the same files, once as shipped (fast path
when it applies) and once with the fast path switched off, and compares every output file
byte for byte, the decoded examples, and the recorded column types.
"""
from __future__ import annotations

import glob
import gzip
import os
import shutil

import pytest

from beampipe.components.base import ExecContext
from beampipe.components.example_gen import CsvExampleGen
from beampipe.metadata.artifacts import Examples
from beampipe.proto import Input, Output, SplitConfig
from beampipe.transforms import csv_arrow, example_encode


def _run(component, root, name: str,
         beam_args: list[str] | None = None) -> tuple[Examples, dict[str, bytes]]:
    ctx = ExecContext(node_id="ExampleGen", run_id="r1", pipeline_name="t", pipeline_root=str(root),
                      inputs={}, outputs={"examples": [Examples(uri=str(root / name))]},
                      exec_properties=component.exec_properties, temp_dir=str(root / "tmp" / name),
                      beam_pipeline_args=beam_args or [])
    type(component).execute(ctx)
    out = ctx.output("examples")
    paths = sorted(glob.glob(os.path.join(out.uri, "**", "*"), recursive=True))
    files = {os.path.relpath(f, out.uri): open(f, "rb").read() for f in paths if os.path.isfile(f)}
    return out, files


def compare(component, root, monkeypatch, expect_fast: bool = True) -> dict[str, bytes]:
    """Run fast and Python paths; assert identical outputs; return the files."""
    used = []
    original = example_encode.ArrowCsvToExamples.write_shards

    def spy(self, *args, **kwargs):
        used.append(args[0])
        return original(self, *args, **kwargs)

    with monkeypatch.context() as m:
        m.setattr(example_encode.ArrowCsvToExamples, "write_shards", spy)
        fast, fast_files = _run(component, root, "fast")
    with monkeypatch.context() as m:
        m.setattr(csv_arrow, "scan_and_keep", lambda paths, keep_bytes: None)
        slow, slow_files = _run(component, root, "slow")
    assert bool(used) == expect_fast
    assert fast_files.keys() == slow_files.keys() and fast_files
    for name in fast_files:
        assert fast_files[name] == slow_files[name], name
    assert fast.get_string_custom_property("column_types") == slow.get_string_custom_property("column_types")
    assert fast.splits == slow.splits
    return fast_files


def parsed(files: dict[str, bytes]) -> dict[str, list]:
    import tensorflow as tf
    from beampipe.transforms.example_io import tfrecords
    out = {}
    for name, data in files.items():
        path = f"/tmp/{os.getpid()}-{name.replace('/', '_')}"
        with open(path, "wb") as f:
            f.write(data)
        out[name] = [tf.train.Example.FromString(r) for r in tfrecords(path)]
        os.remove(path)
    return out


def test_penguins_identical(penguin_csv, tmp_path, monkeypatch):
    base = tmp_path / "in"
    base.mkdir()
    shutil.copy(penguin_csv, base / "penguins.csv")
    files = compare(CsvExampleGen(input_base=str(base)), tmp_path, monkeypatch)
    examples = parsed(files)
    assert sum(len(v) for v in examples.values()) == 344  # every data row of the file


@pytest.mark.parametrize("partition", ["", "company", "pickup_community_area"])  # none, BYTES, INT
def test_taxi_identical_with_partition_feature(partition, tmp_path, monkeypatch):
    from benchmarks.make_taxi_csv import write
    base = tmp_path / "in"
    write(3000, str(base / "taxi.csv"))
    config = Output(split_config=SplitConfig(splits=[
        SplitConfig.Split(name="a", hash_buckets=3), SplitConfig.Split(name="b", hash_buckets=5),
        SplitConfig.Split(name="c", hash_buckets=1)], partition_feature_name=partition))
    files = compare(CsvExampleGen(input_base=str(base), output_config=config if partition else None),
                    tmp_path, monkeypatch)
    examples = parsed(files)
    assert sum(len(v) for v in examples.values()) == 3000
    first = next(e for v in examples.values() for e in v)
    from benchmarks.make_taxi_csv import HEADER
    assert set(first.features.feature) == set(HEADER)


def test_beam_path_writes_the_same_bytes(tmp_path):
    """With Beam args the per-file writes run in Beam's DoFn, through the same fast path."""
    from benchmarks.make_taxi_csv import write
    base = tmp_path / "in"
    for k in range(2):
        write(500, str(base / f"taxi{k}.csv"), seed=k)
    _, local = _run(CsvExampleGen(input_base=str(base)), tmp_path, "local")
    _, beam = _run(CsvExampleGen(input_base=str(base)), tmp_path, "beam", ["--direct_num_workers=1"])
    assert local == beam and len(local) == 4


def test_fast_path_imports_neither_tensorflow_nor_pandas(tmp_path):
    import subprocess
    import sys
    base = tmp_path / "in"
    base.mkdir()
    (base / "d.csv").write_text("a,b,c\n1,2.5,x\n,3,\n")
    code = f"""
import sys
from beampipe.components.base import ExecContext
from beampipe.components.example_gen import CsvExampleGen
from beampipe.metadata.artifacts import Examples
gen = CsvExampleGen(input_base={str(base)!r})
ctx = ExecContext(node_id="g", run_id="r", pipeline_name="p", pipeline_root={str(tmp_path)!r}, inputs={{}},
                  outputs={{"examples": [Examples(uri={str(tmp_path / "out")!r})]}},
                  exec_properties=gen.exec_properties, temp_dir={str(tmp_path / "tmp")!r})
CsvExampleGen.execute(ctx)
print(sorted(m for m in ("tensorflow", "pandas", "apache_beam") if m in sys.modules))
"""
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                         cwd=os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))
    assert out.stdout.strip() == "[]", out.stdout + out.stderr


TRICKY = [
    # empty cells, an all-empty column, negative / 18-digit / beyond-int64 ints, float forms
    "i,e,f,big,s\n1,,1e5,-999999999999999999,x\n-7,,-0.0,123456789012345678,\n,,.5,99999999999999999999,é\n"
    "0,,5.,-0,\"a,b\"\n007,,1E+05,1,\"say \"\"hi\"\"\"\n",
    # floats: long mantissas, tiny/huge exponents, ints in a float column, -0
    "f,g\n0.1000000000000000055511151231257827,1\n3.4028236e38,2.5\n1e-50,-0\n1e400,\n-0,3\n",
    # text after numbers (BYTES, warned), unicode, blank lines, CRLF endings, quoted empties
    "n,t,u\r\n1,ünï,x\r\n\r\n2,日本,\"\"\r\nabc,\"q,\"\"\",3\r\n\r\n4,,4\r\n",
    # 19 digits within int64 (INT), int64's ends
    "a,b\n1000000000000000000,9223372036854775807\n-9223372036854775808,-9223372036854775808\n",
    # pyarrow's int cast reads 0x5 as 5; Python's int() does not: BYTES
    "a,b\n4,1\n0x5,2\n",
    # a single column: a quoted empty cell is a row, a blank line is not; no trailing newline
    'only\n3\n""\n\n4\n-5',
]


@pytest.mark.parametrize("text", TRICKY)
def test_tricky_csvs_identical(text, tmp_path, monkeypatch):
    base = tmp_path / "in"
    base.mkdir()
    (base / "data.csv").write_bytes(text.encode("utf-8"))
    compare(CsvExampleGen(input_base=str(base)), tmp_path, monkeypatch)


def test_several_files_and_input_splits_identical(tmp_path, monkeypatch):
    base = tmp_path / "in"
    for split in ("train", "eval"):
        (base / split).mkdir(parents=True)
        for k in range(3):
            rows = "".join(f"{k * 100 + r},{r / 7:.5f},{'x' if r % 3 else ''}\n" for r in range(40))
            (base / split / f"part{k}.csv").write_text("a,b,c\n" + rows)
    compare(CsvExampleGen(input_base=str(base / "train")), tmp_path / "many", monkeypatch)
    config = Input(splits=[Input.Split(name="train", pattern="train/*"),
                           Input.Split(name="eval", pattern="eval/*")])
    compare(CsvExampleGen(input_base=str(base), input_config=config), tmp_path / "pre", monkeypatch)


@pytest.mark.parametrize("text", [
    "a,b\n 3,1\n4,2\n",          # whitespace around a number: Python's int() takes it
    "a,b\n1_000,1\n4,2\n",       # underscores
    "a,b\nnan,1\ninf,2\n",       # nan / inf
    "a,b\n1.5,1\n1000000000000000000,2\n",  # 19 digits in a float column
    "a,b\n+3,1\n4,2\n",          # a plus sign
    'a,b\n"multi\nline",1\n4,2\n',  # a quoted newline
    'a,b\nx"y,1\n4,2\n',         # a quote inside an unquoted field
    "\na,b\n1,2\n",              # a blank first line
])
def test_odd_inputs_take_the_python_path_with_the_same_output(text, tmp_path, monkeypatch):
    base = tmp_path / "in"
    base.mkdir()
    (base / "data.csv").write_bytes(text.encode("utf-8"))
    assert csv_arrow.fast_scan([str(base / "data.csv")]) is None
    compare(CsvExampleGen(input_base=str(base)), tmp_path, monkeypatch, expect_fast=False)


@pytest.mark.parametrize("content,expected", [
    (b"a,b\n1,2\n3\n", "line 3 column 'b'"),
    (b"a,b\n1,2\n3,\xff\n", "line 3 column 2: not valid UTF-8"),
    (b"a,b\n1,2\n3,\x00\n", "line 3 column 2: contains a NUL byte"),
    (b"a,a\n1,2\n", "column 2: column name 'a' appears twice"),
    (b"a,b\n", "header but no data rows"),
    (b"a,b\n1,2\r3,4\n", "line 2: malformed CSV"),  # a lone carriage return
])
def test_bad_csv_keeps_the_python_message(content, expected, tmp_path):
    base = tmp_path / "in"
    base.mkdir()
    (base / "bad.csv").write_bytes(content)
    assert csv_arrow.fast_scan([str(base / "bad.csv")]) is None
    with pytest.raises(ValueError) as err:
        _run(CsvExampleGen(input_base=str(base)), tmp_path, "out")
    assert str(base / "bad.csv") in str(err.value) and expected in str(err.value)


def test_small_blocks_give_the_same_layout_lines_and_bytes(tmp_path, monkeypatch):
    from beampipe.transforms.csv_decode import scan_csv
    base = tmp_path / "in"
    base.mkdir()
    path = base / "data.csv"
    path.write_text("a,b,c\n" + "".join(f"{r},{r}.5,{r}\n" for r in range(500)) + "\nzz,1,2\n3,x,\n")
    monkeypatch.setattr(csv_arrow, "BLOCK_BYTES", 64)
    fast = csv_arrow.fast_scan([str(path)])
    slow = scan_csv([str(path)])
    assert fast is not None
    assert (fast.header, fast.types, fast.rows, fast.first_text, fast.has_values) == \
        (slow.header, slow.types, slow.rows, slow.first_text, slow.has_values)
    assert fast.first_text[0][1] == 503
    compare(CsvExampleGen(input_base=str(base)), tmp_path, monkeypatch)


def test_gzip_bytes_do_not_depend_on_write_sizes(tmp_path):
    data = os.urandom(1000) * 3000
    outs = []
    for step in (len(data), 1 << 20, 777):
        path = tmp_path / f"{step}.gz"
        with open(path, "wb") as raw, gzip.GzipFile(filename="", mode="wb", compresslevel=6,
                                                     fileobj=raw, mtime=0) as f:
            for start in range(0, len(data), step):
                f.write(data[start:start + step])
        outs.append(path.read_bytes())
    assert outs[0] == outs[1] == outs[2]


def test_a_file_the_writer_refuses_midway_is_written_again_by_the_python_path(tmp_path, monkeypatch):
    """``Unsupported`` after some blocks were written (the file changed since the scan, say):
    the shards are dropped and the file is written again, whole, by the Python path."""
    from benchmarks.make_taxi_csv import write
    base = tmp_path / "in"
    write(2000, str(base / "taxi.csv"))
    _, expected = _run(CsvExampleGen(input_base=str(base)), tmp_path, "expected")
    monkeypatch.setattr(csv_arrow, "KEEP_BYTES", 0)  # the write pass parses the file again
    real_blocks = csv_arrow.blocks
    calls = []

    def refusing(path, header, block_bytes=0, start=None):
        for number, item in enumerate(real_blocks(path, header, 4096, start)):
            if number == 3 and calls:  # the write pass (the scan pass came first)
                raise csv_arrow.Unsupported("changed")
            yield item
        calls.append(path)

    monkeypatch.setattr(csv_arrow, "blocks", refusing)
    _, again = _run(CsvExampleGen(input_base=str(base)), tmp_path, "again")
    assert calls and again == expected
    assert not glob.glob(str(tmp_path / "again" / "**" / "*.part"), recursive=True)
