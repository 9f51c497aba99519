"""Serialized tf.Examples -> Arrow record batches with numpy, equal to tfx-bsl's untyped decoder.

tfx-bsl's ``ExamplesToRecordBatchDecoder`` parses every record into a protobuf message
(a map of features) before building Arrow columns: about two thirds of StatisticsGen's
time at a million rows. The examples beampipe's ExampleGen writes are regular: every record
holds the same feature keys, in the same (deterministic, sorted) order, each with the same
kind. For such a group of records the wire format can be walked one feature at a time for
all records at once, with numpy gathers over the concatenated bytes.

Only that exact layout is accepted: the ``features`` field alone, each map entry as key then
value, one packed field per float/int64 list, ``value`` fields in a bytes list, nothing
else (no unknown fields, no absent or kind-less features, no repeated keys, keys in UTF-8
without NUL bytes).
Anything else makes :func:`decode_regular` return None and the caller uses tfx-bsl, so the
result is always what tfx-bsl gives: ``large_list`` columns of ``large_binary``, ``float``
or ``int64``, named by the keys in sorted order, no nulls (every record has every feature).
"""
from __future__ import annotations

from typing import Any

import numpy as np

_PAD = 16  # zero bytes after the data: gathers may run past a malformed record's end
_KINDS = {0x0A: "bytes", 0x12: "float", 0x1A: "int64"}  # Feature's oneof field tags


class _Irregular(Exception):
    """The records are not in the one layout decoded here."""


def _varints(u8: np.ndarray, pos: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The varints at ``pos`` (one per record) and the positions after them."""
    first = u8[pos].astype(np.int64)
    if not (first & 0x80).any():
        return first, pos + 1
    value, shift, cur = first & 0x7F, 7, pos + 1
    more = (first & 0x80) != 0
    while more.any():
        if shift > 35:  # lengths: a record this size is not decoded here
            raise _Irregular
        byte = u8[cur].astype(np.int64)
        value = np.where(more, value | ((byte & 0x7F) << shift), value)
        cur = np.where(more, cur + 1, cur)
        more &= (byte & 0x80) != 0
        shift += 7
    return value, cur


def _expect(u8: np.ndarray, pos: np.ndarray, byte: int) -> None:
    if not (u8[pos] == byte).all():
        raise _Irregular


def _ranges(starts: np.ndarray, lengths: np.ndarray) -> np.ndarray:
    """Indices of the concatenated ranges [start, start + length)."""
    total = int(lengths.sum())
    ends = np.cumsum(lengths)
    return np.repeat(starts - (ends - lengths), lengths) + np.arange(total, dtype=np.int64)


def _offsets(counts: np.ndarray) -> np.ndarray:
    out = np.zeros(len(counts) + 1, dtype=np.int64)
    np.cumsum(counts, out=out[1:])
    return out


def _packed(u8: np.ndarray, start: np.ndarray, size: np.ndarray, width: int = 1) -> tuple[np.ndarray, np.ndarray]:
    """Where each record's packed ``value`` field holds its bytes: (starts, sizes); a list
    of ``size`` 0 has none. Sizes must be multiples of ``width``."""
    has = size > 0
    data_start, data_size = start, np.zeros_like(size)
    if has.any():
        _expect(u8, start[has], 0x0A)
        inner, after = _varints(u8, start[has] + 1)
        if not (after + inner == start[has] + size[has]).all() or (inner % width).any():
            raise _Irregular
        data_start = start.copy()
        data_start[has] = after
        data_size[has] = inner
    return data_start, data_size


def _floats(u8: np.ndarray, start: np.ndarray, size: np.ndarray) -> tuple[np.ndarray, Any]:
    """A packed FloatList's values: (per-record offsets, float32 values)."""
    data_start, data_size = _packed(u8, start, size, 4)
    values = u8[_ranges(data_start, data_size)].view("<f4")
    return _offsets(data_size // 4), values


def _int64s(u8: np.ndarray, start: np.ndarray, size: np.ndarray) -> tuple[np.ndarray, Any]:
    """A packed Int64List's values: (per-record offsets, int64 values)."""
    data_start, data_size = _packed(u8, start, size)
    data = u8[_ranges(data_start, data_size)]
    ends = data < 0x80  # a varint's last byte
    if len(data) and not ends[_offsets(data_size)[1:][data_size > 0] - 1].all():
        raise _Irregular  # a varint runs past its list
    ended = _offsets(ends)  # varints ended before each byte
    bounds = _offsets(data_size)
    counts = ended[bounds[1:]] - ended[bounds[:-1]]
    if ends.all():
        values = data.astype(np.int64)
    else:
        value_start = np.flatnonzero(np.concatenate(([True], ends[:-1])))
        length = np.diff(np.append(value_start, len(data)))
        if (length > 10).any():
            raise _Irregular
        shift = (np.arange(len(data)) - np.repeat(value_start, length)).astype(np.uint64) * np.uint64(7)
        parts = (data & 0x7F).astype(np.uint64) << shift
        values = np.bitwise_or.reduceat(parts, value_start).view(np.int64)
    return _offsets(counts), values


def _bytes(u8: np.ndarray, start: np.ndarray, size: np.ndarray) -> tuple[np.ndarray, Any]:
    """A BytesList's values: (per-record offsets, the values' (starts, lengths))."""
    n = len(start)
    cur, end = start.copy(), start + size
    rows, starts, lengths, rounds = [], [], [], []
    active = np.flatnonzero(cur < end)
    round_no = 0
    while len(active):
        at = cur[active]
        _expect(u8, at, 0x0A)
        length, after = _varints(u8, at + 1)
        stop = after + length
        if (stop > end[active]).any():
            raise _Irregular
        rows.append(active)
        starts.append(after)
        lengths.append(length)
        rounds.append(np.full(len(active), round_no))
        cur[active] = stop
        active = active[stop < end[active]]
        round_no += 1
    if not rows:
        return np.zeros(n + 1, dtype=np.int64), (np.zeros(0, np.int64), np.zeros(0, np.int64))
    row, first = np.concatenate(rows), np.concatenate(rounds)
    order = np.lexsort((first, row))  # by record, then in the record's order
    counts = np.bincount(row, minlength=n)
    return _offsets(counts), (np.concatenate(starts)[order], np.concatenate(lengths)[order])


def _column(u8: np.ndarray, kind: str, start: np.ndarray, size: np.ndarray) -> Any:
    import pyarrow as pa
    if kind == "float":
        offsets, values = _floats(u8, start, size)
        child = pa.Array.from_buffers(pa.float32(), len(values), [None, pa.py_buffer(values)])
    elif kind == "int64":
        offsets, values = _int64s(u8, start, size)
        child = pa.Array.from_buffers(pa.int64(), len(values), [None, pa.py_buffer(values)])
    else:
        offsets, (value_start, value_len) = _bytes(u8, start, size)
        data = u8[_ranges(value_start, value_len)]
        child = pa.LargeBinaryArray.from_buffers(pa.large_binary(), len(value_len),
                                                 [None, pa.py_buffer(_offsets(value_len)), pa.py_buffer(data)])
    return offsets, child


def decode_regular(records: list[bytes]) -> list[tuple[str, str, np.ndarray, Any]] | None:
    """Per feature (sorted by key): (name, kind, row offsets, values as an Arrow array), or None
    when the records are not all in the regular layout (then tfx-bsl must decode them)."""
    if not records:
        return None
    blob = b"".join(records) + bytes(_PAD)
    u8 = np.frombuffer(blob, dtype=np.uint8)
    sizes = np.fromiter(map(len, records), dtype=np.int64, count=len(records))
    end = np.cumsum(sizes)
    try:
        return _decode(u8, end - sizes, end, records[0])
    except (_Irregular, IndexError):  # IndexError: a length points far past the data
        return None


def _template(record: bytes) -> list[bytes]:
    """The keys of the first record, in its order (its own layout is checked with the rest)."""
    keys, pos = [], 0
    data = np.frombuffer(record + bytes(_PAD), dtype=np.uint8)
    if not len(record) or record[0] != 0x0A:
        raise _Irregular
    _, pos_arr = _varints(data, np.array([1]))
    pos = int(pos_arr[0])
    while pos < len(record):
        if record[pos] != 0x0A:
            raise _Irregular
        entry, after = _varints(data, np.array([pos + 1]))
        body = int(after[0])
        if record[body] != 0x0A:
            raise _Irregular
        klen, kstart = _varints(data, np.array([body + 1]))
        keys.append(record[int(kstart[0]):int(kstart[0]) + int(klen[0])])
        pos = body + int(entry[0])
    return keys


def _entry_short(u8: np.ndarray, pos: np.ndarray, key: bytes) -> tuple[str, np.ndarray, np.ndarray, np.ndarray] | None:
    """:func:`_entry` when every length in the entry's head is one byte (entries under 128
    bytes): the head's bytes gathered at once and checked against the first record's; None
    when that does not hold (then :func:`_entry` decides)."""
    m = len(key)
    if m > 127:
        return None
    words = (8 + m + 7) // 8  # the head compared 8 bytes at a time: far fewer gathers
    want = np.zeros(words * 8, dtype=np.uint8)
    want[:8 + m] = u8[pos[0]:pos[0] + 8 + m]
    want[[0, 2, 3, 4 + m]] = (0x0A, 0x0A, m, 0x12)
    want[4:4 + m] = np.frombuffer(key, dtype=np.uint8)
    fixed = np.zeros(words * 8, dtype=np.uint8)
    fixed[:8 + m] = 0xFF
    fixed[[1, 5 + m, 7 + m]] = 0  # the entry's, the feature's and the list's lengths
    # every byte offset of u8 as the start of a little-endian 8-byte word (unaligned view)
    at = np.ndarray((len(u8) - 7,), dtype="<u8", buffer=u8, strides=(1,))
    head = at[pos[:, None] + np.arange(0, words * 8, 8)] if words > 1 else at[pos][:, None]
    if ((head ^ want.view("<u8")) & fixed.view("<u8")).any():
        return None
    entry, feature, size = (u8[pos + c].astype(np.int64) for c in (1, 5 + m, 7 + m))
    kind = _KINDS.get(int(want[6 + m]))
    if (kind is None or ((entry | feature | size) & 0x80).any()
            or not ((entry == 4 + m + feature) & (feature == 2 + size)).all()):
        return None
    return kind, pos + 8 + m, size, pos + 2 + entry


def _entry(u8: np.ndarray, pos: np.ndarray, end: np.ndarray, key: bytes) -> tuple[str, np.ndarray, np.ndarray, np.ndarray]:
    """One map entry per record at ``pos``, key ``key``: (kind, list start, list size, entry end)."""
    if not (pos < end).all():
        raise _Irregular
    _expect(u8, pos, 0x0A)
    entry, body = _varints(u8, pos + 1)
    entry_end = body + entry
    _expect(u8, body, 0x0A)
    klen, kstart = _varints(u8, body + 1)
    if not (klen == len(key)).all():
        raise _Irregular
    key_bytes = np.frombuffer(key, dtype=np.uint8)
    if len(key) and not (u8[kstart[:, None] + np.arange(len(key))] == key_bytes).all():
        raise _Irregular
    vpos = kstart + len(key)
    _expect(u8, vpos, 0x12)
    flen, fstart = _varints(u8, vpos + 1)
    if not (fstart + flen == entry_end).all() or not (flen > 0).all():
        raise _Irregular  # the value is not last, or kind-less
    tag = u8[fstart]
    kind = _KINDS.get(int(tag[0]))
    if kind is None or not (tag == tag[0]).all():
        raise _Irregular
    lsize, lstart = _varints(u8, fstart + 1)
    if not (lstart + lsize == entry_end).all():
        raise _Irregular
    return kind, lstart, lsize, entry_end


def _decode(u8: np.ndarray, start: np.ndarray, end: np.ndarray, first: bytes) -> list[tuple[str, str, np.ndarray, Any]]:
    keys = _template(first)
    if len(set(keys)) != len(keys) or any(b"\x00" in k for k in keys):
        raise _Irregular  # tfx-bsl names a column up to a NUL byte
    try:
        names = [k.decode("utf-8") for k in keys]
    except UnicodeDecodeError:
        raise _Irregular from None
    _expect(u8, start, 0x0A)
    total, pos = _varints(u8, start + 1)
    if not (pos + total == end).all():
        raise _Irregular  # unknown fields after Features, or a second Features
    columns = []
    for key, name in zip(keys, names):
        head = _entry_short(u8, pos, key) or _entry(u8, pos, end, key)
        kind, lstart, lsize, entry_end = head
        offsets, child = _column(u8, kind, lstart, lsize)
        columns.append((name, kind, offsets, child))
        pos = entry_end
    if not (pos == end).all():
        raise _Irregular  # more features than the first record
    return sorted(columns, key=lambda c: c[0].encode("utf-8"))


def record_batches(records: list[bytes], batch_size: int) -> list[Any] | None:
    """``records`` decoded as tfx-bsl's untyped decoder decodes each ``batch_size`` of them
    (the last shorter), or None when they are not regular."""
    import pyarrow as pa
    columns = decode_regular(records)
    if columns is None:
        return None
    out = []
    for lo in range(0, len(records), batch_size):
        hi = min(lo + batch_size, len(records))
        arrays = []
        for _, _, offsets, child in columns:
            first, last = int(offsets[lo]), int(offsets[hi])
            # from_buffers, not pa.array: no per-call pandas checks (nor pandas' import in a child)
            arrays.append(pa.Array.from_buffers(pa.large_list(child.type), hi - lo,
                                                [None, pa.py_buffer(offsets[lo:hi + 1] - first)],
                                                children=[child.slice(first, last - first)]))
        out.append(pa.RecordBatch.from_arrays(arrays, [c[0] for c in columns]))
    return out
