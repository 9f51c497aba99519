"""TFX's ``tfx.utils`` (``parse_pbtxt_file``, ``JsonableType``), and the modules TFX users import
from ``tfx.utils``: ``from beampipe.utils import proto_utils, io_utils``. Names resolve lazily."""
from __future__ import annotations

from beampipe._lazy import lazy_exports

_EXPORTS = {
    "parse_pbtxt_file": "beampipe.proto.utils",
    "JsonableType": "beampipe.proto.utils",
    "proto_utils": "beampipe.utils.proto_utils",
    "io_utils": "beampipe.utils.io_utils",
}

__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)
