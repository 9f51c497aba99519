"""The one storage layer: local paths, ``s3://`` (AWS and S3-compatible servers) and ``gs://``.

Every read, write, list, copy, delete and fingerprint of the pipeline root goes through
these functions, so that a root can be a local directory or an object store with the
same semantics (see ``files`` for where they differ, ``docs/storage.md`` for the choice
of library and which ML libraries open which URIs). Settings come from the environment
(``AWS_ENDPOINT_URL``, ``AWS_ACCESS_KEY_ID``, ``AWS_SECRET_ACCESS_KEY``, ``AWS_REGION``;
``GOOGLE_APPLICATION_CREDENTIALS``), never from compiled files.

This package imports no third-party library at import time: fsspec, s3fs and gcsfs load
on first remote use, so local runs and the CLI start as fast as before.
"""
from __future__ import annotations

from beampipe.io.backends import BackendUnavailable, StorageAuthError, StorageConnectionError, StorageError
from beampipe.io.files import (FileStat, TreeUsage, exists, glob, isdir, isfile, listdir, makedirs, open,
                               read_bytes, read_text, size, stat, usage, walk, write_bytes, write_text)
from beampipe.io.hashing import fingerprint, hash_file_into
from beampipe.io.tree import UnsafeDeleteError, copy, remove, rename, rename_is_atomic, rmtree
from beampipe.io.scratch import local_output, localize, upload_dir
from beampipe.io.settings import S3Settings, beam_s3_options, redact, with_beam_s3_options
from beampipe.io.uri import Location, basename, dirname, is_remote, is_within, join, normalize, parse, relative
from beampipe.io import code  # noqa: E402 - after files and uri, which it uses
from beampipe.io import fileio  # noqa: E402 - TFX's tfx.dsl.io.fileio, over files and tree

__all__ = [
    "BackendUnavailable", "FileStat", "Location", "S3Settings", "StorageAuthError", "StorageConnectionError",
    "StorageError", "TreeUsage", "UnsafeDeleteError", "basename", "beam_s3_options", "code", "copy", "dirname",
    "exists", "fileio", "fingerprint", "glob", "hash_file_into", "is_remote", "is_within", "isdir", "isfile", "join",
    "listdir",
    "local_output", "localize", "makedirs", "normalize", "open", "parse", "read_bytes", "read_text", "redact",
    "relative", "remove", "rename", "rename_is_atomic", "rmtree", "size", "stat", "upload_dir", "usage", "walk",
    "with_beam_s3_options", "write_bytes", "write_text",
]

from beampipe.metadata import value_artifacts as _value_artifacts  # noqa: E402

_value_artifacts.use_storage(open)  # value artifacts read and write s3:// and gs:// through this layer
