"""Storage URIs: local paths, ``s3://bucket/key`` and ``gs://bucket/key``.

Every function of the storage layer takes a URI and first asks which backend it names.
A pipeline root reaches us from users, the IR and MLMD, so the parsing is strict: an
unknown scheme (``hdfs://``, ``http://``) or a bucket-less ``s3://`` is refused here with
a message, instead of being treated as a relative local path (``os.path.abspath`` turns
``gs://b/r`` into ``<cwd>/gs:/b/r``, which is the bug this layer exists to end).
"""
from __future__ import annotations

import os
import posixpath
import re
from dataclasses import dataclass

LOCAL = "file"
REMOTE_SCHEMES = ("s3", "gs")
_SCHEME = re.compile(r"^([A-Za-z][A-Za-z0-9+.-]*)://")
# Both S3 and GCS: lowercase letters, digits, '.', '-' ('_' on GCS); 3-63 characters per
# name (GCS allows up to 222 with dots). A loose common rule: reject what neither accepts.
_BUCKET = re.compile(r"[a-z0-9][a-z0-9._-]{1,221}[a-z0-9]")


@dataclass(frozen=True)
class Location:
    """A parsed URI. ``path`` is what the backend library wants: a local path, or
    ``bucket/key`` for fsspec's object-store filesystems (which take no scheme)."""

    scheme: str
    bucket: str
    key: str

    @property
    def is_remote(self) -> bool:
        return self.scheme != LOCAL

    @property
    def path(self) -> str:
        if not self.is_remote:
            return self.key
        return f"{self.bucket}/{self.key}" if self.key else self.bucket

    @property
    def uri(self) -> str:
        return f"{self.scheme}://{self.path}" if self.is_remote else self.key


def parse(uri: str | os.PathLike[str]) -> Location:
    """Split a URI into scheme, bucket and key; local paths (and ``file://``) keep their path."""
    if isinstance(uri, os.PathLike):
        uri = os.fspath(uri)
    if not isinstance(uri, str) or not uri:
        raise ValueError(f"storage location must be a non-empty string, got {uri!r}")
    match = _SCHEME.match(uri)
    if match is None:
        return Location(LOCAL, "", uri)
    scheme = match.group(1).lower()
    rest = uri[match.end():]
    if scheme == LOCAL:
        if not rest.startswith("/"):
            raise ValueError(f"{uri!r}: a file:// URI needs an absolute path (file:///dir/file)")
        return Location(LOCAL, "", rest)
    if scheme not in REMOTE_SCHEMES:
        raise ValueError(f"{uri!r}: unsupported storage scheme '{scheme}://'; "
                         "beampipe reads and writes local paths, s3:// and gs://")
    bucket, _, key = rest.partition("/")
    if not _BUCKET.fullmatch(bucket):
        raise ValueError(f"{uri!r}: '{bucket}' is not a valid {scheme}:// bucket name "
                         "(3-63 lowercase letters, digits, '.', '-')")
    key = key.strip("/")
    if "//" in key:
        raise ValueError(f"{uri!r}: empty path segment ('//') in the object key")
    return Location(scheme, bucket, key)


def is_remote(uri: str) -> bool:
    """True for s3:// and gs:// (object stores), False for local paths."""
    return parse(uri).is_remote


def normalize(uri: str) -> str:
    """One spelling per location: no trailing slash, ``file://`` dropped, scheme lowercased."""
    return parse(uri).uri


def join(base: str, *parts: str) -> str:
    """Join path segments with '/' on object stores and ``os.path.join`` locally."""
    loc = parse(base)
    if not loc.is_remote:
        return os.path.join(loc.key, *parts)
    key = posixpath.join(loc.key, *(p.strip("/") for p in parts if p)) if parts else loc.key
    return Location(loc.scheme, loc.bucket, key.strip("/")).uri


def basename(uri: str) -> str:
    loc = parse(uri)
    return os.path.basename(loc.key) if not loc.is_remote else posixpath.basename(loc.key)


def dirname(uri: str) -> str:
    loc = parse(uri)
    if not loc.is_remote:
        return os.path.dirname(loc.key)
    return Location(loc.scheme, loc.bucket, posixpath.dirname(loc.key)).uri


def relative(uri: str, base: str) -> str:
    """``uri`` relative to ``base`` with '/' separators; ValueError if it lies outside."""
    if not is_within(uri, base):
        raise ValueError(f"{uri!r} is not inside {base!r}")
    loc, root = parse(uri), parse(base)
    if not loc.is_remote:
        return os.path.relpath(os.path.realpath(loc.key), os.path.realpath(root.key)).replace(os.sep, "/")
    return loc.key[len(root.key):].lstrip("/") if root.key else loc.key


def is_within(uri: str, root: str, *, strictly: bool = False) -> bool:
    """Whether ``uri`` names ``root`` or something under it (same scheme and bucket).

    Local paths are compared after resolving symlinks and '..', so a link inside the root
    that points elsewhere does not count as inside. Object keys have no '..' semantics,
    so a key holding a '.' or '..' segment is never considered inside anything.
    """
    loc, base = parse(uri), parse(root)
    if loc.scheme != base.scheme or loc.bucket != base.bucket:
        return False
    if not loc.is_remote:
        path, top = os.path.realpath(loc.key), os.path.realpath(base.key)
        inside = path == top or path.startswith(top.rstrip(os.sep) + os.sep)
        return inside and not (strictly and path == top)
    if any(seg in (".", "..") for seg in loc.key.split("/") + base.key.split("/")):
        return False
    if loc.key == base.key:
        return not strictly
    return not base.key or loc.key.startswith(base.key + "/")
