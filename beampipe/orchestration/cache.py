"""Cache keys and content fingerprints.

A node is skipped when an earlier COMPLETE execution has the same key and its
outputs still hold the content fingerprints recorded when they were published. The key covers everything that can change the outputs:
the component and its code, the execution properties, the content of the input
artifacts, the user's module file and the files beside it, and the versions of
the libraries that produce the data.
"""
from __future__ import annotations

import hashlib
import inspect
import json
import os
import sys
from functools import lru_cache
from typing import Any

from beampipe import io
from beampipe.metadata.artifacts import Artifact

DATA_LIBRARIES = ("tensorflow", "tensorflow-transform", "tensorflow-data-validation",
                  "tensorflow-model-analysis", "tfx-bsl", "apache-beam", "beampipe")
MODULE_FILE_KEYS = ("module_file",)


def fingerprint_dir(path: str) -> str:
    """sha256 over every file's relative path and content (a file or a directory).

    The algorithm lives in the storage layer (one implementation for local paths, s3://
    and gs://, so a tree has the same fingerprint wherever it is stored)."""
    return io.fingerprint(path)


_hash_file = io.hash_file_into


@lru_cache(maxsize=None)
def library_versions() -> dict[str, str]:
    """Installed versions of the libraries that produce the data (part of every cache key).
    Read from the ``*.dist-info`` folder names, as importlib.metadata finds them (first on
    sys.path wins), without parsing each METADATA file: every task of a compiled pipeline pays
    this, and the parse was a fifth of a cached task's own work. Others: importlib.metadata."""
    found = _dist_info_versions(tuple(sys.path))
    versions = {}
    for name in DATA_LIBRARIES:
        version = found.get(_normalized(name))
        if version is None:
            import importlib.metadata  # its import and the METADATA parse cost a task ~0.1 s

            try:
                version = importlib.metadata.version(name)
            except importlib.metadata.PackageNotFoundError:
                version = "absent"
        versions[name] = version
    return versions


def _normalized(name: str) -> str:
    return name.lower().replace("-", "_").replace(".", "_")


def _dist_info_versions(path: tuple[str, ...]) -> dict[str, str]:
    versions: dict[str, str] = {}
    for entry in path:
        try:
            names = os.listdir(entry or ".")
        except OSError:
            continue
        for folder in names:
            if folder.endswith(".dist-info") and "-" in folder:
                dist, version = folder[:-len(".dist-info")].split("-", 1)
                versions.setdefault(_normalized(dist), version)
    return versions


@lru_cache(maxsize=None)
def code_version(cls: type) -> str:
    """The source of every beampipe module (executors share helpers across the package:
    fn_args, proto, transforms), plus the file that defines a user's own component."""
    import beampipe

    version = _python_sources(os.path.dirname(os.path.abspath(beampipe.__file__)))
    if cls.__module__.startswith("beampipe."):
        return version
    try:
        path = inspect.getsourcefile(cls)
    except (TypeError, OSError):  # built in a REPL or `python -c`: no file to hash
        path = None
    if not path or not os.path.exists(path):
        return version + ":" + getattr(cls, "__qualname__", "?")
    return version + ":" + fingerprint_dir(path)


@lru_cache(maxsize=None)
def _python_sources(folder: str) -> str:
    digest = hashlib.sha256()
    for root, dirs, files in os.walk(folder):
        dirs[:] = sorted(d for d in dirs if d != "__pycache__")
        for name in sorted(f for f in files if f.endswith(".py")):
            full = os.path.join(root, name)
            digest.update(os.path.relpath(full, folder).encode() + b"\0")
            _hash_file(digest, full)
    return digest.hexdigest()


def module_file_fingerprint(path: str) -> str:
    """The code a module file brings (it and the Python files beside it, ``io.code``): the same
    digest for the user's local file and for its shipped copy under ``<root>/_code/``."""
    try:
        return io.code.bundle_digest(path)
    except (io.code.CodeError, OSError):
        return f"missing:{path}"


def cache_key(component_cls: type, exec_properties: dict[str, Any],
              inputs: dict[str, list[Artifact]]) -> str:
    """The cache key of one node execution."""
    modules = {k: module_file_fingerprint(exec_properties[k])
               for k in MODULE_FILE_KEYS if isinstance(exec_properties.get(k), str)}
    material = {
        "component": f"{component_cls.__module__}.{component_cls.__qualname__}",
        "code": code_version(component_cls),
        "exec_properties": exec_properties,
        "inputs": {k: [a.custom_properties.get("fingerprint") or a.uri for a in arts]
                   for k, arts in sorted(inputs.items())},
        "modules": modules,
        "libraries": library_versions(),
    }
    hook = getattr(component_cls, "cache_material", None)  # e.g. ExampleGen: input file contents
    if callable(hook):
        material["extra"] = hook(exec_properties)
    return hashlib.sha256(json.dumps(material, sort_keys=True, default=str).encode()).hexdigest()
