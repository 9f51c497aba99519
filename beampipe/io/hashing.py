"""Content fingerprints of a file or a directory tree, the same on every backend.

The cache trusts an earlier output only while its fingerprint is unchanged, and a
pipeline root may move between a local disk and an object store, so the fingerprint is
defined by content alone: sha256 over each file's path relative to the top (UTF-8, then a
NUL) and its bytes (then a NUL), in ``os.walk`` order with names sorted (a directory's
files, then its subdirectories one by one). A single file hashes as its bytes and a NUL.

This is the algorithm ``beampipe.orchestration.cache`` has always used for local
directories, moved here so that local and remote trees share one implementation: the
same tree gives the same digest on disk, on S3 and on GCS. Empty directories contribute
nothing (object stores cannot hold them), so a missing or empty location hashes as
``sha256(b"")``.
"""
from __future__ import annotations

import builtins
import hashlib
import os
from collections.abc import Iterable, Iterator
from typing import Any

from beampipe.io.backends import filesystem, translated
from beampipe.io.files import _walk, isfile, open as _open
from beampipe.io.uri import join, parse

CHUNK = 1 << 20
# Remote files up to this size are fetched several at a time (one request each, in
# parallel), which matters for trees of many small files; larger ones are streamed.
_SMALL = 8 << 20
_BATCH_BYTES = 64 << 20
_BATCH_FILES = 32


def hash_file_into(digest: Any, uri: str) -> None:
    """Feed one file's bytes and the terminating NUL into ``digest``."""
    _feed(digest, _chunks(uri))


def _feed(digest: Any, chunks: Iterable[bytes]) -> None:
    for chunk in chunks:
        digest.update(chunk)
    digest.update(b"\0")


def _local_chunks(path: str) -> Iterator[bytes]:
    with builtins.open(path, "rb") as f:
        yield from iter(lambda: f.read(CHUNK), b"")


def _chunks(uri: str) -> Iterator[bytes]:
    with _open(uri, "rb") as f:
        yield from iter(lambda: f.read(CHUNK), b"")


def fingerprint(uri: str) -> str:
    """sha256 hex digest of a file, or of every file under a directory or prefix."""
    digest = hashlib.sha256()
    if isfile(uri):
        hash_file_into(digest, uri)
        return digest.hexdigest()
    loc = parse(uri)
    top = loc.key.rstrip("/") if loc.is_remote else None
    for dirpath, _dirs, names, sizes in _walk(uri):
        if sizes is None:  # local
            for name in names:
                full = os.path.join(dirpath, name)
                digest.update(os.path.relpath(full, loc.key).encode() + b"\0")
                _feed(digest, _local_chunks(full))
            continue
        rel_dir = parse(dirpath).key[len(top):].strip("/") if top else parse(dirpath).key
        rel_dir = rel_dir + "/" if rel_dir else ""
        for name, content in _remote_contents(dirpath, names, sizes):
            digest.update((rel_dir + name).encode() + b"\0")
            _feed(digest, content)
    return digest.hexdigest()


def _remote_contents(dirpath: str, names: list[str],
                     sizes: dict[str, int]) -> Iterator[tuple[str, Iterable[bytes]]]:
    """(name, chunks) in order; small files fetched concurrently in batches."""
    loc = parse(dirpath)
    fs = filesystem(loc)
    i = 0
    while i < len(names):
        if sizes[names[i]] > _SMALL:
            yield names[i], _chunks(join(dirpath, names[i]))
            i += 1
            continue
        batch, total = [], 0
        while (i < len(names) and sizes[names[i]] <= _SMALL and len(batch) < _BATCH_FILES
               and total + sizes[names[i]] <= _BATCH_BYTES):
            batch.append(names[i])
            total += sizes[names[i]]
            i += 1
        paths = [parse(join(dirpath, n)).path for n in batch]
        with translated(loc):
            fetched = fs.cat(paths) if len(paths) > 1 else {paths[0]: fs.cat_file(paths[0])}
        for name, path in zip(batch, paths):
            yield name, (fetched[path],)
