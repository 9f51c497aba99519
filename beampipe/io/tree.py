"""Copying, moving and deleting files and trees, in any direction between backends.

Atomicity, which publish must know about: a local ``rename`` within one filesystem is one
``rename(2)``, atomic. S3 and GCS have no rename: moving a file is a server-side copy and
then a delete, and moving a "directory" is that for every key, so a crash can leave the
destination partly written and the source still there. Code that needs all-or-nothing
must not rely on a remote rename: write to the final unique location and let the MLMD
record be the commit point. (A single remote object is all-or-nothing: it appears whole
when its writer closes it.)
"""
from __future__ import annotations

import errno
import os
import shutil

from beampipe.io.backends import translated
from beampipe.io.files import (_fs, _missing, _remote_files, _remote_has_files, _remote_isfile, exists, isdir,
                               isfile, open, walk)
from beampipe.io.uri import is_within, join, parse


class UnsafeDeleteError(ValueError):
    """rmtree was asked to delete something outside the root it was given."""


def _file_pairs(src: str, dst: str) -> list[tuple[str, str]]:
    """(source file, destination file) for a file or every file of a tree."""
    if isfile(src):
        return [(src, dst)]
    pairs = [(join(dirpath, name), join(dst, _relative_dir(src, dirpath), name))
             for dirpath, _, names in walk(src) for name in names]
    if not pairs and not isdir(src):
        raise _missing(src)
    return pairs


def _relative_dir(top: str, dirpath: str) -> str:
    a, b = parse(top), parse(dirpath)
    if not a.is_remote:
        rel = os.path.relpath(b.key, a.key)
        return "" if rel == "." else rel
    return b.key[len(a.key):].strip("/")


def copy(src: str, dst: str) -> None:
    """Copy a file to ``dst`` (the new file's own name), or a tree's files into ``dst``
    (merged with what is there), in any direction: local, s3://, gs://."""
    s, d = parse(src), parse(dst)
    if not s.is_remote and not d.is_remote:
        if os.path.isdir(s.key):
            shutil.copytree(s.key, d.key, dirs_exist_ok=True)
        elif os.path.exists(s.key):
            if os.path.dirname(d.key):
                os.makedirs(os.path.dirname(d.key), exist_ok=True)
            shutil.copyfile(s.key, d.key)
        else:
            raise _missing(src)
        return
    pairs = _file_pairs(src, dst)
    if not pairs:
        return
    if not s.is_remote:  # upload
        fs = _fs(d)
        with translated(d):
            fs.put([parse(a).key for a, _ in pairs], [parse(b).path for _, b in pairs])
    elif not d.is_remote:  # download
        for _, b in pairs:
            os.makedirs(os.path.dirname(parse(b).key) or ".", exist_ok=True)
        fs = _fs(s)
        with translated(s):
            fs.get([parse(a).path for a, _ in pairs], [parse(b).key for _, b in pairs])
    elif s.scheme == d.scheme:  # server-side copy, no bytes through this machine
        fs = _fs(s)
        with translated(s):
            fs.copy([parse(a).path for a, _ in pairs], [parse(b).path for _, b in pairs])
    else:  # s3 <-> gs: stream through this process
        for a, b in pairs:
            with open(a, "rb") as fin, open(b, "wb") as fout:
                for chunk in iter(lambda: fin.read(8 << 20), b""):
                    fout.write(chunk)


def rename_is_atomic(src: str, dst: str) -> bool:
    """Whether ``rename(src, dst)`` is one atomic step: both local, on one filesystem."""
    s, d = parse(src), parse(dst)
    if s.is_remote or d.is_remote:
        return False
    parent = os.path.dirname(os.path.abspath(d.key))
    while not os.path.exists(parent):
        parent = os.path.dirname(parent)
    return os.stat(s.key).st_dev == os.stat(parent).st_dev


def rename(src: str, dst: str) -> None:
    """Move a file or a tree to ``dst``, which must not exist (FileExistsError).

    Atomic only between local paths on one filesystem; otherwise copy then delete (see the
    module docstring), so a crash can leave both, and the destination partial.
    """
    s, d = parse(src), parse(dst)
    if exists(dst):
        raise FileExistsError(errno.EEXIST, os.strerror(errno.EEXIST), dst)
    if not s.is_remote and not d.is_remote:
        if os.path.dirname(d.key):
            os.makedirs(os.path.dirname(d.key), exist_ok=True)
        try:
            os.rename(s.key, d.key)
            return
        except OSError as e:
            if e.errno != errno.EXDEV:
                raise
    if s.is_remote and s.scheme == d.scheme and _remote_isfile(s):
        fs = _fs(s)
        with translated(s):
            fs.mv(s.path, d.path)
        return
    was_file = isfile(src)
    copy(src, dst)
    _delete(src, was_file)


def _delete(uri: str, is_file: bool) -> None:
    loc = parse(uri)
    if not loc.is_remote:
        (os.remove if is_file else shutil.rmtree)(loc.key)
        return
    fs = _fs(loc)
    paths = [loc.path] if is_file else [f"{loc.path}/{rel}" for rel in _remote_files(loc)]
    if paths:
        with translated(loc):
            fs.rm(paths)


def remove(uri: str) -> None:
    """Delete one file (FileNotFoundError if missing, IsADirectoryError for a directory)."""
    loc = parse(uri)
    if not loc.is_remote:
        os.remove(loc.key)
        return
    if not _remote_isfile(loc):
        if _remote_has_files(loc):
            raise IsADirectoryError(errno.EISDIR, os.strerror(errno.EISDIR), uri)
        raise _missing(uri)
    _delete(uri, True)


def rmtree(uri: str, *, root: str, missing_ok: bool = False) -> None:
    """Delete a directory and everything under it, but only strictly inside ``root``.

    The guard is the point: a cleanup that computed a wrong path (an empty node id, a
    stray '..', another bucket) must fail instead of deleting a user's data. ``root``
    itself is refused too. Local paths are compared after resolving symlinks.
    """
    if not is_within(uri, root, strictly=True):
        raise UnsafeDeleteError(f"refusing to delete {uri!r}: it is not inside {root!r}")
    loc = parse(uri)
    if not loc.is_remote:
        if os.path.isfile(loc.key) or os.path.islink(loc.key):
            raise NotADirectoryError(errno.ENOTDIR, os.strerror(errno.ENOTDIR), uri)
        if not os.path.exists(loc.key):
            if missing_ok:
                return
            raise _missing(uri)
        shutil.rmtree(loc.key)
        return
    if not _remote_files(loc):
        if _remote_isfile(loc):
            raise NotADirectoryError(errno.ENOTDIR, os.strerror(errno.ENOTDIR), uri)
        if missing_ok:
            return
        raise _missing(uri)
    _delete(uri, False)
