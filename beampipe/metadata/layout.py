"""Path rules shared by several artifact types, and the one way to build a path in an artifact.

Why a module of its own: the names here (``Split-<name>``, ``report.html``) belong to no
single artifact type, and every path inside an artifact is built by ``join`` so that the
storage layer (local paths today; ``s3://`` and ``gs://`` roots) has one place to meet.
The names themselves are TFX's: TFX tools read what beampipe writes, so they never change.
What is specific to one type (``FeatureStats.pb``, ``Format-Serving``, blessing markers)
lives on its class in ``beampipe.metadata.artifacts``.
"""
from __future__ import annotations

from typing import Iterable

SPLIT_PREFIX = "Split-"
"""One directory per split inside Examples, ExampleStatistics and ExampleAnomalies."""

REPORT_FILE = "report.html"
"""The browser-readable report beside statistics, anomalies (per split) and evaluations."""

SAVED_MODEL_FILE = "saved_model.pb"
"""A SavedModel directory holds this file; written last, so its presence means complete."""

ALL_FILES = "*"
"""Every file of a directory, as TFX's ``io_utils.all_files_pattern`` spells it."""


def join(base: str, *parts: str) -> str:
    """``base/part/...`` for a local path or a URI (``s3://bucket/x`` stays ``s3://bucket/x/...``).

    Not ``os.path.join``: that is the host's rule (and would read a part that starts with
    ``/`` as a new root); not ``posixpath.normpath`` either, which turns ``s3://`` into
    ``s3:/``. The parts are names inside an artifact, so an absolute part, a scheme or a
    ``..`` is a bug and raises.
    """
    path = base
    for part in parts:
        if not part:
            continue
        if part.startswith("/") or "://" in part or ".." in part.split("/"):
            raise ValueError(f"layout.join: {part!r} is not a relative name inside {base!r}")
        path = f"{path.rstrip('/')}/{part}" if path else part
    return path


def split_dir_name(split: str) -> str:
    """``Split-<split>``; the split name becomes one directory, so it must be one segment."""
    if not split or "/" in split or split in (".", ".."):
        raise ValueError(f"split name {split!r} cannot be a directory name (no '/', not empty)")
    return f"{SPLIT_PREFIX}{split}"


def split_uri(uri: str, split: str) -> str:
    """The directory of one split inside an artifact: ``<uri>/Split-<split>``."""
    return join(uri, split_dir_name(split))


def split_of(dir_name: str) -> str | None:
    """The split a directory name stands for (``Split-train`` -> ``train``), else None."""
    if not dir_name.startswith(SPLIT_PREFIX):
        return None
    return dir_name[len(SPLIT_PREFIX):] or None


def splits_in(dir_names: Iterable[str]) -> list[str]:
    """The splits among an artifact directory's entries, sorted (for listing what is there)."""
    return sorted(s for s in (split_of(n) for n in dir_names) if s)


def report_file(uri: str, split: str | None = None) -> str:
    """``<uri>/report.html``, or ``<uri>/Split-<split>/report.html`` for a per-split report."""
    return join(split_uri(uri, split) if split is not None else uri, REPORT_FILE)


def all_files(directory: str) -> str:
    """The glob of every file in a directory (TFX's train/eval file patterns)."""
    return join(directory, ALL_FILES)
