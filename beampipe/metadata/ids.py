"""Ids that become parts of paths: node ids, output keys, run ids, pipeline names.

Each one is a single path segment under the pipeline root, so a hostile or mistaken
id (``../x``, ``/abs``, ``a/b``) must never reach ``os.path.join``. One character set
for all of them, checked where they enter (pipeline build, IR load, CLI flags).
"""
from __future__ import annotations

import re

PATH_ID_RULE = "1 to 128 characters from A-Z a-z 0-9 . _ -, starting with a letter, digit or '_'"
_PATH_ID = re.compile(r"[A-Za-z0-9_][A-Za-z0-9._-]{0,127}")


# Folders the pipeline root keeps for itself, beside the node folders: shipped code
# (``io.code``). (``.beampipe`` cannot clash: node ids never start with '.'.)
RESERVED_NODE_IDS = frozenset({"_code"})


class InvalidIdError(ValueError):
    """An id that cannot safely become a path segment."""


def is_path_id(value: object) -> bool:
    return isinstance(value, str) and bool(_PATH_ID.fullmatch(value)) and ".." not in value


def check_path_id(what: str, value: object) -> str:
    """Return value if it is a safe single path segment, else raise naming what it is."""
    if not is_path_id(value):
        raise InvalidIdError(f"{what} {value!r} is not allowed: use {PATH_ID_RULE} "
                             "(no '/', no '..'), because it becomes a directory name")
    return value  # type: ignore[return-value]


def is_node_id(value: object) -> bool:
    return is_path_id(value) and value not in RESERVED_NODE_IDS


def check_node_id(value: object) -> str:
    """A node id: a safe path segment that is not one of the root's own folders."""
    check_path_id("node id", value)
    if value in RESERVED_NODE_IDS:
        raise InvalidIdError(f"node id {value!r} is reserved: the pipeline root keeps its shipped code there")
    return value  # type: ignore[return-value]
