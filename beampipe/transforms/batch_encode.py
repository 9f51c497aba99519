"""Arrow record batches (Transform's output) to serialized tf.Examples whose bytes depend on
the values only.

tfx-bsl's C++ encoder writes each example's feature map in hash order, which differs from
example to example and from run to run. Sorting the map (protobuf's deterministic
serialization) makes the bytes reproducible, but parsing and re-serializing every example in
Python costs more than encoding it. For the common shape of transformed data (every column
one float32 or int64 value per row, no nulls) the bytes are laid out with whole-column
operations, with the wire-format pieces ``example_encode`` (the CSV fast path) uses; any other
batch takes the parse path.
"""
from __future__ import annotations

from typing import Any

from beampipe.transforms import example_encode

_ENCODER: Any = None


def encode_sorted(batch: Any) -> Any:
    """The batch's rows as serialized tf.Examples (an Arrow binary array), features in name order."""
    fast = encode_single_values(batch)
    if fast is not None:
        return fast
    import pyarrow as pa
    return pa.array(encode_by_parsing(batch), pa.binary())


def encode_single_values(batch: Any) -> Any:
    """The rows' tf.Examples (an Arrow binary array), or None when a column is not one
    float32/int64 value per row."""
    import numpy as np
    import pyarrow as pa
    import pyarrow.compute as pc

    rows = batch.num_rows
    if not batch.num_columns:
        return None
    pieces: list[Any] = []
    total: Any = np.zeros(rows, dtype=np.int64)
    for name in sorted(batch.schema.names, key=lambda name: name.encode()):
        column = batch.column(batch.schema.get_field_index(name))
        if not (pa.types.is_list(column.type) or pa.types.is_large_list(column.type)) or column.null_count:
            return None
        values = column.flatten()
        if len(values) != rows or values.null_count or \
                (rows and not pc.all(pc.equal(pc.list_value_length(column), 1)).as_py()):
            return None
        if pa.types.is_float32(values.type):
            parts, size = example_encode.float_feature(values.to_numpy(zero_copy_only=False))
        elif pa.types.is_int64(values.type):
            parts, size = example_encode.int64_feature(
                values.to_numpy(zero_copy_only=False).view(np.uint64))
        else:
            return None
        column_pieces, lengths = example_encode.entry_pieces(name, parts, size)
        pieces += column_pieces
        total = total + lengths
    return example_encode.join_examples(pieces, total)


def encode_by_parsing(batch: Any) -> list[bytes]:
    """The general path: tfx-bsl's encoder, then parse and serialize deterministically."""
    global _ENCODER
    from tensorflow.core.example import example_pb2
    if _ENCODER is None:
        from tfx_bsl.coders import example_coder
        _ENCODER = example_coder.RecordBatchToExamplesEncoder()
    parse = example_pb2.Example.FromString
    return [parse(record).SerializeToString(deterministic=True) for record in _ENCODER.encode(batch)]
