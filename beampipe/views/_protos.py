"""Read TFMA's and TF's protos without importing TensorFlow, TFMA or Beam.

Why: ``tensorflow_model_analysis.proto.metrics_for_slice_pb2`` is a plain generated module,
but importing it runs ``tensorflow_model_analysis/__init__.py``, which loads TensorFlow, Beam
and Keras (6 s, a GB of memory) -- a web page must not. So the serialized
``FileDescriptorProto`` each generated module carries is read from its source text (never
executed: ``ast.literal_eval`` of the one bytes literal), put in a private descriptor pool with
its dependencies, and message classes are built from it. The pool is private, so these classes
never clash with the real modules when a process (an executor writing a report) has loaded them.

SavedModel protos come from TensorBoard's TF-free copies (``tensorboard.compat.proto``); the
``SavedModel`` wrapper itself (field 2: repeated MetaGraphDef) is split by ``meta_graphs``.
TFRecord files (TFMA's outputs) are framed by ``tfrecords``: length, crc, data, crc.
"""
from __future__ import annotations

import ast
import importlib
import functools
import importlib.util
import os
import struct
from typing import Any, Iterator

from google.protobuf import descriptor_pb2, descriptor_pool, message_factory
from beampipe.metadata import layout


class ProtoUnavailable(RuntimeError):
    """The package that defines a proto is not installed (the view says so instead of failing)."""


def _serialized_descriptor(proto_path: str) -> bytes:
    """The FileDescriptorProto bytes of ``pkg/x/y.proto`` from ``pkg/x/y_pb2.py``'s source."""
    top, _, rest = proto_path.partition("/")
    spec = importlib.util.find_spec(top)  # locates the package; does not run its __init__
    if spec is None or not spec.submodule_search_locations:
        raise ProtoUnavailable(f"package {top!r} (for {proto_path}) is not installed")
    source = os.path.join(list(spec.submodule_search_locations)[0], rest[: -len(".proto")] + "_pb2.py")
    try:
        with open(source, encoding="utf-8") as f:
            tree = ast.parse(f.read(), source)
    except OSError as err:
        raise ProtoUnavailable(f"{proto_path}: {err}") from None
    for node in ast.walk(tree):
        if (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)
                and node.func.attr == "AddSerializedFile" and node.args):
            return ast.literal_eval(node.args[0])
    raise ProtoUnavailable(f"{source}: no serialized descriptor found")


@functools.lru_cache(maxsize=None)
def _pool() -> descriptor_pool.DescriptorPool:
    return descriptor_pool.DescriptorPool()


def _add_file(pool: descriptor_pool.DescriptorPool, proto_path: str) -> None:
    try:
        pool.FindFileByName(proto_path)
        return
    except KeyError:
        pass
    fdp = descriptor_pb2.FileDescriptorProto()
    if proto_path.startswith("google/protobuf/"):  # well-known types: from protobuf itself
        module = importlib.import_module(proto_path[: -len(".proto")].replace("/", ".") + "_pb2")
        module.DESCRIPTOR.CopyToProto(fdp)
    else:
        fdp.ParseFromString(_serialized_descriptor(proto_path))
    for dep in fdp.dependency:
        _add_file(pool, dep)
    pool.Add(fdp)


@functools.lru_cache(maxsize=None)
def message_class(proto_path: str, full_name: str) -> Any:
    """The message class ``full_name`` defined in ``proto_path`` (e.g.
    ``tensorflow_model_analysis/proto/metrics_for_slice.proto``), from the private pool."""
    pool = _pool()
    _add_file(pool, proto_path)
    return message_factory.GetMessageClass(pool.FindMessageTypeByName(full_name))


_TFMA = "tensorflow_model_analysis/proto/"


def tfma_message(name: str) -> Any:
    """``MetricsForSlice``, ``PlotsForSlice``, ``ValidationResult`` ... as TFMA defines them."""
    files = {"MetricsForSlice": "metrics_for_slice", "PlotsForSlice": "metrics_for_slice",
             "AttributionsForSlice": "metrics_for_slice", "ValidationResult": "validation_result"}
    return message_class(f"{_TFMA}{files.get(name, 'config')}.proto", f"tensorflow_model_analysis.{name}")


def tfrecords(data: bytes) -> Iterator[bytes]:
    """The records of an uncompressed TFRecord file (CRCs not checked: a view, not a reader
    of record; a truncated tail stops the iteration)."""
    pos, end = 0, len(data)
    while pos + 12 <= end:
        (length,) = struct.unpack_from("<Q", data, pos)
        start = pos + 12
        if start + length + 4 > end:
            return
        yield data[start:start + length]
        pos = start + length + 4


def _varint(data: bytes, pos: int) -> tuple[int, int]:
    value = shift = 0
    while True:
        byte = data[pos]
        pos += 1
        value |= (byte & 0x7F) << shift
        if not byte & 0x80:
            return value, pos
        shift += 7


def meta_graphs(saved_model: bytes) -> list[Any]:
    """The MetaGraphDefs of a ``saved_model.pb`` (TensorBoard's TF-free MetaGraphDef class).

    ``SavedModel`` is ``{int64 saved_model_schema_version = 1; repeated MetaGraphDef
    meta_graphs = 2;}``; TensorBoard ships MetaGraphDef but not that wrapper, so the
    wrapper's two fields are read here from the wire format.
    """
    try:
        from tensorboard.compat.proto import meta_graph_pb2
    except ImportError as err:
        raise ProtoUnavailable(f"reading a SavedModel needs the tensorboard package: {err}") from None
    graphs, pos = [], 0
    while pos < len(saved_model):
        key, pos = _varint(saved_model, pos)
        field, wire = key >> 3, key & 7
        if wire == 0:
            _, pos = _varint(saved_model, pos)
        elif wire == 2:
            length, pos = _varint(saved_model, pos)
            if field == 2:
                graphs.append(meta_graph_pb2.MetaGraphDef.FromString(saved_model[pos:pos + length]))
            pos += length
        elif wire == 1:
            pos += 8
        elif wire == 5:
            pos += 4
        else:
            raise ValueError(f"{layout.SAVED_MODEL_FILE}: unexpected wire type {wire}")
    return graphs
