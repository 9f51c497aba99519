"""tf.Example building, hash-bucket splitting and TFRecord reading for ExampleGen.

Examples go to gzip TFRecord shards in each split's directory, named as TFX names them
(``Examples.split_uri`` / ``Examples.shard_name``).

Splits are TFX 1.16's (``base_example_gen_executor._PartitionFn``): a row's bucket is the
SHA-256 of its key, read as a big-endian integer, modulo the total hash buckets; the splits
take consecutive bucket ranges in their order. The key is the example serialized
deterministically (map entries sorted by feature name), or, with ``partition_feature_name``,
that feature's ``tf.train.Feature`` serialized deterministically (a bytes or int64 list).
A CSV row becomes the example TFX's CsvExampleGen builds: every column is a feature, an
empty cell an empty list of the column's type (an untyped, all-empty column an empty
Feature). Records are written as serialized for the key, so equal input gives equal bytes.
"""
from __future__ import annotations

import bisect
import hashlib
import os
import struct
import zlib
from typing import Any, Iterable, Iterator

from beampipe.transforms.csv_decode import FLOAT, INT, data_rows


def _example_class() -> Any:
    from tensorflow.core.example import example_pb2
    return example_pb2.Example


def example_from_row(row: list[str], header: list[str], types: list[str],
                     typed: list[bool] | None = None) -> Any:
    """One CSV row -> the tf.Example TFX's CsvExampleGen builds from it.

    Every column is a feature; an empty cell is an empty list of the column's type, and a
    column with no value in any row (``typed[i]`` false) an empty ``tf.train.Feature``.
    """
    example = _example_class()()
    feature = example.features.feature
    for i, (name, kind, value) in enumerate(zip(header, types, row)):
        if typed is not None and not typed[i]:
            feature[name]  # noqa: B018 - inserts the empty Feature
        elif kind == INT:
            feature[name].int64_list.value[:] = [int(value)] if value else []
        elif kind == FLOAT:
            feature[name].float_list.value[:] = [float(value)] if value else []
        else:
            feature[name].bytes_list.value[:] = [value.encode("utf-8")] if value else []
    return example


def example_from_dict(record: dict[str, Any]) -> Any:
    """A Parquet row (dict of scalars or lists; None = absent) -> tf.Example."""
    example = _example_class()()
    feature = example.features.feature
    for name, value in record.items():
        values = value if isinstance(value, (list, tuple)) else [value]
        values = [v for v in values if v is not None]
        if not values:
            continue
        first = values[0]
        if isinstance(first, (bool, int)):
            feature[name].int64_list.value.extend(int(v) for v in values)
        elif isinstance(first, float):
            feature[name].float_list.value.extend(values)
        elif isinstance(first, (str, bytes)):
            feature[name].bytes_list.value.extend(v.encode("utf-8") if isinstance(v, str) else v
                                                  for v in values)
        else:
            raise ValueError(f"Parquet column {name!r}: values of type {type(first).__name__} "
                             "cannot become a tf.Example feature (use numbers or strings)")
    return example


def partition_key(example: Any, feature_name: str) -> bytes:
    """The bytes that decide the split when ``partition_feature_name`` is set (TFX's rule:
    the feature's ``tf.train.Feature`` serialized deterministically; bytes or int64 only)."""
    if feature_name not in example.features.feature:
        raise ValueError(f"partition_feature_name {feature_name!r}: an example has no such feature; "
                         "the partition feature must be present in every row")
    feat = example.features.feature[feature_name]
    kind = feat.WhichOneof("kind")
    if kind is None:
        raise ValueError(f"partition_feature_name {feature_name!r}: the feature has no value list "
                         "(a column empty in every row); partition on a column with values")
    if kind == "float_list":
        raise ValueError(f"partition_feature_name {feature_name!r} is a FLOAT feature; as in TFX, "
                         "only BYTES (text) and INT features can partition the splits")
    return feat.SerializeToString(deterministic=True)


class HashBuckets:
    """beam.Partition function: (key, serialized example) -> split index, TFX's way:
    ``int(sha256(key).hexdigest(), 16) % total``, then the split whose cumulative bucket
    range holds it."""

    def __init__(self, buckets: list[int]) -> None:
        self.buckets = [int(b) for b in buckets]
        self.bounds, total = [], 0
        for b in buckets:
            total += int(b)
            self.bounds.append(total)
        self.total = total

    def bucket(self, key: bytes) -> int:
        return int.from_bytes(hashlib.sha256(key).digest(), "big") % self.total

    def __call__(self, element: tuple[bytes, bytes], num_partitions: int) -> int:
        return min(bisect.bisect(self.bounds, self.bucket(element[0])), num_partitions - 1)


def keyed(example: Any, feature_name: str) -> tuple[bytes, bytes]:
    """(split key, record); the record is the example serialized deterministically."""
    serialized = example.SerializeToString(deterministic=True)
    return (partition_key(example, feature_name) if feature_name else serialized, serialized)


class CsvFileToExamples:
    """A DoFn-like callable (for beam.FlatMap): CSV file path -> (key, serialized example)."""

    def __init__(self, header: list[str], types: list[str], partition_feature: str,
                 layout: Any = None) -> None:
        self.header, self.types, self.partition_feature = header, types, partition_feature
        self.layout = layout  # the scan's CsvLayout, for the column-type check across spans
        if partition_feature and partition_feature not in header:
            raise ValueError(f"partition_feature_name {partition_feature!r} is not a CSV column; "
                             f"columns are {header}")

    def __call__(self, path: str) -> Iterable[tuple[bytes, bytes]]:
        typed = self.layout.has_values if self.layout is not None else None
        for row in data_rows(path):
            yield keyed(example_from_row(row, self.header, self.types, typed), self.partition_feature)


def is_gzip(path: str) -> bool:
    with open(path, "rb") as f:
        return f.read(2) == b"\x1f\x8b"


def crc32c_function() -> Any:
    """The fastest CRC32C at hand: google-crc32c's C code, else crcmod (which Beam needs)."""
    try:
        import google_crc32c
        return google_crc32c.value
    except ImportError:
        import crcmod.predefined
        return crcmod.predefined.mkPredefinedCrcFun("crc-32c")


def masked_crc(data: bytes, crc32c: Any = None) -> int:
    """TFRecord's masked CRC32C of data."""
    crc = (crc32c or crc32c_function())(data)
    return (((crc >> 15) | (crc << 17)) + 0xA282EAD8) & 0xFFFFFFFF


def frame(record: bytes, crc32c: Any) -> bytes:
    """One TFRecord frame: the length, its masked CRC32C, the record, its masked CRC32C."""
    length = struct.pack("<Q", len(record))
    return (length + struct.pack("<I", masked_crc(length, crc32c)) + record
            + struct.pack("<I", masked_crc(record, crc32c)))


_CHUNK_BYTES = 1 << 20  # framed records handed to the file (or zlib) at a time


def write_tfrecords(path: str, records: Iterable[bytes], gzip: bool) -> None:
    """One TFRecord file as Beam's sink writes it; gzip: zlib level 6, header with mtime 0
    (deflate's output does not depend on how its input is cut: written as it comes)."""
    os.makedirs(os.path.dirname(path), exist_ok=True)
    crc32c = crc32c_function()
    compressor = zlib.compressobj(zlib.Z_DEFAULT_COMPRESSION, zlib.DEFLATED, 31) if gzip else None
    with open(path, "wb") as f:
        framed = bytearray()
        for record in records:
            if not isinstance(record, bytes):
                raise TypeError(f"TFRecord records are bytes, got {type(record).__name__} for {path}")
            framed += frame(record, crc32c)
            if len(framed) >= _CHUNK_BYTES:
                f.write(compressor.compress(framed) if compressor else framed)
                framed.clear()
        f.write(compressor.compress(framed) + compressor.flush() if compressor else framed)


def tfrecords(path: str) -> Iterator[bytes]:
    """Every record of a TFRecord file (gzip or not), read by hand: no TF, no Beam
    (``tfrecord_read``: large inflated blocks, CRCs checked in C).

    A file that is not a TFRecord raises one ValueError naming it.
    """
    from beampipe.transforms.tfrecord_read import record_chunks
    try:
        for chunk in record_chunks(path):
            yield from chunk
    except (OSError, ValueError, EOFError, zlib.error) as err:
        raise ValueError(f"{path}: not a TFRecord file ({err})") from None


def first_record(path: str) -> bytes | None:
    """The first record of a TFRecord file (gzip or not), read by hand to check the payload."""
    records = tfrecords(path)
    try:
        return next(records, None)
    finally:
        records.close()


def check_tfrecord_of_examples(path: str) -> None:
    """Fail early, naming the file, when a TFRecord does not hold tf.Examples."""
    record = first_record(path)
    if record is None:
        return
    from google.protobuf.message import DecodeError
    try:
        example = _example_class().FromString(record)
    except DecodeError:
        raise ValueError(f"{path}: its first record is not a serialized tf.Example") from None
    if not example.features.feature:
        raise ValueError(f"{path}: its first record is not a tf.Example with features")
