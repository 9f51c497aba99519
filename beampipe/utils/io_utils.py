"""``tfx.utils.io_utils.parse_pbtxt_file`` / ``parse_json_file``, for ``from beampipe.utils import io_utils``."""
from __future__ import annotations

from typing import TypeVar

from beampipe.proto.utils import json_to_proto, parse_pbtxt_file

T = TypeVar("T")


def parse_json_file(file_name: str, message: T | type[T]) -> T:
    """Parse a JSON file (local, ``s3://`` or ``gs://``) into ``message`` and return it."""
    from beampipe.io import fileio
    with fileio.open(file_name, "r") as f:
        return json_to_proto(f.read(), message)


__all__ = ["parse_json_file", "parse_pbtxt_file"]
