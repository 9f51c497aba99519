"""The schema-typed numpy decode gives tfx-bsl's typed record batches exactly, or declines.

Every comparison is against tfx-bsl's ``ExamplesToRecordBatchDecoder(schema)`` on the same
records, batch by batch: equal schemas (column order, types, nullability) and equal values.
"""
from __future__ import annotations

import random

import pytest

from beampipe.transforms import typed_decode


def _records(rows: int, seed: int = 0) -> list[bytes]:
    import tensorflow as tf
    rng = random.Random(seed)
    out = []
    for _ in range(rows):
        feature = {
            "company": tf.train.Feature(bytes_list=tf.train.BytesList(value=[rng.choice([b"a", b"bb", b""])])),
            "fare": tf.train.Feature(float_list=tf.train.FloatList(value=[rng.uniform(-5, 500)])),
            "miles": tf.train.Feature(float_list=tf.train.FloatList(
                value=[rng.random() for _ in range(rng.randint(0, 3))])),
            "seconds": tf.train.Feature(int64_list=tf.train.Int64List(value=[rng.randint(-2**40, 2**40)])),
            "tags": tf.train.Feature(bytes_list=tf.train.BytesList(value=[b"x"] * rng.randint(0, 2))),
        }
        out.append(tf.train.Example(features=tf.train.Features(feature=feature)).SerializeToString(
            deterministic=True))
    return out


def _schema(features: list[tuple[str, str]], sparse: bool = False):
    from tensorflow_metadata.proto.v0 import schema_pb2
    types = {"int": schema_pb2.INT, "float": schema_pb2.FLOAT, "bytes": schema_pb2.BYTES}
    schema = schema_pb2.Schema()
    for name, kind in features:
        feature = schema.feature.add()
        feature.name, feature.type = name, types[kind]
    if sparse:
        sparse_feature = schema.sparse_feature.add()
        sparse_feature.name = "s"
        sparse_feature.index_feature.add().name = "seconds"
        sparse_feature.value_feature.name = "fare"
    return schema


def _reference(records: list[bytes], schema, batch_size: int) -> list:
    from tfx_bsl.coders import example_coder
    decode = example_coder.ExamplesToRecordBatchDecoder(schema.SerializeToString()).DecodeBatch
    return [decode(records[i:i + batch_size]) for i in range(0, len(records), batch_size)]


FULL = [("company", "bytes"), ("fare", "float"), ("miles", "float"), ("seconds", "int"), ("tags", "bytes")]


@pytest.mark.parametrize("features", [
    FULL,
    FULL[::-1],  # the schema's order, not the records' (sorted) order
    [("seconds", "int"), ("company", "bytes")],  # features the schema lacks are left out
])
@pytest.mark.parametrize("batch_size", [1, 7, 100])
def test_typed_batches_equal_tfx_bsl(features, batch_size) -> None:
    records, schema = _records(250), _schema(features)
    mine = typed_decode.record_batches(records, schema, batch_size)
    assert mine is not None, "regular records were declined"
    ref = _reference(records, schema, batch_size)
    assert len(mine) == len(ref)
    for got, want in zip(mine, ref):
        assert got.schema.equals(want.schema, check_metadata=True), (got.schema, want.schema)
        assert got.equals(want)
        assert got.nbytes == want.nbytes  # TFT's analyzer cache records the sum


@pytest.mark.parametrize("schema", [
    _schema(FULL + [("absent", "float")]),  # tfx-bsl gives an all-null column
    _schema([("fare", "int")]),  # not the records' kind: tfx-bsl's error, not ours
    _schema(FULL, sparse=True),  # sparse features: tfx-bsl's business
])
def test_declines_what_only_tfx_bsl_knows(schema) -> None:
    records = _records(20)
    assert typed_decode.record_batches(records, schema, 10) is None


def test_decode_falls_back_to_tfx_bsl() -> None:
    records, schema = _records(30), _schema(FULL + [("absent", "float")])
    got = typed_decode.decode(records, schema, 8)
    want = _reference(records, schema, 8)
    assert len(got) == len(want) and all(g.equals(w) for g, w in zip(got, want))
    assert typed_decode.record_batches([], _schema(FULL), 8) is None
