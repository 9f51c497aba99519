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
import hashlib
import os
import re
import threading
import time
from typing import Any, Callable, Iterator, TypeVar
from urllib.parse import quote, unquote, urlparse

T = TypeVar("T")

# Transient: lock contention, a server still starting. Not "already exists" / "duplicate key":
# those are lost creation races, which callers settle at once by re-reading.
_RETRYABLE = ("database is locked", "busy", "deadlock", "could not serialize", "concurrent update",
              "try restarting transaction", "the database system is starting up")


class MetadataConfigError(ValueError):
    """A metadata URI that cannot be understood."""


class MetadataConnectionError(MetadataConfigError):
    """A store that cannot be opened; the message is user-ready and holds no password."""


def redact(uri: str) -> str:
    """The URI with its password replaced by ***, safe to print and to record."""
    return _replace_password(uri, ":***", "<unparseable URI>")


def _replace_password(uri: str, spelled: str, unparseable: str) -> str:
    """The URI with ``:password`` spelled as ``spelled`` (empty: dropped)."""
    try:
        u = urlparse(uri)
        password = u.password
    except ValueError:
        return unparseable
    if password is None:
        return uri
    host = u.netloc.rsplit("@", 1)[-1]
    return uri.replace(u.netloc, f"{u.username or ''}{spelled}@{host}", 1)


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
        u = urlparse(_checked_database(uri))
        config.postgresql.host = u.hostname or "localhost"
        config.postgresql.port = str(u.port or 5432)
        config.postgresql.user = unquote(u.username or "")
        config.postgresql.password = unquote(u.password or "")
        config.postgresql.dbname = u.path.lstrip("/") or "mlmd"
    elif kind == "mysql":
        u = urlparse(_checked_database(uri))
        config.mysql.host = u.hostname or "localhost"
        config.mysql.port = int(u.port or 3306)
        config.mysql.user = unquote(u.username or "")
        config.mysql.password = unquote(u.password or "")
        config.mysql.database = u.path.lstrip("/") or "mlmd"
    return config


URI_ENV = "BEAMPIPE_METADATA_URI"  # the whole URI, at run time (overrides the compiled one)
PASSWORD_ENV = "BEAMPIPE_METADATA_PASSWORD"  # only the password (e.g. from a Kubernetes Secret)


def without_password(uri: str) -> str:
    """The URI as it may be written into a compiled file: user, host, port, database; no password."""
    return _replace_password(uri, "", uri)


def runtime_uri(compiled: str) -> str:
    """The URI a task connects with: $BEAMPIPE_METADATA_URI if set, else the compiled URI with
    $BEAMPIPE_METADATA_PASSWORD filled in when it names a user but carries no password."""
    override = os.environ.get(URI_ENV)
    if override:
        return override
    password = os.environ.get(PASSWORD_ENV)
    if not password or "://" not in compiled:
        return compiled
    u = urlparse(compiled)
    if u.password is not None or not u.username:
        return compiled
    return compiled.replace(f"{u.username}@", f"{u.username}:{quote(password, safe='')}@", 1)


def _checked_database(uri: str) -> str:
    """MLMD puts the database name into SQL unquoted (``CREATE DATABASE mlmd-test`` is a syntax
    error on the server): accept only names that need no quoting."""
    name = urlparse(uri).path.lstrip("/")
    if name and not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]{0,62}", name):
        raise MetadataConfigError(f"metadata URI {redact(uri)!r}: database name {name!r} is not allowed: "
                                  "use letters, digits and '_', starting with a letter or '_'")
    return uri


def store_kind(uri: str) -> str:
    """``sqlite``, ``postgresql`` or ``mysql``."""
    return _split(uri)[0]


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
        if path.startswith("//"):  # sqlite:////abs/path: one leading slash, not POSIX's '//'
            path = "/" + path.lstrip("/")
        if not path:
            raise MetadataConfigError(f"sqlite URI has no path: {uri!r}")
        return "sqlite", os.path.abspath(path)
    if scheme in ("postgresql", "postgres"):
        return "postgresql", uri
    if scheme == "mysql":
        return "mysql", uri
    raise MetadataConfigError(
        f"unsupported metadata URI {redact(uri)!r}: use a file path, sqlite:///PATH, "
        "postgresql://USER:PASSWORD@HOST:PORT/DB or mysql://USER:PASSWORD@HOST:PORT/DB")


class Guard:
    """Serialises calls on one store.

    ``held()`` guards every call: a thread lock, plus, for SQLite, an exclusive ``flock`` on a
    file beside the database (MLMD's SQLite gives up on contention). ``exclusive()`` guards
    schema, type and context creation on every kind of store: MLMD's Type table has no
    unique constraint, so two processes creating one type at once on PostgreSQL or MySQL
    leave duplicate rows. Server stores take a database advisory lock for it.
    """

    def __init__(self, uri: str) -> None:
        self._thread_lock = threading.RLock()
        self._fd: int | None = None
        self._depth = 0
        db_path = sqlite_path(uri)
        self._server = None if db_path is not None else ServerLock(uri)
        if db_path is not None:
            folder = os.path.dirname(db_path) or "."
            if not os.path.isdir(folder):
                raise MetadataConnectionError(
                    f"metadata store {db_path}: directory {folder} does not exist "
                    "(create it, or point --metadata-uri at an existing directory)")
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

    @contextlib.contextmanager
    def exclusive(self) -> Iterator[None]:
        with self.held():
            if self._server is None:
                yield
            else:
                with self._server.locked():
                    yield

    def close(self) -> None:
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None
        if self._server is not None:
            self._server.close()


class ServerLock:
    """A database-wide advisory lock on a PostgreSQL or MySQL server, through its own
    connection (MLMD's API has no SQL). PostgreSQL advisory locks are per database, and the
    MLMD database may not exist yet, so the lock lives in the ``postgres`` maintenance
    database, keyed by the MLMD database's name; MySQL's GET_LOCK is server-wide."""

    TIMEOUT_S = 120

    def __init__(self, uri: str) -> None:
        self.uri = uri
        self.kind, _ = _split(uri)
        self._conn: Any = None
        self._depth = 0

    def _connect(self) -> Any:
        config = connection_config(self.uri)  # the same host, port, user and database as MLMD's
        try:
            if self.kind == "postgresql":
                import psycopg2

                pg = config.postgresql
                conn = psycopg2.connect(host=pg.host, port=int(pg.port), user=pg.user, password=pg.password,
                                        dbname="postgres", connect_timeout=10)
                conn.autocommit = True
                self._key = int.from_bytes(hashlib.sha256(f"beampipe:{pg.dbname}".encode()).digest()[:8],
                                           "big", signed=True)
            else:
                import pymysql

                my = config.mysql
                conn = pymysql.connect(host=my.host, port=my.port, user=my.user, password=my.password,
                                       connect_timeout=10, autocommit=True)
                self._key = f"beampipe:{my.database}"[:64]
        except ImportError as err:  # both drivers are install dependencies of beampipe
            raise MetadataConnectionError(
                f"metadata store {redact(self.uri)}: the {err.name} driver is missing: reinstall beampipe "
                "(pip install -c constraints.txt beampipe brings psycopg2-binary and PyMySQL)") from None
        except Exception as err:  # the driver's own error classes
            raise connection_error(self.uri, err) from None
        return conn

    @contextlib.contextmanager
    def locked(self) -> Iterator[None]:
        if self._depth == 0:
            if self._conn is None:
                self._conn = self._connect()
            with self._conn.cursor() as cur:
                if self.kind == "postgresql":
                    cur.execute("SELECT pg_advisory_lock(%s)", (self._key,))
                else:
                    cur.execute("SELECT GET_LOCK(%s, %s)", (self._key, self.TIMEOUT_S))
                    if cur.fetchone()[0] != 1:
                        raise MetadataConnectionError(
                            f"metadata store {redact(self.uri)}: timed out after {self.TIMEOUT_S}s "
                            "waiting for another process to finish creating types")
        self._depth += 1
        try:
            yield
        finally:
            self._depth -= 1
            if self._depth == 0 and self._conn is not None:
                with self._conn.cursor() as cur:
                    if self.kind == "postgresql":
                        cur.execute("SELECT pg_advisory_unlock(%s)", (self._key,))
                    else:
                        cur.execute("SELECT RELEASE_LOCK(%s)", (self._key,))

    def close(self) -> None:
        if self._conn is not None:
            try:
                self._conn.close()
            finally:
                self._conn = None


def connection_error(uri: str, err: BaseException) -> MetadataConnectionError:
    """One user-ready line for a store that cannot be opened: the URI without its password,
    the server's host and port, and the reason."""
    kind, parsed = _split(uri)
    reason = " ".join(str(err).split()) or type(err).__name__
    password = urlparse(uri).password if kind != "sqlite" else None
    if password:
        reason = reason.replace(password, "***")
    if kind == "sqlite":
        if "file is not a database" in reason or "not a database" in reason:
            reason = "the file is not a SQLite database"
        return MetadataConnectionError(f"cannot open the metadata store {parsed}: {reason}")
    u = urlparse(uri)
    default_port = 5432 if kind == "postgresql" else 3306
    server = f"{'PostgreSQL' if kind == 'postgresql' else 'MySQL'} at {u.hostname or 'localhost'}:" \
             f"{u.port or default_port}"
    hint = ""
    if u.username and u.password is None:
        hint = f" (no password given: set ${PASSWORD_ENV}, or the whole URI as ${URI_ENV})"
    return MetadataConnectionError(
        f"cannot connect to the metadata store {redact(uri)} ({server}): {reason}{hint}")


def with_retries(fn: Callable[[], T], attempts: int = 40, what: str = "metadata call",
                 extra_retryable: tuple[str, ...] = ()) -> T:
    """Retry transient database errors (lock contention, a server still starting)."""
    delay = 0.02
    retryable = _RETRYABLE + extra_retryable
    for attempt in range(attempts):
        try:
            return fn()
        except Exception as err:  # MLMD raises its own error classes; match on text
            text = str(err).lower()
            if attempt == attempts - 1 or not any(s in text for s in retryable):
                raise
            time.sleep(delay)
            delay = min(delay * 1.5, 1.0)
    raise AssertionError("unreachable")


def uri_from_config(config: Any) -> str:
    """The metadata URI of an MLMD ``ConnectionConfig`` (what TFX's
    ``tfx.orchestration.metadata.*_metadata_connection_config`` return), so a TFX pipeline's
    ``metadata_connection_config=`` works. Settings a URI cannot carry are refused, not dropped.
    The URI may hold a password: compiled files get it ``without_password``."""
    if isinstance(config, str):
        return config
    name = getattr(getattr(config, "DESCRIPTOR", None), "full_name", "")
    if name == "ml_metadata.MetadataStoreClientConfig":
        raise MetadataConfigError("metadata_connection_config: a MetadataStoreClientConfig names an MLMD gRPC "
                                  "server; beampipe connects to the database itself: give the database's "
                                  "ConnectionConfig (SQLite, MySQL or PostgreSQL) or a URI")
    if name != "ml_metadata.ConnectionConfig":
        raise MetadataConfigError(f"metadata_connection_config: expected an MLMD ConnectionConfig or a URI "
                                  f"string, got {type(config).__name__}")
    kind = config.WhichOneof("config")
    if kind == "sqlite":
        if not config.sqlite.filename_uri:
            raise MetadataConfigError("metadata_connection_config: the SQLite config has no filename_uri")
        return os.path.abspath(config.sqlite.filename_uri)
    if kind == "mysql":
        my = config.mysql
        _refuse_fields(my, ("socket", "ssl_options", "skip_db_creation"), "MySQL")
        return _server_uri("mysql", my.user, my.password, my.host, my.port or 3306, my.database)
    if kind == "postgresql":
        pg = config.postgresql
        _refuse_fields(pg, ("passfile", "ssloption", "skip_db_creation"), "PostgreSQL")
        return _server_uri("postgresql", pg.user, pg.password, pg.host or pg.hostaddr, pg.port or 5432,
                           pg.dbname)
    raise MetadataConfigError(f"metadata_connection_config: a {kind or 'empty'} config is not supported; use "
                              "SQLite, MySQL or PostgreSQL")


def _refuse_fields(message: Any, names: tuple[str, ...], what: str) -> None:
    used = [n for n in names if message.HasField(n)] if hasattr(message, "HasField") else []
    if used:
        raise MetadataConfigError(f"metadata_connection_config: {what} settings {used} are not supported by "
                                  "beampipe (its metadata URI carries host, port, database, user and password)")


def _server_uri(scheme: str, user: str, password: str, host: str, port: Any, database: str) -> str:
    auth = quote(user, safe="") + (f":{quote(password, safe='')}" if password else "")
    return _checked_database(f"{scheme}://{auth}{'@' if auth else ''}{host or 'localhost'}:{port}/{database}")
