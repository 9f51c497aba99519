"""example_batches and batch_encode: the fast paths give the bytes the slow paths give."""
from __future__ import annotations

import os

import numpy as np
import pyarrow as pa
import pytest

from beampipe.transforms.batch_encode import encode_by_parsing, encode_single_values, encode_sorted
from beampipe.transforms.example_batches import _finalize, _record_batches, _Writer
from beampipe.transforms.example_encode import binary_rows
from beampipe.transforms.example_io import tfrecords


def _write(path: str, records: list[bytes]) -> None:
    import pyarrow as pa
    writer = _Writer(path)
    writer.write(pa.array(records, pa.binary()))
    writer.close()


def _fast(batch: pa.RecordBatch) -> list[bytes] | None:
    encoded = encode_single_values(batch)
    return None if encoded is None else binary_rows(encoded)


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
    assert _fast(batch) == encode_by_parsing(batch)
    sliced = batch.slice(100, 57)
    assert _fast(sliced) == encode_by_parsing(sliced)
    assert _fast(batch.slice(0, 0)) == []


@pytest.mark.parametrize("column", [
    pa.array([[1, 2], [3]]),                      # two values in a row
    pa.array([[1], None]),                        # a missing row
    pa.array([[b"a"], [b"b"]]),                   # bytes
    pa.array([[1.5, 2.0], []], pa.list_(pa.float32())),  # no value in a row
])
def test_other_shapes_take_the_parsing_path(column: pa.Array) -> None:
    batch = pa.RecordBatch.from_arrays([column, _lists(np.array([1, 2]))], ["x", "y"])
    assert encode_single_values(batch) is None
    assert binary_rows(encode_sorted(batch)) == encode_by_parsing(batch)


def _records(count: int) -> list[bytes]:
    return [bytes([i % 251]) * (i % 300) for i in range(count)]


def test_reader_reads_what_writer_and_old_reader_see(tmp_path) -> None:
    records = _records(5000)
    path = str(tmp_path / "a.gz")
    writer = _Writer(path)
    writer.write(pa.array(records[:3000], pa.binary()))
    writer.write(pa.array(records[3000:], pa.binary()))
    writer.close()
    assert list(tfrecords(path)) == records
    with open(path, "rb") as f:  # the gzip header Beam's sink writes: no time, no name
        assert f.read(10) == b"\x1f\x8b\x08\x00\x00\x00\x00\x00\x00\x03"


def test_batches_span_files_like_the_ordered_read(tmp_path) -> None:
    from tensorflow.core.example import example_pb2

    def example(i: int) -> bytes:
        e = example_pb2.Example()
        e.features.feature["x"].int64_list.value.append(i)
        return e.SerializeToString()

    paths = []
    for n, (start, stop) in enumerate([(0, 1500), (1500, 1700), (1700, 3100)]):
        paths.append(str(tmp_path / f"{n}.gz"))
        _write(paths[-1], [example(i) for i in range(start, stop)])
    batches = list(_record_batches(tuple(paths), None, 1000))
    assert [b.num_rows for b in batches] == [1000, 1000, 1000, 100]
    values = [v for b in batches for v in b.column(0).flatten().to_pylist()]
    assert values == list(range(3100))


def test_finalize_names_shards_drops_leftovers_and_writes_one_empty_shard(tmp_path) -> None:
    split = str(tmp_path / "Split-train")
    os.makedirs(split)
    temps = []
    for n in range(3):
        temps.append(os.path.join(split, f".beampipe-shard-{n}"))
        _write(temps[-1], [b"r%d" % n])
    _finalize(temps[:2], split)  # the third is a retried bundle's leftover
    assert sorted(os.listdir(split)) == ["data_tfrecord-00000-of-00002.gz", "data_tfrecord-00001-of-00002.gz"]
    assert list(tfrecords(os.path.join(split, "data_tfrecord-00001-of-00002.gz"))) == [b"r1"]
    empty = str(tmp_path / "Split-eval")
    _finalize([], empty)
    assert os.listdir(empty) == ["data_tfrecord-00000-of-00001.gz"]
    assert list(tfrecords(os.path.join(empty, "data_tfrecord-00000-of-00001.gz"))) == []


def test_slices_cut_batches_of_rows() -> None:
    from beampipe.transforms.example_batches import slices

    batch = _edge_batch(2500)
    parts = list(slices(batch, 1000))
    assert [p.num_rows for p in parts] == [1000, 1000, 500]
    assert [r for p in parts for r in encode_by_parsing(p)] == encode_by_parsing(batch)  # NaN too


def test_writer_takes_an_empty_batch(tmp_path) -> None:
    path = str(tmp_path / "a.gz")
    _write(path, [])
    writer = _Writer(str(tmp_path / "b.gz"))
    writer.write(pa.array([], pa.binary()))
    writer.write(pa.array([b"x"], pa.binary()))
    writer.close()
    assert list(tfrecords(path)) == [] and list(tfrecords(str(tmp_path / "b.gz"))) == [b"x"]


def test_writer_deflating_in_a_thread_writes_one_compressor_bytes(tmp_path, monkeypatch) -> None:
    """Many buffers handed to the deflate thread: the file is what one compressor fed the
    same bytes in one go writes (Beam's sink's bytes)."""
    import zlib

    from beampipe.transforms import example_batches
    from beampipe.transforms.example_encode import binary_data, frame_records

    monkeypatch.setattr(example_batches, "_FLUSH_BYTES", 4096)
    records = _records(6000)
    path = str(tmp_path / "a.gz")
    writer = _Writer(path)
    framed = bytearray()
    for start in range(0, len(records), 250):
        chunk = pa.array(records[start:start + 250], pa.binary())
        writer.write(chunk)
        framed += binary_data(frame_records(chunk))
    writer.close()
    zip_ = zlib.compressobj(zlib.Z_DEFAULT_COMPRESSION, zlib.DEFLATED, 31)
    with open(path, "rb") as f:
        assert f.read() == zip_.compress(bytes(framed)) + zip_.flush()
    assert list(tfrecords(path)) == records
