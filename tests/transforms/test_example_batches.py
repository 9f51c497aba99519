"""example_batches and example_encode: the fast paths give the bytes the slow paths give."""
from __future__ import annotations

import gzip
import os

import numpy as np
import pyarrow as pa
import pytest

from beampipe.transforms.example_batches import ReadRecordBatches, _finalize, _Writer, iter_tfrecords
from beampipe.transforms.example_encode import encode_by_parsing, encode_single_values, encode_sorted
from beampipe.transforms.example_io import tfrecords


def _lists(values: np.ndarray, large: bool = False) -> pa.Array:
    offsets = np.arange(len(values) + 1, dtype=np.int64 if large else np.int32)
    cls = pa.LargeListArray if large else pa.ListArray
    return cls.from_arrays(pa.array(offsets), pa.array(values))


def _edge_batch(rows: int = 400) -> pa.RecordBatch:
    rng = np.random.default_rng(0)
    ints = np.concatenate([rng.integers(-2**63, 2**63 - 1, rows // 2, dtype=np.int64),
                           rng.integers(-300, 300_000, rows - rows // 2)])
    ints[:6] = [0, -1, 2**63 - 1, -2**63, 127, 128]
    floats = rng.standard_normal(rows).astype(np.float32)
    floats[:3] = [np.nan, -0.0, np.inf]
    return pa.RecordBatch.from_arrays(
        [_lists(ints), _lists(floats, large=True), _lists(ints[::-1].copy()), _lists(floats)],
        ["zeta", "a_float", "k" * 90, "B"])  # names out of order, one long key


def test_numpy_encoding_equals_deterministic_serialization() -> None:
    batch = _edge_batch()
    assert encode_single_values(batch) == encode_by_parsing(batch)
    sliced = batch.slice(100, 57)
    assert encode_single_values(sliced) == encode_by_parsing(sliced)
    assert encode_single_values(batch.slice(0, 0)) == []


@pytest.mark.parametrize("column", [
    pa.array([[1, 2], [3]]),                      # two values in a row
    pa.array([[1], None]),                        # a missing row
    pa.array([[b"a"], [b"b"]]),                   # bytes
    pa.array([[1.5, 2.0], []], pa.list_(pa.float32())),  # no value in a row
])
def test_other_shapes_take_the_parsing_path(column: pa.Array) -> None:
    batch = pa.RecordBatch.from_arrays([column, _lists(np.array([1, 2]))], ["x", "y"])
    assert encode_single_values(batch) is None
    assert encode_sorted(batch) == encode_by_parsing(batch)


def _records(count: int) -> list[bytes]:
    return [bytes([i % 251]) * (i % 300) for i in range(count)]


def test_reader_reads_what_writer_and_old_reader_see(tmp_path) -> None:
    records = _records(5000)
    path = str(tmp_path / "a.gz")
    writer = _Writer(path)
    writer.write_all(records[:3000])
    writer.write_all(records[3000:])
    writer.close()
    assert list(iter_tfrecords(path)) == records == list(tfrecords(path))
    with open(path, "rb") as f:  # the gzip header Beam's sink writes: no time, no name
        assert f.read(10) == b"\x1f\x8b\x08\x00\x00\x00\x00\x00\x00\x03"


def test_reader_plain_multi_member_and_broken_files(tmp_path) -> None:
    records = _records(700)
    path = str(tmp_path / "a.gz")
    writer = _Writer(path)
    writer.write_all(records)
    writer.close()
    raw = gzip.decompress(open(path, "rb").read())
    plain, members, cut = (str(tmp_path / n) for n in ("plain", "members.gz", "cut.gz"))
    open(plain, "wb").write(raw)
    open(members, "wb").write(gzip.compress(raw[:1000]) + gzip.compress(raw[1000:]))
    open(cut, "wb").write(gzip.compress(raw[:-3]))
    assert list(iter_tfrecords(plain)) == records
    assert list(iter_tfrecords(members)) == records
    with pytest.raises(ValueError, match="truncated"):
        list(iter_tfrecords(cut))
    open(plain, "wb").write(b"not a tfrecord file at all")
    with pytest.raises(ValueError, match="not a TFRecord"):
        list(iter_tfrecords(plain))


def test_batches_span_files_like_the_ordered_read(tmp_path) -> None:
    from tensorflow.core.example import example_pb2

    def example(i: int) -> bytes:
        e = example_pb2.Example()
        e.features.feature["x"].int64_list.value.append(i)
        return e.SerializeToString()

    paths = []
    for n, (start, stop) in enumerate([(0, 1500), (1500, 1700), (1700, 3100)]):
        paths.append(str(tmp_path / f"{n}.gz"))
        writer = _Writer(paths[-1])
        writer.write_all(example(i) for i in range(start, stop))
        writer.close()
    batches = list(ReadRecordBatches(None, 1000)(paths))
    assert [b.num_rows for b in batches] == [1000, 1000, 1000, 100]
    values = [v for b in batches for v in b.column(0).flatten().to_pylist()]
    assert values == list(range(3100))


def test_finalize_names_shards_drops_leftovers_and_writes_one_empty_shard(tmp_path) -> None:
    split = str(tmp_path / "Split-train")
    os.makedirs(split)
    temps = []
    for n in range(3):
        temps.append(os.path.join(split, f".beampipe-shard-{n}"))
        writer = _Writer(temps[-1])
        writer.write_all([b"r%d" % n])
        writer.close()
    _finalize(temps[:2], split)  # the third is a retried bundle's leftover
    assert sorted(os.listdir(split)) == ["data_tfrecord-00000-of-00002.gz", "data_tfrecord-00001-of-00002.gz"]
    assert list(iter_tfrecords(os.path.join(split, "data_tfrecord-00001-of-00002.gz"))) == [b"r1"]
    empty = str(tmp_path / "Split-eval")
    _finalize([], empty)
    assert os.listdir(empty) == ["data_tfrecord-00000-of-00001.gz"]
    assert list(iter_tfrecords(os.path.join(empty, "data_tfrecord-00000-of-00001.gz"))) == []


def test_slices_cut_batches_of_rows() -> None:
    from beampipe.transforms.example_batches import slices

    batch = _edge_batch(2500)
    parts = list(slices(batch, 1000))
    assert [p.num_rows for p in parts] == [1000, 1000, 500]
    assert [r for p in parts for r in encode_by_parsing(p)] == encode_by_parsing(batch)  # NaN too
