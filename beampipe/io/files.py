"""Reading, writing and listing: one set of functions over local paths, ``s3://`` and ``gs://``.

Local paths use ``os`` (fast; ``tree.rename`` stays atomic); object stores use
fsspec's s3fs/gcsfs (see ``docs/storage.md`` for why). The semantics are those of the
object stores wherever the two differ, so that code tested locally behaves the same on S3:

- A directory is a prefix that holds at least one file. Object stores have no empty
  directories, so ``makedirs`` is a no-op there, ``walk``/``listdir``/``exists`` never
  report an empty remote "directory" (SeaweedFS keeps empty folder entries after a delete;
  they are ignored), and an empty local directory contributes nothing to a fingerprint.
- ``open(..., "w")`` creates missing local parent directories, as a remote write needs none.
- Zero-byte keys ending in '/' (folder markers some tools write) are not files.

A remote object is all-or-nothing: it appears whole when its writer closes it, and not
at all if the writing block raised. Copy, move and delete (and what atomicity a move has
on each backend) are in ``tree``.
"""
from __future__ import annotations

import builtins
import errno
import glob as _glob
import os
from collections.abc import Iterator
from dataclasses import dataclass
from typing import IO, Any

from beampipe.io.backends import RemoteFile, filesystem, translated
from beampipe.io.uri import Location, join, parse

_MODES = ("r", "rb", "w", "wb", "a", "ab")


@dataclass(frozen=True)
class FileStat:
    uri: str
    size: int  # bytes of a file; 0 for a directory (use size() for a directory's total)
    is_dir: bool
    mtime: float | None  # seconds since the epoch; None for a remote directory


def _missing(uri: str) -> FileNotFoundError:
    return FileNotFoundError(errno.ENOENT, os.strerror(errno.ENOENT), uri)


def _fs(loc: Location) -> Any:
    with translated(loc):
        return filesystem(loc)


def _is_marker(name: str) -> bool:
    return name.endswith("/")


def _remote_files(loc: Location) -> dict[str, int]:
    """Relative key -> size of every file strictly under the prefix (one recursive listing)."""
    fs = _fs(loc)
    prefix = loc.path + "/"
    with translated(loc):
        try:
            found = fs.find(loc.path, detail=True)
        except FileNotFoundError:
            if not loc.key:
                raise
            return {}
    return {name[len(prefix):]: int(info.get("size") or 0) for name, info in found.items()
            if info.get("type") == "file" and name.startswith(prefix) and not _is_marker(name)}


def _remote_isfile(loc: Location) -> bool:
    if not loc.key:
        return False
    fs = _fs(loc)
    with translated(loc):
        try:
            return fs.info(loc.path).get("type") == "file"
        except FileNotFoundError:
            return False


def _remote_has_files(loc: Location) -> bool:
    """Whether any real file lies under the prefix; on S3 without listing all of them."""
    if loc.scheme != "s3":
        return bool(_remote_files(loc))
    fs = _fs(loc)
    kwargs: dict[str, Any] = {"Bucket": loc.bucket, "Prefix": loc.key + "/" if loc.key else "",
                              "MaxKeys": 100}
    with translated(loc):
        while True:
            page = fs.call_s3("list_objects_v2", **kwargs)
            if any(not _is_marker(o["Key"]) for o in page.get("Contents", [])):
                return True
            if not page.get("IsTruncated"):
                return False
            kwargs["ContinuationToken"] = page["NextContinuationToken"]


def _bucket_exists(loc: Location) -> bool:
    fs = _fs(loc)
    with translated(loc):
        if loc.scheme == "s3":
            try:
                fs.call_s3("head_bucket", Bucket=loc.bucket)
                return True
            except FileNotFoundError:
                return False
        return bool(fs.exists(loc.bucket))


def exists(uri: str) -> bool:
    """A file, or a directory holding at least one file (remote), or any local directory."""
    loc = parse(uri)
    if not loc.is_remote:
        return os.path.exists(loc.key)
    if not loc.key:
        return _bucket_exists(loc)
    try:
        return _remote_isfile(loc) or _remote_has_files(loc)
    except FileNotFoundError:  # the bucket itself is missing
        return False


def isfile(uri: str) -> bool:
    loc = parse(uri)
    return os.path.isfile(loc.key) if not loc.is_remote else _remote_isfile(loc)


def isdir(uri: str) -> bool:
    loc = parse(uri)
    if not loc.is_remote:
        return os.path.isdir(loc.key)
    if not loc.key:
        return _bucket_exists(loc)
    try:
        return _remote_has_files(loc)
    except FileNotFoundError:  # the bucket itself is missing
        return False


def makedirs(uri: str) -> None:
    """Create a local directory and its parents (existing is fine); a no-op on object
    stores, where a prefix exists as soon as a file is written under it."""
    loc = parse(uri)
    if not loc.is_remote:
        os.makedirs(loc.key, exist_ok=True)


def open(uri: str, mode: str = "rb", encoding: str | None = None) -> IO[Any]:  # noqa: A001
    """Open a file for reading or writing; text modes default to UTF-8.

    A remote write becomes visible, whole, when the file is closed; if the ``with`` body
    raises, nothing is uploaded. Append modes are local only (objects are immutable).
    """
    if mode not in _MODES:
        raise ValueError(f"mode {mode!r} is not supported; use one of {', '.join(_MODES)}")
    loc = parse(uri)
    if "b" not in mode and encoding is None:
        encoding = "utf-8"
    if not loc.is_remote:
        if mode[0] in "wa" and os.path.dirname(loc.key):
            os.makedirs(os.path.dirname(loc.key), exist_ok=True)
        return builtins.open(loc.key, mode, encoding=encoding)
    if mode[0] == "a":
        raise ValueError(f"{uri}: objects cannot be appended to; write a new file")
    fs = _fs(loc)
    with translated(loc):
        kwargs = {} if "b" in mode else {"encoding": encoding}
        return RemoteFile(fs.open(loc.path, mode, **kwargs), loc)  # type: ignore[return-value]


def read_bytes(uri: str) -> bytes:
    with open(uri, "rb") as f:
        return f.read()


def read_text(uri: str, encoding: str = "utf-8") -> str:
    with open(uri, "r", encoding=encoding) as f:
        return f.read()


def write_bytes(uri: str, data: bytes) -> None:
    with open(uri, "wb") as f:
        f.write(data)


def write_text(uri: str, text: str, encoding: str = "utf-8") -> None:
    with open(uri, "w", encoding=encoding) as f:
        f.write(text)


def listdir(uri: str) -> list[str]:
    """Sorted names of the files and directories directly inside ``uri``."""
    loc = parse(uri)
    if not loc.is_remote:
        return sorted(os.listdir(loc.key))
    files = _remote_files(loc)
    if not files:
        if _remote_isfile(loc):
            raise NotADirectoryError(errno.ENOTDIR, os.strerror(errno.ENOTDIR), uri)
        if loc.key or not _bucket_exists(loc):
            raise _missing(uri)
    return sorted({rel.split("/", 1)[0] for rel in files})


def walk(uri: str) -> Iterator[tuple[str, list[str], list[str]]]:
    """Like ``os.walk`` (top-down), with directory and file names sorted at each level.

    Yields nothing for a missing location or a file. As with ``os.walk``, removing names
    from the yielded directory list prunes the walk.
    """
    for dirpath, dirs, names, _sizes in _walk(uri):
        yield dirpath, dirs, names


def _walk(uri: str) -> Iterator[tuple[str, list[str], list[str], dict[str, int] | None]]:
    """walk() plus the sizes of remote files (known from the listing; None locally)."""
    loc = parse(uri)
    if not loc.is_remote:
        for dirpath, dirs, names in os.walk(loc.key):
            dirs.sort()
            yield dirpath, dirs, sorted(names), None
        return
    tree: dict[str, tuple[set[str], dict[str, int]]] = {}
    for rel, size in _remote_files(loc).items():
        parts = rel.split("/")
        for depth in range(len(parts)):
            node = tree.setdefault("/".join(parts[:depth]), (set(), {}))
            if depth < len(parts) - 1:
                node[0].add(parts[depth])
            else:
                node[1][parts[depth]] = size

    def visit(rel: str) -> Iterator[tuple[str, list[str], list[str], dict[str, int] | None]]:
        subdirs, sizes = tree[rel]
        dirs = sorted(subdirs)
        yield (join(uri, rel) if rel else loc.uri), dirs, sorted(sizes), sizes
        for name in dirs:
            yield from visit(f"{rel}/{name}" if rel else name)

    if tree:
        yield from visit("")


def glob(pattern: str) -> list[str]:
    """Sorted URIs matching a pattern (``*``, ``?``, ``[..]``, ``**`` for any depth)."""
    loc = parse(pattern)
    if not loc.is_remote:
        return sorted(_glob.glob(loc.key, recursive=True))
    fs = _fs(loc)
    with translated(loc):
        try:
            found = fs.glob(loc.path, detail=True)
        except FileNotFoundError:
            return []
    out = []
    for name, info in found.items():
        match = Location(loc.scheme, loc.bucket, name.split("/", 1)[1] if "/" in name else "")
        if info.get("type") == "file" and not _is_marker(name):
            out.append(match.uri)
        elif info.get("type") == "directory" and _remote_has_files(match):
            out.append(match.uri)
    return sorted(out)


def stat(uri: str) -> FileStat:
    loc = parse(uri)
    if not loc.is_remote:
        st = os.stat(loc.key)
        is_dir = os.path.isdir(loc.key)
        return FileStat(uri, 0 if is_dir else st.st_size, is_dir, st.st_mtime)
    if loc.key:
        fs = _fs(loc)
        with translated(loc):
            try:
                info = fs.info(loc.path)
            except FileNotFoundError:
                info = {}
        if info.get("type") == "file":
            # s3fs: LastModified; gcsfs: mtime (a datetime; "updated" is its RFC 3339 string)
            modified = info.get("LastModified") or info.get("mtime")
            mtime = modified.timestamp() if hasattr(modified, "timestamp") else None
            return FileStat(uri, int(info.get("size") or 0), False, mtime)
    if isdir(uri):
        return FileStat(uri, 0, True, None)
    raise _missing(uri)


@dataclass(frozen=True)
class TreeUsage:
    files: int
    bytes: int
    newest: float | None  # latest change of anything in the tree (epoch seconds); None if unknown


def usage(uri: str) -> TreeUsage:
    """Files, bytes and the latest change under a directory, in one listing on object stores.

    Why "change" and not mtime alone: locally a directory renamed into place keeps its old
    mtime (and a copy may preserve file mtimes), but its ctime moves; so the newest of
    mtime and ctime of every entry, the directory itself included, says how recently anyone
    touched the tree. On an object store an object's LastModified is its upload time.
    """
    loc = parse(uri)
    if not loc.is_remote:
        if not os.path.isdir(loc.key):
            raise _missing(uri)
        files, total, newest = 0, 0, 0.0
        for dirpath, _dirs, names in os.walk(loc.key):
            st = os.lstat(dirpath)
            newest = max(newest, st.st_mtime, st.st_ctime)
            for name in names:
                st = os.lstat(os.path.join(dirpath, name))
                files, total = files + 1, total + st.st_size
                newest = max(newest, st.st_mtime, st.st_ctime)
        return TreeUsage(files, total, newest)
    fs = _fs(loc)
    prefix = loc.path + "/"
    with translated(loc):
        try:
            found = fs.find(loc.path, detail=True)
        except FileNotFoundError:
            found = {}
    infos = [info for name, info in found.items()
             if info.get("type") == "file" and name.startswith(prefix) and not _is_marker(name)]
    if not infos:
        raise _missing(uri)
    stamps = [info.get("LastModified") or info.get("mtime") for info in infos]
    known = [s.timestamp() for s in stamps if hasattr(s, "timestamp")]
    newest_remote = max(known) if len(known) == len(stamps) else None
    return TreeUsage(len(infos), sum(int(i.get("size") or 0) for i in infos), newest_remote)


def size(uri: str) -> int:
    """Bytes of a file, or the total bytes of every file under a directory."""
    loc = parse(uri)
    if isfile(uri):
        return stat(uri).size
    if not loc.is_remote:
        if not os.path.isdir(loc.key):
            raise _missing(uri)
        return sum(os.path.getsize(os.path.join(d, n)) for d, _, names in os.walk(loc.key) for n in names)
    files = _remote_files(loc)
    if not files:
        raise _missing(uri)
    return sum(files.values())
