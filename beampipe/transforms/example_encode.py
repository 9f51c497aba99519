"""Arrow record batches to serialized tf.Examples whose bytes depend on the values only.

tfx-bsl's C++ encoder writes each example's feature map in hash order, which differs from
example to example and from run to run. Sorting the map (protobuf's deterministic
serialization) makes the bytes reproducible, but parsing and re-serializing every example in
Python costs more than encoding it. For the common shape of transformed data (every column
one float32 or int64 value per row, no nulls) the bytes are laid out here with numpy, exactly
as the deterministic serialization lays them out; any other batch takes the parse path.
"""
from __future__ import annotations

from typing import Any

import numpy as np

_ENCODER: Any = None
_MAX_ENTRY = 127  # every map entry's length fits one varint byte on the fast path


def encode_sorted(batch: Any) -> list[bytes]:
    """The batch's rows as serialized tf.Examples, features in name order."""
    fast = encode_single_values(batch)
    return fast if fast is not None else encode_by_parsing(batch)


def encode_single_values(batch: Any) -> list[bytes] | None:
    """The rows' bytes built with numpy, or None when a column is not one float32/int64 per row.

    Each row is ``Example{features{feature{key, value}...}}``: 0x0a varint(len) then, per
    feature in key order, the map entry 0x0a len (0x0a len key, 0x12 len Feature), where a
    Feature is 0x12 len FloatList(0x0a 4 value) or 0x1a len Int64List(0x0a len varint).
    Laid out in a rows x bytes matrix with a mask of the bytes used, the masked matrix read
    row by row is all the records one after another.
    """
    import pyarrow as pa
    import pyarrow.compute as pc

    rows = batch.num_rows
    names = sorted(batch.schema.names, key=lambda name: name.encode())
    blocks: list[tuple[np.ndarray, np.ndarray]] = []  # (bytes, mask), each rows x width
    for name in names:
        column = batch.column(batch.schema.get_field_index(name))
        key = name.encode()
        if (not (pa.types.is_list(column.type) or pa.types.is_large_list(column.type))
                or column.null_count or len(key) > _MAX_ENTRY - 30):
            return None
        values = column.flatten()
        if len(values) != rows or values.null_count or \
                (rows and not pc.all(pc.equal(pc.list_value_length(column), 1)).as_py()):
            return None
        if pa.types.is_float32(values.type):
            payload = values.to_numpy(zero_copy_only=False).astype("<f4").view(np.uint8).reshape(rows, 4)
            tail = np.array([0x12, 6, 0x0a, 4], np.uint8)
            used = np.ones((rows, 4), bool)
            width = np.full(rows, 4, np.int64)
        elif pa.types.is_int64(values.type):
            payload, used, width = _varints(values.to_numpy(zero_copy_only=False))
            tail = None
        else:
            return None
        head = np.frombuffer(b"\x0a" + bytes([len(key)]) + key + b"\x12", np.uint8)
        if tail is not None:  # float: entry = head + len(8) + tail + 4 value bytes
            entry_len = np.full(rows, len(head) + 1 + 8, np.int64)
            fixed = np.concatenate([head, [8], tail])
            fixed_block = np.broadcast_to(fixed, (rows, len(fixed)))
        else:  # int64: entry = head + len(4+w) + 0x1a (2+w) 0x0a w + w varint bytes
            entry_len = len(head) + 1 + 4 + width
            fixed_block = np.empty((rows, len(head) + 5), np.uint8)
            fixed_block[:, :len(head)] = head
            fixed_block[:, len(head)] = 4 + width
            fixed_block[:, len(head) + 1] = 0x1a
            fixed_block[:, len(head) + 2] = 2 + width
            fixed_block[:, len(head) + 3] = 0x0a
            fixed_block[:, len(head) + 4] = width
        if rows and int(entry_len.max()) > _MAX_ENTRY:
            return None
        prefix = np.empty((rows, 2), np.uint8)
        prefix[:, 0], prefix[:, 1] = 0x0a, entry_len
        blocks.append((prefix, np.ones((rows, 2), bool)))
        blocks.append((fixed_block, np.ones(fixed_block.shape, bool)))
        blocks.append((payload, used))
    features_len = sum(mask.sum(axis=1) for _, mask in blocks) if blocks else np.zeros(rows, np.int64)
    header, header_used, _ = _varints(np.asarray(features_len, np.int64))
    blocks.insert(0, (header, header_used))
    blocks.insert(0, (np.full((rows, 1), 0x0a, np.uint8), np.ones((rows, 1), bool)))
    data = np.concatenate([np.asarray(b, np.uint8) for b, _ in blocks], axis=1)
    mask = np.concatenate([m for _, m in blocks], axis=1)
    flat = data[mask].tobytes()
    ends = np.cumsum(mask.sum(axis=1)).tolist()
    starts = [0] + ends[:-1]
    return [flat[a:b] for a, b in zip(starts, ends)]


def _varints(values: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Protobuf varints of int64s (negatives as 10-byte two's complement): bytes, mask, widths."""
    unsigned = values.astype(np.int64).view(np.uint64)
    shifts = np.arange(10, dtype=np.uint64) * np.uint64(7)
    groups = (unsigned[:, None] >> shifts[None, :]) & np.uint64(0x7F)
    bits = np.zeros(len(values), np.int64)
    rest = unsigned.copy()
    while rest.any():  # the number of 7-bit groups, at least one
        nonzero = rest != 0
        bits += nonzero
        rest >>= np.uint64(7)
    width = np.maximum(bits, 1)
    used = np.arange(10)[None, :] < width[:, None]
    more = np.arange(10)[None, :] < (width - 1)[:, None]
    out = (groups | (more * np.uint64(0x80))).astype(np.uint8)
    return out, used, width


def encode_by_parsing(batch: Any) -> list[bytes]:
    """The general path: tfx-bsl's encoder, then parse and serialize deterministically."""
    global _ENCODER
    from tensorflow.core.example import example_pb2
    if _ENCODER is None:
        from tfx_bsl.coders import example_coder
        _ENCODER = example_coder.RecordBatchToExamplesEncoder()
    parse = example_pb2.Example.FromString
    return [parse(record).SerializeToString(deterministic=True) for record in _ENCODER.encode(batch)]
