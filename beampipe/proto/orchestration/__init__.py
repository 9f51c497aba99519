"""``tfx.proto.orchestration``: RunState (a real protobuf message, see ``run_state_pb2``)."""
from __future__ import annotations

from beampipe._lazy import lazy_exports

_EXPORTS = {
    "RunState": "beampipe.proto.orchestration.run_state_pb2",
    "run_state_pb2": "beampipe.proto.orchestration.run_state_pb2",
}

__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)
