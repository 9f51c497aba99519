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

import hashlib
import struct
from typing import Any, Iterator

from beampipe.transforms import csv_arrow
from beampipe.transforms.csv_arrow import as_numpy, const, int64_array
from beampipe.transforms.csv_decode import BYTES, FLOAT, INT
from beampipe.transforms.example_io import crc32c_function, masked_crc


Part = Any  # bytes (the same in every row), a uint64 array (one varint per row) or rows x n bytes


def _part(part: Part, rows: int, only: Any) -> tuple[Any, Any, Any]:
    """(rows x width bytes, rows x width keep-mask or None for all, bytes kept per row)
    of one part of a row head."""
    import numpy as np

    if getattr(part, "ndim", 1) == 2:  # raw bytes, one row each
        matrix, keep, count = part, None, part.shape[1]
    elif isinstance(part, bytes):
        matrix = np.broadcast_to(np.frombuffer(part, dtype=np.uint8), (rows, len(part)))
        keep, count = None, len(part)
    else:
        values = part.astype(np.uint64, copy=False)
        top = int(values.max()) if rows else 0
        width = 1
        while width < 10 and top >= 1 << (7 * width):
            width += 1
        if width == 1:
            matrix, keep, count = values.astype(np.uint8)[:, None], None, 1
        else:
            shifts = (7 * np.arange(width)).astype(np.uint64)
            matrix = ((values[:, None] >> shifts[None, :]) & np.uint64(0x7F)).astype(np.uint8)
            count = _varint_size(values, width)
            keep = np.arange(width)[None, :] < count[:, None]
            matrix[:, :-1] |= keep[:, 1:].astype(np.uint8) << 7  # continuation bit
    if only is not None:
        full = np.ones(matrix.shape, dtype=bool) if keep is None else keep
        keep, count = full & only[:, None], np.where(only, count, 0)
    return matrix, keep, count


def heads(parts: list[tuple[Part, Any]], rows: int) -> tuple[Any, Any]:
    """(Arrow binary array, byte length per row) of rows made of ``parts``: each a constant
    or per-row varints, with an optional row mask saying in which rows it appears."""
    import numpy as np
    import pyarrow as pa

    built = [_part(part, rows, only) for part, only in parts]
    matrix = np.hstack([m for m, _, _ in built])
    lengths = np.zeros(rows, dtype=np.int64)
    for _, _, count in built:
        lengths += count
    if all(keep is None for _, keep, _ in built):
        data = matrix.ravel()
    else:
        keep = np.hstack([np.ones(m.shape, dtype=bool) if k is None else k for m, k, _ in built])
        data = matrix[keep]
    offsets = np.zeros(rows + 1, dtype=np.int32)
    np.cumsum(lengths, out=offsets[1:])
    array = pa.Array.from_buffers(pa.binary(), rows, [None, pa.py_buffer(offsets),
                                                      pa.py_buffer(np.ascontiguousarray(data))])
    return array, lengths


def int64_feature(values: Any, mask: Any = None) -> tuple[list[tuple[Part, Any]], Any]:
    """(head parts, Feature size per row) of one int64 value a row (a uint64 view), present
    where ``mask`` (None: every row): ``1a <len> 0a <n> <varint>``; absent: ``1a 00``."""
    import numpy as np

    n = _varint_size(values)
    if mask is None:
        return [(b"\x1a", None), (n + 2, None), (b"\x0a", None), (n, None), (values, None)], n + 4
    inner = np.where(mask, n + 2, 0)
    return [(b"\x1a", None), (inner, None), (b"\x0a", mask), (n, mask), (values, mask)], 2 + inner


def float_feature(floats: Any, mask: Any = None) -> tuple[list[tuple[Part, Any]], Any]:
    """(head parts, Feature size per row) of one float32 value a row, present where ``mask``
    (None: every row): ``12 06 0a 04 <float32 LE>``; absent: ``12 00``."""
    import numpy as np

    raw = np.ascontiguousarray(floats, dtype="<f4").view(np.uint8).reshape(len(floats), 4)
    if mask is None:
        return [(b"\x12\x06\x0a\x04", None), (raw, None)], np.full(len(floats), 8, dtype=np.int64)
    return ([(b"\x12", None), (np.where(mask, 6, 0), None), (b"\x0a\x04", mask), (raw, mask)],
            np.where(mask, 8, 2))


def _feature(column: Any, kind: str) -> tuple[list[tuple[Part, Any]], Any, Any]:
    """(head parts, Feature size per row, value bytes or None) of one typed string column: the
    serialized ``tf.train.Feature`` is the head followed by the value bytes."""
    import numpy as np
    import pyarrow as pa
    import pyarrow.compute as pc

    filled = pc.greater(pc.binary_length(column), const(0))
    mask = as_numpy(filled)
    if kind == INT:
        values = as_numpy(pc.cast(pc.if_else(filled, column, const("0")), pa.int64()))
        return (*int64_feature(values.view(np.uint64), mask), None)
    if kind == FLOAT:
        doubles = as_numpy(pc.cast(pc.if_else(filled, column, const("0")), pa.float64()))
        with np.errstate(over="ignore"):  # beyond float32: inf, as protobuf stores it
            return (*float_feature(doubles.astype("<f4"), mask), None)
    assert kind == BYTES, kind  # 0a <len> 0a <len> <utf-8>; empty: 0a 00
    value = pc.cast(column, pa.binary())
    length = as_numpy(pc.binary_length(value)).astype(np.int64)
    list_size = np.where(mask, 1 + _varint_size(length) + length, 0)
    return ([(b"\x0a", None), (list_size, None), (b"\x0a", mask), (length, mask)],
            1 + _varint_size(list_size) + list_size, value)


def entry_parts(name: str, column: Any, kind: str, typed: bool) -> tuple[list[Any], Any]:
    """(pieces, byte length per row) of one string column's map entries (``entry_pieces``)."""
    import numpy as np

    if typed:
        parts, feature_size, value = _feature(column, kind)
    else:  # an empty Feature
        parts, feature_size, value = [], np.zeros(len(column), dtype=np.int64), None
    return entry_pieces(name, parts, feature_size, value)


def entry_pieces(name: str, parts: list[tuple[Part, Any]], feature_size: Any,
                 value: Any = None) -> tuple[list[Any], Any]:
    """(pieces, byte length per row) of one feature's map entries,
    ``0a <len> 0a <key> 12 <len> <Feature>``: per-row heads (Arrow binary arrays), the key as
    one scalar (no per-row copy until the final join), and the values (bytes features)."""
    rows = len(feature_size)
    key = name.encode("utf-8")
    key_part = b"\x0a" + _varint(len(key)) + key + b"\x12"
    size = len(key_part) + _varint_size(feature_size) + feature_size
    first, first_len = heads([(b"\x0a", None), (size, None)], rows)
    second, _ = heads([(feature_size, None)] + parts, rows)
    pieces = [first, const(key_part), second] + ([] if value is None else [value])
    return pieces, first_len + size


def join_examples(pieces: list[Any], total: Any) -> Any:
    """Serialized tf.Examples (an Arrow binary array) from the map entries' ``pieces`` of all
    features in name order, ``total`` their byte length per row."""
    import pyarrow.compute as pc

    example_head, _ = heads([(b"\x0a", None), (total, None)], len(total))
    return pc.binary_join_element_wise(example_head, *pieces, const(b""))


def feature_bytes(column: Any, kind: str) -> Any:
    """The serialized ``tf.train.Feature`` of every cell of a typed column (a partition key)."""
    import pyarrow.compute as pc

    parts, _, value = _feature(column, kind)
    array, _ = heads(parts, len(column))
    return array if value is None else pc.binary_join_element_wise(array, value, const(b""))


def _varint_size(values: Any, width: int = 10) -> Any:
    """Bytes of each value's varint (``width``: the most any value needs, if known)."""
    import numpy as np
    values = values.astype(np.uint64, copy=False)
    size = np.ones(len(values), dtype=np.int64)
    if width == 10 and len(values):
        top = int(values.max())
        width = 1
        while width < 10 and top >= 1 << (7 * width):
            width += 1
    for k in range(1, width):
        size += values >= np.uint64(1 << (7 * k))
    return size


def _varint(value: int) -> bytes:
    out = bytearray()
    while value >= 0x80:
        out.append((value & 0x7F) | 0x80)
        value >>= 7
    out.append(value)
    return bytes(out)


def encode_table(table: Any, header: list[str], types: list[str], typed: list[bool],
                 partition: str = "") -> tuple[Any, Any]:
    """(serialized tf.Example per row, the partition feature's serialized Feature per row or
    None) of a table of strings."""
    import pyarrow.compute as pc

    columns = {name: i for i, name in enumerate(header)}
    pieces, total = [], 0
    for name in sorted(header):
        i = columns[name]
        column_pieces, lengths = entry_parts(name, table.column(i).combine_chunks(), types[i], typed[i])
        pieces += column_pieces
        total = total + lengths
    records = join_examples(pieces, total)
    keys = None
    if partition:
        i = columns[partition]
        keys = feature_bytes(table.column(i).combine_chunks(), types[i])
    return records, keys


def binary_rows(array: Any) -> list[bytes]:
    """The rows of an Arrow binary array as Python bytes."""
    import numpy as np

    _, offsets, data = array.buffers()
    bounds = np.frombuffer(offsets, dtype=np.int32, count=len(array) + 1, offset=4 * array.offset).tolist()
    raw = data.to_pybytes() if data is not None else b""
    return [raw[a:b] for a, b in zip(bounds, bounds[1:])]


def _masked(crcs: Any) -> Any:
    """TFRecord's CRC mask, over an array of CRC32C values."""
    import numpy as np
    crcs = crcs.astype(np.uint64)
    return ((((crcs >> np.uint64(15)) | (crcs << np.uint64(17))) + np.uint64(0xA282EAD8))
            & np.uint64(0xFFFFFFFF)).astype("<u4")


def bucket_of(keys: list[bytes], total: int) -> Any:
    """``example_io.HashBuckets.bucket`` for many keys: sha256 read big-endian, modulo total
    (Horner's rule over the digest's eight 32-bit words, exact for total < 2**32)."""
    import numpy as np

    sha256 = hashlib.sha256
    if total >= 1 << 32:
        return np.array([int.from_bytes(sha256(key).digest(), "big") % total for key in keys],
                        dtype=np.uint64)
    digests = np.frombuffer(b"".join([sha256(key).digest() for key in keys]), dtype=">u4")
    words = digests.reshape(len(keys), 8).astype(np.uint64)
    acc = np.zeros(len(keys), dtype=np.uint64)
    modulus = np.uint64(total)
    for k in range(8):  # acc < total < 2**32, so acc * 2**32 + word fits in 64 bits
        acc = ((acc << np.uint64(32)) | words[:, k]) % modulus
    return acc


def frame_records(records: Any, rows: list[bytes] | None = None) -> Any:
    """TFRecord frames (an Arrow binary array) of serialized records: length, its masked
    CRC32C, the record, its masked CRC32C (``rows``: the records as bytes, if at hand)."""
    import numpy as np
    import pyarrow.compute as pc

    rows = binary_rows(records) if rows is None else rows
    count = len(rows)
    crc32c = crc32c_function()
    lengths = as_numpy(pc.binary_length(records)).astype("<u8")
    head = np.empty((count, 12), dtype=np.uint8)
    head[:, :8] = lengths.view(np.uint8).reshape(count, 8)
    sizes, where = np.unique(lengths, return_inverse=True)
    size_crcs = np.array([masked_crc(struct.pack("<Q", int(size)), crc32c) for size in sizes], dtype="<u4")
    head[:, 8:] = size_crcs[where].view(np.uint8).reshape(count, 4) if count else head[:, 8:]
    tail = _masked(np.fromiter(map(crc32c, rows), dtype=np.uint64, count=count)).view(np.uint8)
    return pc.binary_join_element_wise(_fixed(head), records, _fixed(tail.reshape(count, 4)),
                                       const(b""))


def framed_splits(records: Any, keys: Any, bounds: list[int] | None,
                  outputs: int) -> Iterator[tuple[int, bytes, int]]:
    """(output index, TFRecord frames, record count) per output, rows in order.

    The split is ``example_io.HashBuckets``' rule: sha256 of the key, big-endian, modulo the
    total buckets, then the cumulative range; a frame is length, its masked CRC32C, the
    record, its masked CRC32C.
    """
    import numpy as np
    import pyarrow.compute as pc

    rows = binary_rows(records)
    frames = frame_records(records, rows)
    count = len(rows)
    if not bounds:
        yield 0, binary_view(frames), count
        return
    key_rows = rows if keys is None else binary_rows(keys)
    bucket = bucket_of(key_rows, bounds[-1])
    split = np.minimum(np.searchsorted(np.array(bounds, dtype=np.uint64), bucket, side="right"), outputs - 1)
    for index in range(outputs):
        chosen = np.flatnonzero(split == index)
        if len(chosen):
            yield index, binary_view(pc.take(frames, int64_array(chosen))), len(chosen)


def _fixed(matrix: Any) -> Any:
    """Rows of a 2-D uint8 matrix as an Arrow binary array."""
    import numpy as np
    import pyarrow as pa
    rows, width = matrix.shape
    offsets = np.arange(rows + 1, dtype=np.int32) * width
    return pa.Array.from_buffers(pa.binary(), rows, [None, pa.py_buffer(offsets),
                                                     pa.py_buffer(np.ascontiguousarray(matrix))])


def binary_view(array: Any) -> memoryview:
    """All the bytes of an Arrow binary array's rows, as a view of its data buffer (no copy:
    gzip reads it as it is)."""
    import numpy as np
    _, offsets, data = array.buffers()
    bounds = np.frombuffer(offsets, dtype=np.int32, count=len(array) + 1, offset=4 * array.offset)
    return memoryview(data)[int(bounds[0]):int(bounds[-1])] if data is not None else memoryview(b"")


def binary_data(array: Any) -> bytes:
    """All the bytes of an Arrow binary array's rows, concatenated."""
    import numpy as np
    _, offsets, data = array.buffers()
    bounds = np.frombuffer(offsets, dtype=np.int32, count=len(array) + 1, offset=4 * array.offset)
    return data.to_pybytes()[bounds[0]:bounds[-1]] if data is not None else b""


class ArrowCsvToExamples:
    """Writes one CSV file's examples straight into its split shards (``WriteFileShards``).

    Same output bytes as ``example_io.CsvFileToExamples`` (which it keeps as ``fallback``,
    used when the file holds something ``csv_arrow`` does not read exactly).
    """

    def __init__(self, fallback: Any, kept: dict[str, csv_arrow.Kept] | None = None) -> None:
        self.fallback = fallback
        self.kept = dict(kept or {})  # path -> the scan's parsed blocks, used (and freed) once
        self.layout = layout = fallback.layout
        partition = fallback.partition_feature
        if partition:  # a FLOAT or untyped key column: the Python path gives TFX's error
            column = layout.header.index(partition)
            if layout.types[column] == FLOAT or not layout.has_values[column]:
                raise csv_arrow.Unsupported(f"partition feature {partition!r} is FLOAT or empty")

    def __call__(self, path: str) -> Any:
        return self.fallback(path)

    def __getstate__(self) -> dict[str, Any]:
        """Pickled for Beam's workers without the kept blocks: they parse their file again."""
        return {**self.__dict__, "kept": {}}

    def tables(self, path: str) -> Iterator[Any]:
        """The file's data rows as tables of strings: the scan's kept blocks (each dropped
        once handed out), then the rest of the file, parsed again."""
        header = self.layout.header
        kept = self.kept.pop(path, None)
        if kept is not None:
            kept.tables.reverse()
            while kept.tables:
                yield kept.tables.pop()
            if kept.resume is None:
                return
        start = kept.resume if kept is not None else None
        for _, _, table in csv_arrow.prefetched(csv_arrow.blocks(path, header, start=start)):
            yield table

    def write_shards(self, path: str, writers: list[Any], buckets: list[int] | None) -> None:
        """Encode the file block by block into ``writers``; ``csv_arrow.Unsupported`` (before
        or after some writes) means: start the file again on the Python path."""
        layout, partition = self.layout, self.fallback.partition_feature
        from concurrent.futures import ThreadPoolExecutor

        bounds = None
        if buckets:
            bounds, total = [], 0
            for count in buckets:
                total += int(count)
                bounds.append(total)

        def write(outputs: list[tuple[int, memoryview, int]]) -> None:
            for index, frames, count in outputs:
                writers[index].write_frames(frames, count)

        # gzip (zlib releases the GIL) runs in one thread, in order, one block behind the
        # encoding: a second core overlaps them; at most two blocks are held
        with ThreadPoolExecutor(1, thread_name_prefix="tfrecord-gzip") as pool:
            pending = None
            for table in self.tables(path):
                if table.num_rows == 0:
                    continue
                records, keys = encode_table(table, layout.header, layout.types, layout.has_values,
                                             partition)
                outputs = list(framed_splits(records, keys, bounds, len(writers)))
                del records, keys, table
                if pending is not None:
                    pending.result()
                pending = pool.submit(write, outputs)
            if pending is not None:
                pending.result()
