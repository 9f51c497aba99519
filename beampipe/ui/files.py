"""The only files the UI reads: those under an artifact's recorded URI, and node logs at
``<root>/.beampipe/logs/<run>/<node>.log``. Every path from a URL is checked here.

Refused: ``..`` and ``.`` segments, empty segments, absolute paths, backslashes, NUL,
encoded slashes (``%2f``, ``%5c``: checked on the raw request path by the caller, since a
decoded ``/`` would look like a separator), and anything whose real path (symlinks
resolved) lies outside the artifact's directory.
"""
from __future__ import annotations

import mimetypes
import os
import re
from dataclasses import dataclass

from beampipe import io
from beampipe.metadata.ids import is_path_id

MAX_LISTED = 500
MAX_LOG_BYTES = 256 * 1024
_ENCODED_SEPARATOR = re.compile(r"%(2f|5c|00)", re.IGNORECASE)
_TEXT = {".txt", ".log", ".json", ".csv", ".pbtxt", ".py", ".yaml", ".yml", ".md", ".tsv"}


class Refused(Exception):
    """A path the UI will not serve; the message says why (no file system details)."""


def has_encoded_separator(raw_path: str) -> bool:
    return bool(_ENCODED_SEPARATOR.search(raw_path))


def check_relpath(rel: str) -> str:
    """A relative path of plain segments, else Refused."""
    if not rel:
        return ""
    if rel.startswith("/") or "\\" in rel or "\x00" in rel or re.match(r"^[A-Za-z]:", rel) or "://" in rel:
        raise Refused("absolute paths are not served")
    parts = rel.split("/")
    if any(p in ("", ".", "..") for p in parts[:-1]) or parts[-1] in (".", ".."):
        raise Refused("'..', '.' and empty path segments are not served")
    return "/".join(p for p in parts if p)


def resolve(base_uri: str, rel: str) -> str:
    """The URI of rel under base_uri; Refused when it (or a symlink on the way) leaves base_uri."""
    rel = check_relpath(rel)
    target = io.join(base_uri, *rel.split("/")) if rel else io.normalize(base_uri)
    if not io.is_within(target, base_uri):
        raise Refused("outside the artifact's directory")
    return target


@dataclass
class Entry:
    rel: str
    size: int | None
    is_dir: bool


def listing(base_uri: str, rel: str = "") -> list[Entry]:
    """The tree under base_uri/rel (symlinks leaving the artifact are left out), at most MAX_LISTED."""
    top, base = resolve(base_uri, rel), io.normalize(base_uri)
    out: list[Entry] = []
    for dirpath, dirs, names in io.walk(top):
        here = io.normalize(dirpath)[len(base):].replace(os.sep, "/").strip("/")
        for name in dirs + names:
            child = f"{here}/{name}" if here else name
            try:
                uri = resolve(base_uri, child)
            except Refused:
                continue
            is_dir = name in dirs
            size = None
            if not is_dir:
                try:
                    size = io.size(uri)
                except OSError:
                    size = None
            out.append(Entry(child, size, is_dir))
            if len(out) >= MAX_LISTED:
                return sorted(out, key=lambda e: e.rel)
    return sorted(out, key=lambda e: e.rel)


def content_type(name: str) -> str:
    """Text for text; everything else downloads. HTML is served as HTML only under a sandbox CSP."""
    ext = os.path.splitext(name)[1].lower()
    if ext in _TEXT:
        return "text/plain; charset=utf-8"
    guessed = mimetypes.guess_type(name)[0] or "application/octet-stream"
    if guessed in ("text/html", "image/png", "image/jpeg", "image/svg+xml", "image/gif"):
        return guessed + ("; charset=utf-8" if guessed == "text/html" else "")
    return "application/octet-stream"


def log_uri(root: str | None, run_id: str, node_id: str) -> str | None:
    """``<root>/.beampipe/logs/<run>/<node>.log``: only that pattern, only safe ids."""
    if not root or not is_path_id(run_id) or not is_path_id(node_id):
        return None
    return io.join(root, ".beampipe", "logs", run_id, f"{node_id}.log")


def root_from_log_path(log_path: str, run_id: str, node_id: str) -> str | None:
    """The pipeline root an execution's recorded log path implies, if it has the one pattern."""
    suffix = f"/.beampipe/logs/{run_id}/{node_id}.log"
    return log_path[: -len(suffix)] if isinstance(log_path, str) and log_path.endswith(suffix) else None


def read_log(uri: str) -> tuple[str, bool]:
    """(the log's text, or its last MAX_LOG_BYTES; whether it was cut)."""
    data = io.read_bytes(uri)
    cut = len(data) > MAX_LOG_BYTES
    return data[-MAX_LOG_BYTES:].decode("utf-8", "replace"), cut
