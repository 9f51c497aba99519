"""tf.Example building, hash-bucket splitting and TFRecord reading for ExampleGen.

Examples go to gzip TFRecord shards in each split's directory, named as TFX names them
(``Examples.split_uri`` / ``Examples.shard_name``).
A row's split is a 64-bit fingerprint (blake2b; pyfarmhash only hashes str) of a key
modulo the total buckets; the key is the serialized example or the partition feature's
value. Deterministic across runs and machines, so a re-run puts every row in the same split.
"""
from __future__ import annotations

import gzip
import hashlib
import struct
from typing import Any, Iterable, Iterator

from beampipe.transforms.csv_decode import FLOAT, INT, data_rows


def _example_class() -> Any:
    from tensorflow.core.example import example_pb2
    return example_pb2.Example


def example_from_row(row: list[str], header: list[str], types: list[str]) -> Any:
    """One CSV row -> tf.Example; empty values are left out (feature absent)."""
    example = _example_class()()
    feature = example.features.feature
    for name, kind, value in zip(header, types, row):
        if not value:
            continue
        if kind == INT:
            feature[name].int64_list.value.append(int(value))
        elif kind == FLOAT:
            feature[name].float_list.value.append(float(value))
        else:
            feature[name].bytes_list.value.append(value.encode("utf-8"))
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
    """The bytes that decide the split when ``partition_feature_name`` is set."""
    if feature_name not in example.features.feature:
        raise ValueError(f"partition_feature_name {feature_name!r}: an example has no value for it; "
                         "the partition feature must be present in every row")
    feat = example.features.feature[feature_name]
    kind = feat.WhichOneof("kind")
    values = getattr(feat, kind).value if kind else []
    if kind == "bytes_list":
        return b"\0".join(values)
    return ",".join(repr(v) for v in values).encode()


class HashBuckets:
    """beam.Partition function: (key, serialized example) -> split index."""

    def __init__(self, buckets: list[int]) -> None:
        self.bounds, total = [], 0
        for b in buckets:
            total += int(b)
            self.bounds.append(total)
        self.total = total

    def __call__(self, element: tuple[bytes, bytes], num_partitions: int) -> int:
        digest = hashlib.blake2b(element[0], digest_size=8).digest()
        bucket = int.from_bytes(digest, "little") % self.total
        for index, bound in enumerate(self.bounds):
            if bucket < bound:
                return index
        return num_partitions - 1


def keyed(serialized: bytes, example: Any, feature_name: str) -> tuple[bytes, bytes]:
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
        for row in data_rows(path):
            example = example_from_row(row, self.header, self.types)
            yield keyed(example.SerializeToString(), example, self.partition_feature)


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


def tfrecords(path: str) -> Iterator[bytes]:
    """Every record of a TFRecord file (gzip or not), read by hand: no TF, no Beam.

    A file that is not a TFRecord raises one ValueError naming it.
    """
    opener = gzip.open if is_gzip(path) else open
    crc32c = crc32c_function()
    try:
        with opener(path, "rb") as f:
            while True:
                head = f.read(12)
                if not head:
                    return
                if len(head) < 12:
                    raise ValueError("truncated record header")
                (length,) = struct.unpack("<Q", head[:8])
                if struct.unpack("<I", head[8:])[0] != masked_crc(head[:8], crc32c):
                    raise ValueError("bad record header checksum")
                data = f.read(length)
                if len(data) != length:
                    raise ValueError("truncated record")
                yield data
                if len(f.read(4)) != 4:
                    raise ValueError("truncated record")
    except (OSError, ValueError, EOFError) as err:
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
