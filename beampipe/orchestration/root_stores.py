"""Which metadata stores write on a pipeline root: ``<root>/.beampipe/stores/<id>``.

Why: several MLMD stores may share one root (attempt names are unique across stores), and
an output recorded only in store B looks like debris to a ``beampipe gc`` given store A.
So every store registers itself on the root before its first output is written there, and
gc deletes nothing while a registered store is missing from what it was given.

The id is a digest of the store's identity (``sqlite:///abs/path`` or
``postgresql://user@host:port/db``), never of its password; the file holds the identity
(again without password) so a person reading the root can tell which store it is.
"""
from __future__ import annotations

import hashlib
import json
import os
import threading
import time
from urllib.parse import urlparse

from beampipe import io
from beampipe.metadata.connection import sqlite_path, store_kind, without_password
from beampipe.metadata.owner import host

_DEFAULT_PORTS = {"postgresql": 5432, "mysql": 3306}
_done: set[tuple[str, str]] = set()  # (root, id) registered by this process
_lock = threading.Lock()


def stores_dir(root: str) -> str:
    return io.join(root, ".beampipe", "stores")


def store_identity(uri: str) -> str:
    """One spelling per store, without password: what the registry records and compares."""
    kind = store_kind(uri)
    if kind == "sqlite":
        return "sqlite://" + os.path.realpath(sqlite_path(uri) or "")
    u = urlparse(without_password(uri))
    user = f"{u.username}@" if u.username else ""
    port = u.port or _DEFAULT_PORTS[kind]
    return f"{kind}://{user}{(u.hostname or 'localhost').lower()}:{port}/{u.path.lstrip('/') or 'mlmd'}"


def store_id(uri: str) -> str:
    """The registry file name of a store: 16 hex digits of its identity's sha256."""
    return hashlib.sha256(store_identity(uri).encode()).hexdigest()[:16]


def register_store(root: str, uri: str) -> None:
    """Record, once, that the store at ``uri`` writes outputs under ``root``.

    Called before an execution writes anything (``recovery.reclaim_node``), so a gc can never
    see an output of a store that is not registered. Idempotent and cheap after the first call
    in a process; a local root that is a file is left for the launcher to report."""
    key = store_id(uri)
    with _lock:
        if (root, key) in _done:
            return
    if not io.is_remote(root) and os.path.exists(root) and not os.path.isdir(root):
        return
    path = io.join(stores_dir(root), key)
    if not io.exists(path):
        record = {"store": store_identity(uri), "registered_at": time.time(), "host": host()}
        io.write_text(path, json.dumps(record, sort_keys=True) + "\n")
    with _lock:
        _done.add((root, key))


def registered_stores(root: str) -> dict[str, str]:
    """id -> identity of every store registered on the root (empty when none ever did)."""
    folder = stores_dir(root)
    if not io.isdir(folder):
        return {}
    found = {}
    for name in io.listdir(folder):
        try:
            found[name] = str(json.loads(io.read_text(io.join(folder, name))).get("store", "?"))
        except (ValueError, OSError, AttributeError):
            found[name] = "(unreadable registration)"
    return found
