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

_ENCODER: Any = None


def encode_sorted(batch: Any) -> list[bytes]:
    """The batch's rows as serialized tf.Examples, features in name order."""
    return encode_by_parsing(batch)


def encode_by_parsing(batch: Any) -> list[bytes]:
    """The general path: tfx-bsl's encoder, then parse and serialize deterministically."""
    global _ENCODER
    from tensorflow.core.example import example_pb2
    if _ENCODER is None:
        from tfx_bsl.coders import example_coder
        _ENCODER = example_coder.RecordBatchToExamplesEncoder()
    parse = example_pb2.Example.FromString
    return [parse(record).SerializeToString(deterministic=True) for record in _ENCODER.encode(batch)]
