"""tf.Examples from CSV blocks, serialized with whole-column operations, no protobuf, no TF.

Building one ``example_pb2.Example`` per row in Python costs far more than reading the row;
here each column of a block becomes an Arrow binary array of its map entries (the wire
bytes protobuf's deterministic serialization writes: entries sorted by feature name; an
entry is ``key`` then ``Feature``; int64 and float lists packed; an empty cell an empty list
of the column's type, an untyped column an empty ``Feature``), and the entries are joined
row-wise. Ints are varints (two's complement for negatives), floats are parsed as float64
then rounded to float32, as the Python path (``float(text)`` stored in a float field) does.
The hash split and TFRecord framing then run per record on bytes only.
``tests/transforms/test_example_encode.py`` checks the bytes against ``example_io``.
"""
from __future__ import annotations

import bisect
import hashlib
import struct
from typing import Any, Iterator

from beampipe.transforms import csv_arrow
from beampipe.transforms.csv_decode import BYTES, FLOAT, INT
from beampipe.transforms.example_io import crc32c_function, masked_crc


def _binary(matrix: Any, lengths: Any) -> Any:
    """Row i = the first lengths[i] bytes of matrix[i], as an Arrow binary array."""
    import numpy as np
    import pyarrow as pa

    lengths = lengths.astype(np.int64)
    keep = np.arange(matrix.shape[1])[None, :] < lengths[:, None]
    data = np.ascontiguousarray(matrix[keep], dtype=np.uint8)
    offsets = np.zeros(len(lengths) + 1, dtype=np.int32)
    np.cumsum(lengths, out=offsets[1:])
    return pa.Array.from_buffers(pa.binary(), len(lengths), [None, pa.py_buffer(offsets), pa.py_buffer(data)])


def _varint_bytes(values: Any, width: int) -> tuple[Any, Any]:
    """(rows x width matrix of varint bytes, byte count per row) of uint64 values."""
    import numpy as np

    values = values.astype(np.uint64)
    count = np.ones(len(values), dtype=np.int64)
    for k in range(1, width):
        count += values >= np.uint64(1 << (7 * k))
    shifts = (7 * np.arange(width)).astype(np.uint64)
    groups = ((values[:, None] >> shifts[None, :]) & np.uint64(0x7F)).astype(np.uint8)
    groups |= (np.arange(width)[None, :] < (count - 1)[:, None]).astype(np.uint8) << 7
    return groups, count


def tag_length(tag: int, lengths: Any) -> Any:
    """Per row: one tag byte then the varint of lengths[i] (a length-delimited field's head)."""
    import numpy as np

    groups, count = _varint_bytes(lengths, 5)
    matrix = np.empty((len(lengths), 6), dtype=np.uint8)
    matrix[:, 0] = tag
    matrix[:, 1:] = groups
    return _binary(matrix, count + 1)


def _lengths(array: Any) -> Any:
    import pyarrow.compute as pc
    return pc.binary_length(array).to_numpy(zero_copy_only=False).astype("int64")


def feature_bytes(column: Any, kind: str, typed: bool) -> Any:
    """The serialized ``tf.train.Feature`` of every cell of one string column."""
    import numpy as np
    import pyarrow as pa
    import pyarrow.compute as pc

    rows = len(column)
    filled = pc.greater(pc.binary_length(column), 0)
    if not typed:
        return pa.array([b""] * rows, pa.binary())
    mask = filled.to_numpy(zero_copy_only=False)
    if kind == INT:  # 1a <len> 0a <n> <varint>; empty: 1a 00
        values = pc.cast(pc.if_else(filled, column, "0"), pa.int64()).to_numpy(zero_copy_only=False)
        groups, count = _varint_bytes(values.view(np.uint64), 10)
        matrix = np.empty((rows, 14), dtype=np.uint8)
        matrix[:, 0], matrix[:, 1], matrix[:, 2], matrix[:, 3] = 0x1A, count + 2, 0x0A, count
        matrix[:, 4:] = groups
        matrix[~mask, 1] = 0
        return _binary(matrix, np.where(mask, count + 4, 2))
    if kind == FLOAT:  # 12 06 0a 04 <float32 LE>; empty: 12 00
        doubles = pc.cast(pc.if_else(filled, column, "0"), pa.float64()).to_numpy(zero_copy_only=False)
        matrix = np.empty((rows, 8), dtype=np.uint8)
        matrix[:, :4] = (0x12, 0x06, 0x0A, 0x04)
        with np.errstate(over="ignore"):  # beyond float32: inf, as protobuf stores it
            matrix[:, 4:] = doubles.astype("<f4").view(np.uint8).reshape(rows, 4)
        matrix[~mask, 1] = 0
        return _binary(matrix, np.where(mask, 8, 2))
    assert kind == BYTES, kind  # 0a <len> 0a <len> <utf-8>; empty: 0a 00
    values = column.cast(pa.binary())
    length = _lengths(values)
    inner = tag_length(0x0A, length)
    outer = tag_length(0x0A, length + _lengths(inner))
    head = pc.if_else(filled, pc.binary_join_element_wise(outer, inner, b""), b"\x0a\x00")
    return pc.binary_join_element_wise(head, values, b"")


def entry_bytes(name: str, feature: Any) -> Any:
    """The map entry (field 1 of Features) of one feature per row: ``0a <len> 0a <key> 12 <Feature>``."""
    import pyarrow.compute as pc

    key = name.encode("utf-8")
    head = b"\x0a" + _varint(len(key)) + key
    feature_head = tag_length(0x12, _lengths(feature))
    size = len(head) + _lengths(feature_head) + _lengths(feature)
    return pc.binary_join_element_wise(tag_length(0x0A, size), head, feature_head, feature, b"")


def _varint(value: int) -> bytes:
    out = bytearray()
    while value >= 0x80:
        out.append((value & 0x7F) | 0x80)
        value >>= 7
    out.append(value)
    return bytes(out)


def encode_table(table: Any, header: list[str], types: list[str], typed: list[bool]) -> tuple[Any, dict[str, Any]]:
    """(serialized tf.Example per row, name -> serialized Feature per row) of a string table."""
    import pyarrow.compute as pc

    features = {name: feature_bytes(table.column(i).combine_chunks(), types[i], typed[i])
                for i, name in enumerate(header)}
    entries = [entry_bytes(name, features[name]) for name in sorted(header)]
    body = entries[0] if len(entries) == 1 else pc.binary_join_element_wise(*entries, b"")
    return pc.binary_join_element_wise(tag_length(0x0A, _lengths(body)), body, b""), features


def _bytes_and_offsets(array: Any) -> tuple[bytes, list[int]]:
    import numpy as np

    _, offsets, data = array.buffers()
    bounds = np.frombuffer(offsets, dtype=np.int32, count=len(array) + 1, offset=4 * array.offset)
    return (data.to_pybytes() if data is not None else b""), bounds.tolist()


def framed_splits(records: Any, keys: Any, bounds: list[int] | None, outputs: int) -> Iterator[tuple[int, bytes, int]]:
    """(output index, TFRecord frames, record count) per output, rows in order.

    The split is ``example_io.HashBuckets``' rule: sha256 of the key, big-endian, modulo the
    total buckets, then the cumulative range; a frame is length, its masked CRC32C, the
    record, its masked CRC32C.
    """
    data, offsets = _bytes_and_offsets(records)
    key_data, key_offsets = _bytes_and_offsets(keys) if keys is not None else (data, offsets)
    crc32c = crc32c_function()
    pack_len, pack_crc = struct.Struct("<Q").pack, struct.Struct("<I").pack
    heads: dict[int, bytes] = {}
    parts: list[list[bytes]] = [[] for _ in range(outputs)]
    total = bounds[-1] if bounds else 1
    sha256, from_bytes, find = hashlib.sha256, int.from_bytes, bisect.bisect
    last = outputs - 1
    for i in range(len(offsets) - 1):
        record = data[offsets[i]:offsets[i + 1]]
        size = len(record)
        head = heads.get(size)
        if head is None:
            length = pack_len(size)
            head = heads[size] = length + pack_crc(masked_crc(length, crc32c))
        crc = crc32c(record)
        frame = (head, record, pack_crc((((crc >> 15) | (crc << 17)) + 0xA282EAD8) & 0xFFFFFFFF))
        if bounds:
            key = record if keys is None else key_data[key_offsets[i]:key_offsets[i + 1]]
            index = find(bounds, from_bytes(sha256(key).digest(), "big") % total)
            parts[index if index < last else last].extend(frame)
        else:
            parts[0].extend(frame)
    for index, chunks in enumerate(parts):
        yield index, b"".join(chunks), len(chunks) // 3


class ArrowCsvToExamples:
    """Writes one CSV file's examples straight into its split shards (``WriteFileShards``).

    Same output bytes as ``example_io.CsvFileToExamples`` (which it keeps as ``fallback``,
    used when the file holds something ``csv_arrow`` does not read exactly).
    """

    def __init__(self, fallback: Any) -> None:
        self.fallback = fallback
        self.layout = fallback.layout
        layout = fallback.layout
        partition = fallback.partition_feature
        if partition:  # a FLOAT or untyped key column: the Python path gives TFX's error
            column = layout.header.index(partition)
            if layout.types[column] == FLOAT or not layout.has_values[column]:
                raise csv_arrow.Unsupported(f"partition feature {partition!r} is FLOAT or empty")

    def __call__(self, path: str) -> Any:
        return self.fallback(path)

    def write_shards(self, path: str, writers: list[Any], buckets: list[int] | None) -> None:
        """Encode the file block by block into ``writers``; ``csv_arrow.Unsupported`` (before
        or after some writes) means: start the file again on the Python path."""
        layout, partition = self.layout, self.fallback.partition_feature
        bounds = None
        if buckets:
            bounds, total = [], 0
            for count in buckets:
                total += int(count)
                bounds.append(total)
        for _, _, table in csv_arrow.blocks(path, layout.header):
            if table.num_rows == 0:
                continue
            records, features = encode_table(table, layout.header, layout.types, layout.has_values)
            keys = features[partition] if partition else None
            for index, frames, count in framed_splits(records, keys, bounds, len(writers)):
                writers[index].write_frames(frames, count)
