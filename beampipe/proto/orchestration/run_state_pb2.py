"""TFX's ``run_state.proto`` (``tfx.orchestration.RunState``) as a real protobuf message.

Unlike the config dataclasses, RunState is a real message: code that reads a node's or a run's
state from TFX's orchestrator serializes and parses it (bytes, JSON, text format), so it must
be wire-compatible. No protoc step: the FileDescriptorProto is built here, field for field as
TFX 1.16's run_state.proto, and registered in protobuf's default pool (or taken from it when
TFX's own run_state_pb2 was imported first, so both spellings name one class).
"""
from __future__ import annotations

from google.protobuf import descriptor_pb2, descriptor_pool, message_factory

_FILE = "tfx/proto/orchestration/run_state.proto"
_F = descriptor_pb2.FieldDescriptorProto


def _file_proto() -> descriptor_pb2.FileDescriptorProto:
    fdp = descriptor_pb2.FileDescriptorProto(name=_FILE, package="tfx.orchestration", syntax="proto3")
    fdp.options.java_multiple_files = True
    msg = fdp.message_type.add(name="RunState")
    state = msg.enum_type.add(name="State")
    for name, number in [("UNKNOWN", 0), ("READY", 1), ("RUNNING", 2), ("COMPLETE", 3), ("SKIPPED", 4),
                         ("SKIPPED_PARTIAL_RUN", 8), ("STOPPED", 6), ("FAILED", 7)]:
        state.value.add(name=name, number=number)
    state.reserved_range.add(start=5, end=5)  # EnumReservedRange's end is inclusive
    msg.nested_type.add(name="StatusCodeValue").field.add(
        name="value", number=1, type=_F.TYPE_INT32, label=_F.LABEL_OPTIONAL, json_name="value")
    msg.field.add(name="state", number=1, type=_F.TYPE_ENUM, label=_F.LABEL_OPTIONAL,
                  type_name=".tfx.orchestration.RunState.State", json_name="state")
    msg.field.add(name="status_code", number=3, type=_F.TYPE_MESSAGE, label=_F.LABEL_OPTIONAL,
                  type_name=".tfx.orchestration.RunState.StatusCodeValue", json_name="statusCode")
    msg.field.add(name="status_msg", number=2, type=_F.TYPE_STRING, label=_F.LABEL_OPTIONAL,
                  json_name="statusMsg")
    msg.field.add(name="update_time", number=4, type=_F.TYPE_INT64, label=_F.LABEL_OPTIONAL,
                  json_name="updateTime")
    return fdp


def _register() -> object:
    pool = descriptor_pool.Default()
    try:
        return pool.FindFileByName(_FILE)
    except KeyError:
        return pool.AddSerializedFile(_file_proto().SerializeToString())


DESCRIPTOR = _register()
RunState = message_factory.GetMessageClass(DESCRIPTOR.message_types_by_name["RunState"])
