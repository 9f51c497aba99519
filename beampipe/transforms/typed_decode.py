"""Serialized tf.Examples -> Arrow record batches typed by a schema, with numpy when regular.

Transform decodes its input as a TFXIO source given the schema decodes it: tfx-bsl's
``ExamplesToRecordBatchDecoder(schema)``, 7 to 9 µs a taxi row, the largest single cost of
Transform at a million rows. For the regular records ExampleGen writes, ``example_decode``
decodes untyped in a quarter of that; the typed batch is then a choice of its columns: the
schema's features in the schema's order, each already of the type the schema gives it
(``large_list`` of ``int64``, ``float`` or ``large_binary``), features the schema lacks left
out. Whatever else could differ (a schema feature absent from the records, a kind other than
the schema's, sparse or weighted features, other feature types) returns None, and the caller
decodes with tfx-bsl, so the batches are always the ones tfx-bsl gives.
"""
from __future__ import annotations

from typing import Any

_PLANS: dict[bytes, list[tuple[str, str]] | None] = {}


def _plan(schema: Any) -> list[tuple[str, str]] | None:
    """(name, kind) of the schema's features in its order, or None when it is not a plain
    list of INT/FLOAT/BYTES features (then only tfx-bsl knows the decoded layout)."""
    from tensorflow_metadata.proto.v0 import schema_pb2
    key = schema.SerializeToString(deterministic=True)
    if key in _PLANS:
        return _PLANS[key]
    kinds = {schema_pb2.INT: "int64", schema_pb2.FLOAT: "float", schema_pb2.BYTES: "bytes"}
    plan: list[tuple[str, str]] | None = []
    if schema.sparse_feature or schema.weighted_feature:
        plan = None
    for feature in schema.feature:
        if plan is None:
            break
        if (feature.type not in kinds or feature.lifecycle_stage or feature.deprecated
                or feature.HasField("struct_domain")):
            plan = None
        else:
            plan.append((feature.name, kinds[feature.type]))
    if plan is not None and len({name for name, _ in plan}) != len(plan):
        plan = None
    _PLANS[key] = plan
    return plan


def _arrow_type(kind: str) -> Any:
    import pyarrow as pa
    item = {"int64": pa.int64(), "float": pa.float32(), "bytes": pa.large_binary()}[kind]
    return pa.large_list(item)


def record_batches(records: list[bytes], schema: Any, batch_size: int) -> list[Any] | None:
    """``records`` decoded as tfx-bsl's decoder given ``schema`` decodes each ``batch_size``
    of them (the last shorter), or None when that needs tfx-bsl."""
    import pyarrow as pa

    from beampipe.transforms import example_decode
    plan = _plan(schema)
    if not plan or not records:
        return None
    batches = example_decode.record_batches(records, batch_size)
    if batches is None:
        return None
    names = batches[0].schema.names
    where = {name: index for index, name in enumerate(names)}
    indices = []
    for name, kind in plan:
        index = where.get(name)
        if index is None or batches[0].schema.field(index).type != _arrow_type(kind):
            return None
        indices.append(index)
    fields = pa.schema([pa.field(name, _arrow_type(kind)) for name, kind in plan])
    # Each column copied out of the group's shared buffers: a batch's ``nbytes`` is then
    # tfx-bsl's (TFT records the analysed bytes in its analyzer cache's metadata).
    return [pa.RecordBatch.from_arrays([pa.concat_arrays([batch.column(i)]) for i in indices], schema=fields)
            for batch in batches]


def decode(records: list[bytes], schema: Any, batch_size: int, fallback: Any = None) -> list[Any]:
    """:func:`record_batches`, or tfx-bsl's typed decoder (``fallback``: its ``DecodeBatch``)
    on each ``batch_size`` records when the numpy path does not apply."""
    batches = record_batches(records, schema, batch_size)
    if batches is not None:
        return batches
    if fallback is None:
        from beampipe.transforms.tfdv_stream import decoder
        fallback = decoder(schema).DecodeBatch
    return [fallback(records[i:i + batch_size]) for i in range(0, len(records), batch_size)]
