"""``tfx.utils.proto_utils``'s round trip, for ``from beampipe.utils import proto_utils``.

The functions live in ``beampipe.proto.utils``; see there for what they accept."""
from __future__ import annotations

from beampipe.proto.utils import dict_to_proto, json_to_proto, proto_to_dict, proto_to_json

__all__ = ["dict_to_proto", "json_to_proto", "proto_to_dict", "proto_to_json"]
