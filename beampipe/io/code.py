"""Code that travels with a pipeline: content-addressed bundles under ``<root>/_code/<sha256>/``.

A Kubeflow pod or a remote Airflow worker has none of the compile machine's files. So at
compile (and at ``run`` with an object-store root) each user module file, with the Python
files beside it (the helpers it may import), is uploaded as one *bundle* to
``<pipeline_root>/_code/<digest>/``, where the digest is the sha256 of the bundle's file
names and contents. The compiled pipeline names ``<root>/_code/<digest>/<file>.py``; a task
fetches the bundle by that name into a private temporary directory and checks every byte
against the digest before importing anything from it.

Content addressing makes the upload idempotent (two compiles of the same code write the same
files), keeps old runs reproducible (editing the module file makes a new bundle, never
changes an old one) and gives the cache a key that does not depend on where the code sits.
A bundle is complete only once its ``MANIFEST.json`` exists: it is written last.
"""
from __future__ import annotations

import atexit
import hashlib
import json
import os
import re
import shutil
import tempfile
import threading
from dataclasses import dataclass

from beampipe.io import files, uri as uri_mod

CODE_DIR = "_code"
MANIFEST = "MANIFEST.json"
MAX_FILES = 500
MAX_BYTES = 50 * 1024 * 1024
_SHIPPED = re.compile(r"^(?P<bundle>.*/" + CODE_DIR + r"/(?P<digest>[0-9a-f]{64}))/(?P<name>[^/]+)$")


class CodeError(ValueError):
    """Shipped code is missing, damaged or too big; the message names the file and the fix."""


@dataclass(frozen=True)
class Bundle:
    """A local folder's Python files: the ``.py`` files in it and in the packages under it."""

    folder: str
    names: tuple[str, ...]  # relative paths, '/'-separated, sorted
    hashes: tuple[str, ...]  # sha256 of each file, same order

    @property
    def digest(self) -> str:
        digest = hashlib.sha256()
        for name, sha in zip(self.names, self.hashes):
            digest.update(f"{name}\0{sha}\n".encode())
        return digest.hexdigest()

    def manifest(self) -> str:
        return json.dumps({"digest": self.digest, "files": dict(zip(self.names, self.hashes))},
                          indent=1, sort_keys=True)


def bundle_of(path: str) -> Bundle:
    """The bundle a local module file brings: its folder's ``.py`` files and the packages
    (folders with ``__init__.py``) beside it, recursively."""
    path = os.path.abspath(path)
    if not os.path.isfile(path):
        raise CodeError(f"module file {path} does not exist")
    folder = os.path.dirname(path)
    names: list[str] = []
    total = 0
    for here, dirs, filenames in os.walk(folder):
        rel_dir = os.path.relpath(here, folder)
        dirs[:] = sorted(d for d in dirs if not d.startswith((".", "__pycache__"))
                         and os.path.isfile(os.path.join(here, d, "__init__.py")))
        for name in sorted(filenames):
            if not name.endswith(".py"):
                continue
            full = os.path.join(here, name)
            names.append(name if rel_dir == "." else f"{rel_dir.replace(os.sep, '/')}/{name}")
            total += os.path.getsize(full)
        if len(names) > MAX_FILES or total > MAX_BYTES:
            raise CodeError(f"module file {path}: its folder holds more than {MAX_FILES} Python files or "
                            f"{MAX_BYTES // 2**20} MB of them, and they all ship with it; put the module "
                            "file (and the helpers it imports) in a folder of its own")
    names.sort()
    hashes = tuple(_sha256_file(os.path.join(folder, *n.split("/"))) for n in names)
    return Bundle(folder, tuple(names), hashes)


def bundle_digest(path: str) -> str:
    """The digest of the code a module file brings, wherever it is: a local file, a shipped
    ``_code`` URI (the digest is its name), or any other remote file (fetched)."""
    match = _SHIPPED.match(path)
    if match:
        return match["digest"]
    return bundle_of(local_copy(path)).digest


def ship(path: str, root: str) -> str:
    """Upload the bundle of a local module file under ``root`` (unless it is there already);
    return the file's shipped URI ``<root>/_code/<digest>/<name>``."""
    bundle = bundle_of(path)
    target = uri_mod.join(root, CODE_DIR, bundle.digest)
    manifest_uri = uri_mod.join(target, MANIFEST)
    if not _complete(manifest_uri, bundle.digest):
        files.makedirs(target)
        for name in bundle.names:
            with open(os.path.join(bundle.folder, *name.split("/")), "rb") as f:
                files.write_bytes(uri_mod.join(target, name), f.read())
        files.write_text(manifest_uri, bundle.manifest())  # last: the bundle is complete
    return uri_mod.join(target, os.path.basename(path))


def is_shipped(path: str) -> bool:
    return bool(_SHIPPED.match(path))


def local_copy(path: str) -> str:
    """A local path to import a module file from.

    Local files are returned as they are. A shipped URI is fetched whole (once per process)
    and checked against its digest; any other remote file is fetched with the ``.py`` files
    beside it. Fetched copies live in a private temporary directory removed at exit."""
    if not uri_mod.is_remote(path):
        match = _SHIPPED.match(path)
        if match:  # a local root: check it is whole, use it in place
            _check_local_bundle(match["bundle"], match["digest"])
        return path
    return _fetcher.fetch(path)


def _complete(manifest_uri: str, digest: str) -> bool:
    try:
        return json.loads(files.read_text(manifest_uri)).get("digest") == digest
    except (FileNotFoundError, ValueError):
        return False


def _check_local_bundle(folder: str, digest: str) -> None:
    manifest = _read_manifest(os.path.join(folder, MANIFEST), folder)
    for name, sha in manifest.items():
        if _sha256_file(os.path.join(folder, *name.split("/"))) != sha:
            raise CodeError(f"shipped code {folder}/{name} does not match its digest: it was changed after "
                            "upload; recompile the pipeline to ship the code again")
    _check_digest(manifest, digest, folder)


def _read_manifest(manifest_uri: str, bundle: str) -> dict[str, str]:
    try:
        doc = json.loads(files.read_text(manifest_uri))
    except FileNotFoundError:
        raise CodeError(f"shipped code {bundle} is missing or incomplete (no {MANIFEST}): was the pipeline "
                        f"root's {CODE_DIR}/ deleted? recompile the pipeline to upload it again") from None
    except ValueError as err:
        raise CodeError(f"shipped code {bundle}: {MANIFEST} is not JSON ({err})") from None
    return dict(doc.get("files") or {})


def _check_digest(manifest: dict[str, str], digest: str, bundle: str) -> None:
    names = tuple(sorted(manifest))
    if Bundle("", names, tuple(manifest[n] for n in names)).digest != digest:
        raise CodeError(f"shipped code {bundle}: its files do not add up to the digest in its name")


class _Fetcher:
    """Fetched bundles, one private directory per process (removed at exit)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._dir: str | None = None
        self._done: dict[str, str] = {}  # bundle URI -> local folder

    def fetch(self, path: str) -> str:
        match = _SHIPPED.match(path)
        bundle, name = (match["bundle"], match["name"]) if match else (uri_mod.dirname(path), uri_mod.basename(path))
        with self._lock:
            local = self._done.get(bundle)
            if local is None:
                local = self._download(bundle, match["digest"] if match else None)
                self._done[bundle] = local
        full = os.path.join(local, name)
        if not os.path.isfile(full):
            raise CodeError(f"module file {path} does not exist")
        return full

    def discard(self) -> None:
        with self._lock:
            if self._dir is not None:
                shutil.rmtree(self._dir, ignore_errors=True)
            self._dir, self._done = None, {}

    def _download(self, bundle: str, digest: str | None) -> str:
        if self._dir is None:
            self._dir = tempfile.mkdtemp(prefix="beampipe-code-")
            atexit.register(shutil.rmtree, self._dir, True)
        local = tempfile.mkdtemp(dir=self._dir)
        if digest is None:  # a module file somewhere remote: it and the .py files beside it
            for name in files.listdir(bundle):
                if name.endswith(".py"):
                    with open(os.path.join(local, name), "wb") as f:
                        f.write(files.read_bytes(uri_mod.join(bundle, name)))
            return local
        manifest = _read_manifest(uri_mod.join(bundle, MANIFEST), bundle)
        _check_digest(manifest, digest, bundle)
        for name, sha in sorted(manifest.items()):
            data = files.read_bytes(uri_mod.join(bundle, name))
            if hashlib.sha256(data).hexdigest() != sha:
                raise CodeError(f"shipped code {bundle}/{name} does not match its digest: it was changed "
                                "after upload; recompile the pipeline to ship the code again")
            target = os.path.join(local, *name.split("/"))
            os.makedirs(os.path.dirname(target), exist_ok=True)
            with open(target, "wb") as f:
                f.write(data)
        return local


_fetcher = _Fetcher()


def discard_fetched() -> None:
    """Remove this process's fetched bundles now: for exits that skip ``atexit`` (the CLI
    leaves with ``os._exit`` once TensorFlow is loaded)."""
    _fetcher.discard()


def _sha256_file(path: str) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()
