"""Local copies for libraries that cannot open a remote URI.

TensorFlow without tensorflow-io has no s3:// filesystem, and some code (SavedModel
loading in a subprocess, keras-tuner, pyarrow's CSV reader on a path) wants a real
directory. Such a step reads through :func:`localize` (download to a scratch directory,
removed afterwards) and writes through :func:`local_output` (a scratch directory that is
uploaded only when the step succeeds), so nothing of the pipeline root is left on local
disk and nothing partial reaches the object store. For local URIs both hand back the
path itself: no copy.
"""
from __future__ import annotations

import contextlib
import errno
import os
import shutil
import tempfile
from collections.abc import Iterator

from beampipe.io.tree import copy
from beampipe.io.uri import basename, parse

SCRATCH_PREFIX = "beampipe-scratch-"


@contextlib.contextmanager
def localize(uri: str, *, scratch_dir: str | None = None) -> Iterator[str]:
    """A local path holding the content of ``uri`` (a file or a tree) for the ``with`` block.

    Remote content is downloaded into a fresh directory under ``scratch_dir`` (default:
    the system temp dir, i.e. ``$TMPDIR``), keeping its base name, and removed at exit.
    A local ``uri`` is yielded as it is: read it, do not change it.
    """
    loc = parse(uri)
    if not loc.is_remote:
        if not os.path.exists(loc.key):
            raise FileNotFoundError(errno.ENOENT, os.strerror(errno.ENOENT), uri)
        yield loc.key
        return
    scratch = tempfile.mkdtemp(prefix=SCRATCH_PREFIX, dir=scratch_dir)
    try:
        local = os.path.join(scratch, basename(uri) or loc.bucket)
        copy(uri, local)
        yield local
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


def upload_dir(local: str, uri: str) -> None:
    """Copy the files of a local directory into ``uri`` (merged with what is there).
    Empty subdirectories are not carried to an object store (it cannot hold them)."""
    if not os.path.isdir(local):
        raise NotADirectoryError(errno.ENOTDIR, f"{os.strerror(errno.ENOTDIR)} (upload_dir needs one)",
                                 local)
    copy(local, uri)


@contextlib.contextmanager
def local_output(uri: str, *, scratch_dir: str | None = None) -> Iterator[str]:
    """A local directory to write ``uri``'s content into; uploaded when the block succeeds.

    If the block raises, nothing is uploaded and the scratch directory is removed. For a
    local ``uri`` the directory itself is yielded (created if needed) and written in place.
    """
    loc = parse(uri)
    if not loc.is_remote:
        os.makedirs(loc.key, exist_ok=True)
        yield loc.key
        return
    scratch = tempfile.mkdtemp(prefix=SCRATCH_PREFIX, dir=scratch_dir)
    try:
        yield scratch
        upload_dir(scratch, uri)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)

