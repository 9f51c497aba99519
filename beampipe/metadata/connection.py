"""Turn a metadata URI into an MLMD connection, safely under concurrency.

SQLite is the default (a file, no server). MLMD's SQLite backend uses plain
BEGIN and gives up after a few retries, and two processes creating the schema in
an empty file at once race; so every SQLite call here holds an exclusive
``flock`` on a lock file beside the database. Calls are short, so the lock is
cheap. Server databases get connect retries instead.
"""
from __future__ import annotations

import contextlib
import fcntl
import os
import threading
import time
from typing import Any, Callable, Iterator, TypeVar
from urllib.parse import unquote, urlparse

T = TypeVar("T")

_RETRYABLE = ("database is locked", "busy", "deadlock", "could not connect", "connection refused",
              "already exists", "duplicate key", "concurrent", "try restarting transaction",
              "the database system is starting up")


class MetadataConfigError(ValueError):
    """A metadata URI that cannot be understood."""


class MetadataConnectionError(MetadataConfigError):
    """A store that cannot be opened; the message is user-ready and holds no password."""


def redact(uri: str) -> str:
    """The URI with its password replaced by ***, safe to print and to record."""
    try:
        u = urlparse(uri)
    except ValueError:
        return "<unparseable URI>"
    if u.password is None:
        return uri
    netloc = u.netloc.rsplit("@", 1)
    return uri.replace(u.netloc, f"{u.username or ''}:***@{netloc[-1]}", 1)


def connection_config(uri: str) -> Any:
    """Build an MLMD ConnectionConfig from ``sqlite:///path``, a bare path,
    ``postgresql://user:pw@host:port/db`` or ``mysql://user:pw@host:port/db``."""
    from ml_metadata.proto import metadata_store_pb2 as pb

    config = pb.ConnectionConfig()
    kind, parsed = _split(uri)
    if kind == "sqlite":
        config.sqlite.filename_uri = parsed
        config.sqlite.connection_mode = pb.SqliteMetadataSourceConfig.READWRITE_OPENCREATE
    elif kind == "postgresql":
        u = urlparse(uri)
        config.postgresql.host = u.hostname or "localhost"
        config.postgresql.port = str(u.port or 5432)
        config.postgresql.user = unquote(u.username or "")
        config.postgresql.password = unquote(u.password or "")
        config.postgresql.dbname = u.path.lstrip("/") or "mlmd"
    elif kind == "mysql":
        u = urlparse(uri)
        config.mysql.host = u.hostname or "localhost"
        config.mysql.port = int(u.port or 3306)
        config.mysql.user = unquote(u.username or "")
        config.mysql.password = unquote(u.password or "")
        config.mysql.database = u.path.lstrip("/") or "mlmd"
    return config


def sqlite_path(uri: str) -> str | None:
    """The database file for a SQLite URI, else None."""
    kind, parsed = _split(uri)
    return parsed if kind == "sqlite" else None


def _split(uri: str) -> tuple[str, str]:
    if not uri:
        raise MetadataConfigError("metadata URI is empty")
    if "://" not in uri:
        return "sqlite", os.path.abspath(uri)
    scheme = uri.split("://", 1)[0].lower()
    if scheme == "sqlite":
        path = uri[len("sqlite://"):]
        if not path:
            raise MetadataConfigError(f"sqlite URI has no path: {uri!r}")
        return "sqlite", os.path.abspath(path)
    if scheme in ("postgresql", "postgres"):
        return "postgresql", uri
    if scheme == "mysql":
        return "mysql", uri
    raise MetadataConfigError(
        f"unsupported metadata URI {uri!r}: use a file path, sqlite:///PATH, "
        "postgresql://USER:PASSWORD@HOST:PORT/DB or mysql://USER:PASSWORD@HOST:PORT/DB")


class Guard:
    """Serialises calls on one store: a thread lock, plus a file lock for SQLite."""

    def __init__(self, db_path: str | None) -> None:
        self._thread_lock = threading.RLock()
        self._fd: int | None = None
        self._depth = 0
        if db_path is not None:
            os.makedirs(os.path.dirname(db_path) or ".", exist_ok=True)
            self._fd = os.open(db_path + ".lock", os.O_RDWR | os.O_CREAT, 0o644)

    @contextlib.contextmanager
    def held(self) -> Iterator[None]:
        with self._thread_lock:
            if self._fd is not None and self._depth == 0:
                fcntl.flock(self._fd, fcntl.LOCK_EX)
            self._depth += 1
            try:
                yield
            finally:
                self._depth -= 1
                if self._fd is not None and self._depth == 0:
                    fcntl.flock(self._fd, fcntl.LOCK_UN)

    def close(self) -> None:
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None


def with_retries(fn: Callable[[], T], attempts: int = 40, what: str = "metadata call") -> T:
    """Retry transient database errors (lock contention, a server still starting)."""
    delay = 0.02
    for attempt in range(attempts):
        try:
            return fn()
        except Exception as err:  # MLMD raises its own error classes; match on text
            text = str(err).lower()
            if attempt == attempts - 1 or not any(s in text for s in _RETRYABLE):
                raise
            time.sleep(delay)
            delay = min(delay * 1.5, 1.0)
    raise AssertionError("unreachable")
