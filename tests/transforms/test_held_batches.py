"""Transform's second read of a split (kept batches glued, the rest decoded, or one part a
worker) gives the batches decoding the files gives, whatever was kept."""
from __future__ import annotations

import uuid

import pytest

from beampipe.transforms import held_batches
from beampipe.transforms.example_batches import _record_batches, _Writer, reused_batches
from beampipe.transforms.tfdv_stream import record_batches

SIZES = [2500, 700, 4300, 9100]  # rows a file: batches cross file ends


def _example(i: int) -> bytes:
    from tensorflow.core.example import example_pb2
    e = example_pb2.Example()
    f = e.features.feature
    f["x"].int64_list.value.append(i)
    if i % 7:  # missing in some rows
        f["fare"].float_list.value.extend([i * 0.25] * (i % 3))
    f["company"].bytes_list.value.append(f"c{i % 13}".encode())
    return e.SerializeToString()


@pytest.fixture(scope="module")
def split(tmp_path_factory) -> tuple[tuple[str, ...], object]:
    import pyarrow as pa
    from google.protobuf import text_format
    from tensorflow_metadata.proto.v0 import schema_pb2

    root, paths, start = tmp_path_factory.mktemp("split"), [], 0
    for n, size in enumerate(SIZES):
        paths.append(str(root / f"{n}.gz"))
        writer = _Writer(paths[-1])
        writer.write(pa.array([_example(i) for i in range(start, start + size)], pa.binary()))
        writer.close()
        start += size
    schema = text_format.Parse("""
        feature { name: "x" type: INT }
        feature { name: "fare" type: FLOAT }
        feature { name: "company" type: BYTES }""", schema_pb2.Schema())
    return tuple(paths), schema


def _assert_equal(got: list, want: list) -> None:
    assert [b.num_rows for b in got] == [b.num_rows for b in want]
    for a, b in zip(got, want):
        assert a.schema == b.schema
        assert a.equals(b)


def _analysis_read(files: tuple[str, ...], schema: object, token: str) -> list:
    return list(_record_batches(files, schema, 1000, keep=token))


@pytest.mark.parametrize("bound", [held_batches.MAX_BYTES, 0])
def test_second_read_equals_decoding_whatever_was_kept(split, monkeypatch, bound: int) -> None:
    files, schema = split
    want = list(record_batches(list(files), schema, 8000))
    monkeypatch.setattr(held_batches, "MAX_BYTES", bound)
    token = uuid.uuid4().hex
    with held_batches.dropped_after([token]):
        first = _analysis_read(files, schema, token)
        _assert_equal(first, list(record_batches(list(files), schema, 1000)))
        _analysis_read(files, schema, token)  # TFT may read the analysis input again: kept once
        kept = len(held_batches._stores[token].batches)  # 16,600 rows: 17 batches
        assert kept == 17 if bound else kept == 0
        got = list(_record_batches(files, schema, 8000, reuse=(token, 8, False)))
        assert len(held_batches._stores[token].batches) == kept  # left for the statistics
        _assert_equal(got, want)
        again = list(reused_batches(files, schema, 1000, token, 1))  # Transform's pre-transform stats
        assert held_batches._stores[token].batches == {}  # taken back as they were used
    _assert_equal(again, first)
    assert token not in held_batches._stores


def test_past_the_bound_the_kept_prefix_then_decoding(split, monkeypatch) -> None:
    files, schema = split
    batch_bytes = next(record_batches(list(files), schema, 1000)).nbytes
    monkeypatch.setattr(held_batches, "MAX_BYTES", 11 * batch_bytes)  # one batch of 8 and 3 more
    token = uuid.uuid4().hex
    with held_batches.dropped_after([token]):
        _analysis_read(files, schema, token)
        assert 9 <= len(held_batches._stores[token].batches) < 17
        got = list(_record_batches(files, schema, 8000, reuse=(token, 8, True)))
    _assert_equal(got, list(record_batches(list(files), schema, 8000)))


def test_second_read_in_another_process_decodes(split) -> None:
    """Nothing kept under the token (a Beam worker process of its own): all decoded."""
    files, schema = split
    got = list(_record_batches(files, schema, 8000, reuse=(uuid.uuid4().hex, 8, True)))
    _assert_equal(got, list(record_batches(list(files), schema, 8000)))
