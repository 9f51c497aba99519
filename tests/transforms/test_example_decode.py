"""The numpy tf.Example decoder gives tfx-bsl's record batches exactly, or declines.

Every comparison is against tfx-bsl's own ``ExamplesToRecordBatchDecoder`` on the same
records, batch by batch: ``RecordBatch.equals`` and equal schemas (column order, large_list
vs list, value types). Regular records of many shapes must be decoded here; irregular ones
(absent or kind-less features, other key orders, unknown fields, unpacked lists, bad bytes)
must be declined (None), so the caller hands them to tfx-bsl.
"""
from __future__ import annotations

import random
import struct

import pytest

from beampipe.transforms import example_decode


def _reference(records: list[bytes], batch_size: int) -> list:
    from tfx_bsl.coders import example_coder
    decode = example_coder.ExamplesToRecordBatchDecoder().DecodeBatch
    return [decode(records[i:i + batch_size]) for i in range(0, len(records), batch_size)]


def _assert_same(records: list[bytes], batch_size: int) -> None:
    mine = example_decode.record_batches(records, batch_size)
    assert mine is not None, "regular records were declined"
    ref = _reference(records, batch_size)
    assert len(mine) == len(ref)
    for got, want in zip(mine, ref):
        _assert_same_batch(got, want)


def _assert_same_batch(got, want) -> None:
    """Equal schemas and values; floats compared bit for bit (NaN is never equal to itself)."""
    import numpy as np
    assert got.schema.equals(want.schema), (got.schema, want.schema)
    assert got.num_rows == want.num_rows
    if got.equals(want):
        return
    for name in want.schema.names:
        x, y = got.column(name), want.column(name)
        if x.equals(y):
            continue
        assert x.is_null().equals(y.is_null()), name
        assert x.value_lengths().fill_null(0).equals(y.value_lengths().fill_null(0)), name
        xv, yv = x.flatten(), y.flatten()
        if str(y.type.value_type) == "float":
            assert np.array_equal(xv.to_numpy().view(np.int32), yv.to_numpy().view(np.int32)), name
        else:
            assert xv.equals(yv), name


_KEYS = ["a", "fare", "", "z" * 140, "ключ", "b c", "A", "_1", "tips"]


def _regular(n: int, seed: int) -> list[bytes]:
    """Records with the same keys and kinds, values of every sort: empty and long lists,
    extreme ints, NaN/inf/-0.0 floats, empty/binary/long strings, lengths over 127 bytes."""
    import tensorflow as tf
    rng = random.Random(seed)
    keys = rng.sample(_KEYS, rng.randint(1, len(_KEYS)))
    kinds = {k: rng.choice(["bytes", "float", "int64"]) for k in keys}
    ints = [0, 1, -1, 127, 128, 2**31, -2**31, 2**63 - 1, -2**63, 300, 16383, 16384]
    floats = [0.0, -0.0, 1.5, float("nan"), float("inf"), float("-inf"), 1e-45, 3.4e38]
    out = []
    for _ in range(n):
        features = {}
        for key in keys:
            count = rng.choice([0, 1, 1, 1, 2, 5, 40]) if rng.random() < 0.98 else 200
            if kinds[key] == "bytes":
                values = [rng.choice([b"", b"x", b"\xff\x00\xfe", b"Credit Card", b"q" * 300])
                          for _ in range(count)]
                feature = tf.train.Feature(bytes_list=tf.train.BytesList(value=values))
            elif kinds[key] == "float":
                feature = tf.train.Feature(float_list=tf.train.FloatList(
                    value=[rng.choice(floats + [rng.gauss(0, 1e6)]) for _ in range(count)]))
            else:
                feature = tf.train.Feature(int64_list=tf.train.Int64List(
                    value=[rng.choice(ints + [rng.randint(-2**63, 2**63 - 1)]) for _ in range(count)]))
            features[key] = feature
        example = tf.train.Example(features=tf.train.Features(feature=features))
        out.append(example.SerializeToString(deterministic=True))
    return out


@pytest.mark.parametrize("seed", range(12))
def test_regular_records_of_many_shapes_decode_as_tfx_bsl(seed):
    records = _regular(2_345, seed)
    _assert_same(records, 1000)
    _assert_same(records[:7], 1000)


def test_one_value_each_and_odd_batch_sizes():
    import tensorflow as tf
    rng = random.Random(5)
    records = [tf.train.Example(features=tf.train.Features(feature={
        "company": tf.train.Feature(bytes_list=tf.train.BytesList(value=[f"Taxi Co {rng.randint(0, 99)}".encode()])),
        "fare": tf.train.Feature(float_list=tf.train.FloatList(value=[rng.random() * 50])),
        "trip_seconds": tf.train.Feature(int64_list=tf.train.Int64List(value=[rng.randint(0, 100)])),
        "ts": tf.train.Feature(int64_list=tf.train.Int64List(value=[rng.randint(10**9, 2 * 10**9)])),
    })).SerializeToString(deterministic=True) for _ in range(3_001)]
    for batch_size in (1, 999, 1000, 5000):
        _assert_same(records, batch_size)


def _varint(n: int) -> bytes:
    out = bytearray()
    while True:
        byte, n = n & 0x7F, n >> 7
        out.append(byte | (0x80 if n else 0))
        if not n:
            return bytes(out)


def _field(tag: int, body: bytes) -> bytes:
    return bytes([tag]) + _varint(len(body)) + body


def _entry(key: bytes, feature: bytes) -> bytes:
    return _field(0x0A, _field(0x0A, key) + _field(0x12, feature))


def _example(*entries: bytes, tail: bytes = b"") -> bytes:
    return _field(0x0A, b"".join(entries)) + tail


_INT = _field(0x1A, _field(0x0A, _varint(7)))  # int64_list {value: 7}, packed
_FLOAT = _field(0x12, _field(0x0A, struct.pack("<f", 2.5)))
_BYTES = _field(0x0A, _field(0x0A, b"v"))
_REG = _example(_entry(b"a", _INT), _entry(b"b", _FLOAT), _entry(b"c", _BYTES))

IRREGULAR = {
    "a feature absent": [_REG, _example(_entry(b"a", _INT), _entry(b"c", _BYTES))],
    "an extra feature": [_REG, _example(_entry(b"a", _INT), _entry(b"b", _FLOAT), _entry(b"c", _BYTES),
                                        _entry(b"d", _INT))],
    "a kind-less feature": [_REG, _example(_entry(b"a", _INT), _entry(b"b", b""), _entry(b"c", _BYTES))],
    "another key order": [_REG, _example(_entry(b"b", _FLOAT), _entry(b"a", _INT), _entry(b"c", _BYTES))],
    "another key": [_REG, _example(_entry(b"a", _INT), _entry(b"x", _FLOAT), _entry(b"c", _BYTES))],
    "an unknown field after features": [_REG, _example(_entry(b"a", _INT), _entry(b"b", _FLOAT),
                                                       _entry(b"c", _BYTES), tail=_field(0x12, b"zz"))],
    "an unknown field in a feature": [_REG, _example(_entry(b"a", _INT + _field(0x22, b"q")),
                                                     _entry(b"b", _FLOAT), _entry(b"c", _BYTES))],
    "an unpacked int64 list": [_REG, _example(_entry(b"a", _field(0x1A, b"\x08\x07")), _entry(b"b", _FLOAT),
                                              _entry(b"c", _BYTES))],
    "an unpacked float list": [_REG, _example(_entry(b"a", _INT), _entry(b"b", _field(0x12, b"\x0d" + struct.pack(
        "<f", 2.5))), _entry(b"c", _BYTES))],
    "a value before its key": [_REG, _example(_field(0x0A, _field(0x12, _INT) + _field(0x0A, b"a")),
                                              _entry(b"b", _FLOAT), _entry(b"c", _BYTES))],
    "a repeated key": [_example(_entry(b"a", _INT), _entry(b"a", _INT))] * 3,
    "two Features fields": [_REG, _REG + _field(0x0A, _entry(b"a", _INT))],
    "an empty record": [_REG, b""],
    "a key with a NUL byte": [_example(_entry(b"a\x00b", _INT))] * 2,  # tfx-bsl names it "a"
    "a key not in UTF-8": [_example(_entry(b"\xff", _INT))] * 2,
}


@pytest.mark.parametrize("case", sorted(IRREGULAR))
def test_irregular_records_are_left_to_tfx_bsl(case):
    records = IRREGULAR[case]
    assert example_decode.record_batches(records, 1000) is None
    assert example_decode.record_batches(records[::-1], 1000) is None


@pytest.mark.parametrize("cut", [1, 5, 9, 20])
def test_truncated_or_corrupt_records_are_declined(cut):
    good = _REG
    assert example_decode.record_batches([good, good], 10) is not None
    assert example_decode.record_batches([good, good[:-cut]], 10) is None
    assert example_decode.record_batches([good[:-cut], good], 10) is None
    corrupt = bytearray(good)
    corrupt[cut] ^= 0x80  # a length byte turned into a continuation, or a tag changed
    assert example_decode.record_batches([good, bytes(corrupt)], 10) is None


def test_regular_minimal_records_decode_as_tfx_bsl():
    _assert_same([_REG] * 3 + [_example(_entry(b"a", _field(0x1A, b"")), _entry(b"b", _field(0x12, b"")),
                                        _entry(b"c", _field(0x0A, b"")))], 2)
