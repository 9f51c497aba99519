"""TFX's ``tfx.dsl.io.fileio`` on beampipe's storage layer, for module files and custom components.

TFX module files call ``fileio.open``, ``fileio.exists``, ``fileio.copy(src, dst, overwrite=...)``
and friends, with TFX's signatures and errors; here every one of them works on local paths,
``s3://`` and ``gs://`` alike (TFX goes through ``tf.io.gfile``, which has no ``s3://`` in
TF 2.16). Differences from TFX, all from the object stores' model (``beampipe.io.files``):

- An object store has no empty directories: ``makedirs``/``mkdir`` do nothing there, and a
  "directory" exists (``exists``/``isdir``) once it holds a file.
- ``listdir`` and ``glob`` return sorted lists; paths come back as ``str`` (bytes are accepted).
- ``stat`` returns :class:`StatResult` with TF's field names (``length``, ``mtime_nsec``,
  ``is_directory``) and ``os.stat``'s (``st_size``, ``st_mtime``).
- ``rmtree`` refuses a bucket or filesystem root.

A missing path raises :class:`NotFoundError`, which is both TFX's ``IOError`` subclass and
a ``FileNotFoundError`` (so ``except FileNotFoundError`` keeps working).
"""
from __future__ import annotations

import contextlib
import errno
import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import IO, Any, Union

from beampipe.io import files, tree, uri as _uri

PathType = Union[bytes, str]
"""What every function accepts (TFX's alias); ``os.PathLike`` works too."""


class NotFoundError(FileNotFoundError):
    """A path that does not exist (TFX: ``fileio.NotFoundError``, an ``IOError``)."""


@dataclass(frozen=True)
class StatResult:
    """What ``stat`` returns: TF's ``FileStatistics`` fields, plus ``os.stat``'s names."""

    length: int
    mtime_nsec: int
    is_directory: bool

    @property
    def st_size(self) -> int:
        return self.length

    @property
    def st_mtime(self) -> float:
        return self.mtime_nsec / 1e9


def _path(path: PathType | os.PathLike[Any]) -> str:
    path = os.fspath(path)
    return path.decode("utf-8") if isinstance(path, bytes) else path


@contextlib.contextmanager
def _not_found(path: str) -> Iterator[None]:
    """FileNotFoundError from the storage layer becomes TFX's NotFoundError."""
    try:
        yield
    except NotFoundError:
        raise
    except FileNotFoundError as e:
        raise NotFoundError(errno.ENOENT, os.strerror(errno.ENOENT), e.filename or path) from e


def _missing(path: str) -> NotFoundError:
    return NotFoundError(errno.ENOENT, os.strerror(errno.ENOENT), path)


def _exists_error(path: str) -> OSError:
    return FileExistsError(errno.EEXIST, f"{path!r} already exists and argument `overwrite` is false", path)


def open(path: PathType, mode: str = "r") -> IO[Any]:  # noqa: A001 - TFX's name
    """Open a file; text modes are UTF-8. Modes: r, rb, w, wb (a, ab locally)."""
    p = _path(path)
    with _not_found(p):
        return files.open(p, mode)


def exists(path: PathType) -> bool:
    return files.exists(_path(path))


def isdir(path: PathType) -> bool:
    return files.isdir(_path(path))


def glob(pattern: PathType) -> list[str]:
    """Sorted paths matching ``*``, ``?``, ``[..]`` (and ``**`` for any depth)."""
    return files.glob(_path(pattern))


def listdir(path: PathType) -> list[str]:
    """Sorted names inside a directory; NotFoundError when it is missing."""
    p = _path(path)
    with _not_found(p):
        return files.listdir(p)


def makedirs(path: PathType) -> None:
    """Create a directory and its parents; existing is fine (a no-op on object stores)."""
    files.makedirs(_path(path))


def mkdir(path: PathType) -> None:
    """Create one directory whose parent exists (a no-op on object stores, which have no
    empty directories to check). FileExistsError if it is already there."""
    p = _path(path)
    if _uri.is_remote(p):
        return
    with _not_found(p):
        os.mkdir(_uri.parse(p).key)


def copy(src: PathType, dst: PathType, overwrite: bool = False) -> None:
    """Copy one file to ``dst`` (a file path), across backends too.

    Refuses (FileExistsError, an OSError as in TFX) when ``dst`` exists and ``overwrite``
    is false; NotFoundError when ``src`` is missing; IsADirectoryError for a directory.
    """
    s, d = _path(src), _path(dst)
    if not files.isfile(s):
        if files.isdir(s):
            raise IsADirectoryError(errno.EISDIR, "fileio.copy copies files, not directories", s)
        raise _missing(s)
    if not overwrite and files.exists(d):
        raise _exists_error(d)
    with _not_found(s):
        tree.copy(s, d)


def rename(src: PathType, dst: PathType, overwrite: bool = False) -> None:
    """Move a file or directory; atomic only between local paths on one filesystem.

    With ``overwrite`` an existing destination file is replaced (a directory is replaced
    only when empty, as ``os.rename`` does); without it, FileExistsError.
    """
    s, d = _path(src), _path(dst)
    if not files.exists(s):
        raise _missing(s)
    if files.exists(d):
        if not overwrite:
            raise _exists_error(d)
        if not _uri.is_remote(s) and not _uri.is_remote(d):
            os.replace(_uri.parse(s).key, _uri.parse(d).key)  # one rename(2), as TFX's
            return
        if files.isfile(d):
            tree.remove(d)
        else:
            raise OSError(errno.ENOTEMPTY, "cannot overwrite a non-empty directory", d)
    with _not_found(s):
        tree.rename(s, d)


def remove(path: PathType) -> None:
    """Delete one file; NotFoundError when it is missing."""
    p = _path(path)
    with _not_found(p):
        tree.remove(p)


def rmtree(path: PathType) -> None:
    """Delete a directory and everything under it; NotFoundError when it is missing.

    Unlike ``beampipe.io.rmtree`` there is no pipeline root to stay inside, so the only
    guard is that a bucket or filesystem root is refused.
    """
    p = _path(path)
    p = _uri.normalize(p) if _uri.is_remote(p) else os.path.abspath(p)
    parent = _uri.dirname(p)
    if not parent or not _uri.is_within(p, parent, strictly=True):
        raise ValueError(f"fileio.rmtree refuses to delete the root {p!r}")
    with _not_found(p):
        tree.rmtree(p, root=parent)


def stat(path: PathType) -> StatResult:
    """Size, modification time and kind; NotFoundError when missing."""
    p = _path(path)
    with _not_found(p):
        st = files.stat(p)
    return StatResult(st.size, int((st.mtime or 0) * 1e9), st.is_dir)


def walk(top: PathType, topdown: bool = True,
         onerror: Callable[[OSError], None] | None = None) -> Iterator[tuple[str, list[str], list[str]]]:
    """Like ``os.walk``, names sorted; a missing ``top`` yields nothing (``onerror`` gets
    the NotFoundError). Bottom-up with ``topdown=False``."""
    p = _path(top)
    if not files.isdir(p):
        if onerror is not None:
            onerror(_missing(p))
        return
    if topdown:
        yield from files.walk(p)
        return
    entries = list(files.walk(p))
    by_dir = {dirpath: (dirs, names) for dirpath, dirs, names in entries}

    def bottom_up(dirpath: str) -> Iterator[tuple[str, list[str], list[str]]]:
        dirs, names = by_dir[dirpath]
        for name in dirs:
            child = _uri.join(dirpath, name)
            if child in by_dir:
                yield from bottom_up(child)
        yield dirpath, dirs, names

    yield from bottom_up(entries[0][0])


__all__ = ["NotFoundError", "PathType", "StatResult", "copy", "exists", "glob", "isdir", "listdir", "makedirs",
           "mkdir", "open", "remove", "rename", "rmtree", "stat", "walk"]
