"""The object-store clients (fsspec's s3fs and gcsfs) and the errors users see from them.

Local paths never come here: they use ``os`` and ``shutil`` directly, which is faster and
keeps ``rename`` atomic. fsspec, s3fs and gcsfs are imported on first remote use only, so
``import beampipe`` and local runs do not pay for aiobotocore or google-auth.

Errors are translated into a few clear ones, because the libraries' own messages name
neither the URI nor the server ("The specified key does not exist.",
"The request signature we calculated does not match ..."):

- a missing object or bucket: ``FileNotFoundError`` whose ``filename`` is the URI;
- refused or missing credentials: :class:`StorageAuthError` naming the endpoint (and the
  variables to check), never the secret;
- an unreachable endpoint: :class:`StorageConnectionError`;
- gs:// without gcsfs installed: :class:`BackendUnavailable`.
"""
from __future__ import annotations

import contextlib
import errno
import io
import os
import threading
from collections.abc import Iterator
from typing import Any

from beampipe.io.settings import S3Settings, redact
from beampipe.io.uri import Location

GCS_SCOPE = "https://www.googleapis.com/auth/devstorage.full_control"


class StorageError(OSError):
    """A storage failure with a message that says what to do."""


class StorageAuthError(StorageError, PermissionError):
    """The object store refused the credentials, or none were found."""


class StorageConnectionError(StorageError, ConnectionError):
    """The object store's endpoint could not be reached."""


class BackendUnavailable(ImportError):
    """The library for a URI scheme is not installed."""


_lock = threading.Lock()
_cache: dict[tuple[Any, ...], Any] = {}


def clear_cache() -> None:
    """Forget the cached clients (tests that change credentials call this)."""
    with _lock:
        _cache.clear()


def filesystem(loc: Location) -> Any:
    """The fsspec filesystem for an s3:// or gs:// location, cached per process and settings.

    The process id is part of the key: an async filesystem's event loop does not survive
    a fork, so a child process (Beam's multi-processing workers) builds its own client.
    """
    if loc.scheme == "s3":
        settings = S3Settings.from_env()
        key: tuple[Any, ...] = ("s3", os.getpid(), settings)
    elif loc.scheme == "gs":
        key = ("gs", os.getpid(), os.environ.get("GOOGLE_APPLICATION_CREDENTIALS"),
               os.environ.get("STORAGE_EMULATOR_HOST"), os.environ.get("GOOGLE_CLOUD_PROJECT"))
    else:
        raise ValueError(f"{loc.uri}: not an object-store location")
    with _lock:
        fs = _cache.get(key)
        if fs is None:
            fs = _make_s3(loc, settings) if loc.scheme == "s3" else _make_gcs(loc)
            _cache[key] = fs
        return fs


def _make_s3(loc: Location, settings: S3Settings) -> Any:
    try:
        import s3fs
    except ImportError as e:  # pragma: no cover - s3fs is in install_requires
        raise BackendUnavailable(f"{loc.uri}: s3:// needs the s3fs package "
                                 "(pip install -c constraints.txt s3fs)") from e
    # No listing cache: other processes (Beam workers, other tasks) write the same prefixes,
    # and a cached listing would hide their files.
    return s3fs.S3FileSystem(skip_instance_cache=True, use_listings_cache=False,
                             **settings.s3fs_kwargs())


def _make_gcs(loc: Location) -> Any:
    try:
        import gcsfs
    except ImportError as e:
        raise BackendUnavailable(f"{loc.uri}: gs:// needs the gcsfs package "
                                 "(pip install -c constraints.txt gcsfs)") from e
    project = os.environ.get("GOOGLE_CLOUD_PROJECT")
    if os.environ.get("STORAGE_EMULATOR_HOST"):  # a local fake GCS server: no credentials
        return gcsfs.GCSFileSystem(project=project or "test", token="anon",
                                   skip_instance_cache=True)
    # Resolve credentials here rather than letting gcsfs try its list of methods, so that
    # "no credentials" is one clear error at the first call instead of an anonymous client
    # that fails later with 401s.
    import google.auth
    from google.auth.exceptions import DefaultCredentialsError

    try:
        credentials, default_project = google.auth.default(scopes=[GCS_SCOPE])
    except DefaultCredentialsError as e:
        raise StorageAuthError(
            errno.EACCES,
            f"no Google Cloud credentials for gs://: set GOOGLE_APPLICATION_CREDENTIALS to a "
            f"service-account key file, or run where application-default credentials exist "
            f"(gcloud auth application-default login, GKE workload identity) ({e})", loc.uri) from e
    return gcsfs.GCSFileSystem(project=project or default_project, token=credentials,
                               skip_instance_cache=True)


def _describe(exc: BaseException) -> str:
    text = str(exc)
    return redact(text) if text else type(exc).__name__


def _endpoint(loc: Location) -> str:
    if loc.scheme == "s3":
        return f"the S3 endpoint {S3Settings.from_env().endpoint_label}"
    return "Google Cloud Storage"


def _is_not_found(exc: BaseException) -> bool:
    name = type(exc).__name__
    code = getattr(exc, "response", {}) or {}
    code = code.get("Error", {}).get("Code", "") if isinstance(code, dict) else ""
    return name in ("NoSuchKey", "NoSuchBucket") or code in ("NoSuchKey", "NoSuchBucket", "404")


def translate(exc: BaseException, loc: Location) -> BaseException | None:
    """The clear error for a library exception on ``loc``, or None to re-raise it as it is."""
    if isinstance(exc, (StorageError, BackendUnavailable)):
        return None
    if isinstance(exc, FileNotFoundError) or _is_not_found(exc):
        detail = _describe(exc)
        # s3fs often puts only the path in the message; keep the server's words when there are some
        reason = "" if loc.path in detail or detail == loc.path else f" ({detail})"
        return FileNotFoundError(errno.ENOENT, f"No such file or directory{reason}", loc.uri)
    if isinstance(exc, (IsADirectoryError, NotADirectoryError, FileExistsError)):
        return type(exc)(exc.errno or errno.EIO, exc.strerror or _describe(exc), loc.uri)
    name, module = type(exc).__name__, type(exc).__module__ or ""
    if loc.scheme == "s3":
        hint = "check AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY (and AWS_ENDPOINT_URL)"
    else:
        hint = "check GOOGLE_APPLICATION_CREDENTIALS and the account's bucket permissions"
    if name in ("NoCredentialsError", "PartialCredentialsError"):
        return StorageAuthError(errno.EACCES, f"no credentials for {_endpoint(loc)}: set "
                                "AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY (or AWS_PROFILE)", loc.uri)
    if isinstance(exc, PermissionError) or name in ("RefreshError", "ClientAuthError") or (
            module.startswith("botocore") and name == "ClientError"
            and "AccessDenied" in str(exc) + str(getattr(exc, "response", ""))):
        return StorageAuthError(errno.EACCES, f"{_endpoint(loc)} refused the request "
                                f"({_describe(exc)}); {hint}", loc.uri)
    if name in ("EndpointConnectionError", "ConnectTimeoutError", "ClientConnectorError",
                "ServerDisconnectedError") or isinstance(exc, ConnectionError):
        check = "; check AWS_ENDPOINT_URL" if loc.scheme == "s3" else ""
        return StorageConnectionError(errno.ECONNREFUSED,
                                      f"cannot reach {_endpoint(loc)} ({_describe(exc)}){check}", loc.uri)
    return None


@contextlib.contextmanager
def translated(loc: Location) -> Iterator[None]:
    """Run a remote call; re-raise library errors as the clear ones (see :func:`translate`)."""
    try:
        yield
    except Exception as exc:
        clear = translate(exc, loc)
        if clear is None:
            raise
        raise clear from exc


class RemoteFile:
    """An open remote file whose errors are translated, including those raised at
    ``close()``: a written object is uploaded only then, so a refused credential or a
    missing bucket shows up there, and it must still name the URI and the endpoint."""

    def __init__(self, raw: Any, loc: Location) -> None:
        self._raw, self._loc = raw, loc

    def _call(self, name: str, *args: Any) -> Any:
        with translated(self._loc):
            return getattr(self._raw, name)(*args)

    def read(self, *args: Any) -> Any:
        return self._call("read", *args)

    def readline(self, *args: Any) -> Any:
        return self._call("readline", *args)

    def readlines(self, *args: Any) -> Any:
        return self._call("readlines", *args)

    def write(self, data: Any) -> Any:
        return self._call("write", data)

    def writelines(self, lines: Any) -> Any:
        return self._call("writelines", lines)

    def flush(self) -> None:
        self._call("flush")

    def close(self) -> None:
        self._call("close")

    def __iter__(self) -> Iterator[Any]:
        with translated(self._loc):
            yield from self._raw

    def __enter__(self) -> RemoteFile:
        return self

    def __exit__(self, *exc: object) -> None:
        if exc[0] is None:
            self.close()
        else:
            self.abort()

    def abort(self) -> None:
        """Close without uploading: an object store then holds nothing of a write whose
        body failed (a local file would hold the partial bytes; an object is all or nothing)."""
        # text mode wraps fsspec's binary file (which has a .buffer of its own: the write buffer)
        binary = self._raw.buffer if isinstance(self._raw, io.TextIOWrapper) else self._raw
        with contextlib.suppress(Exception):
            if "r" in getattr(binary, "mode", "rb"):
                self._raw.close()
                return
            binary.discard()
            binary.closed = True  # or close(), and garbage collection, would still upload

    def __getattr__(self, name: str) -> Any:  # seek, tell, readable, closed, name ...
        return getattr(self._raw, name)
