"""``beampipe gc``: find, and on request delete, output prefixes that no artifact records.

Publish commits in MLMD: an output directory ``<root>/<node>/<key>/<exec id>-<token>[-i]``
counts only once an artifact names it. A process killed between writing (or uploading) an
output and that commit leaves a prefix nobody records; the next run of the node deletes
its own dead attempts, but a node that never runs again, a deleted store or a half-failed
cleanup leave debris. gc finds it from the other side: every attempt prefix under the root
that no artifact of the given stores records, in any state.

What gc will touch, and why each rule is there:
- only ``<root>/<node>/<key>/<attempt>`` where the node ran on this root according to the
  stores, the key is one of its recorded output keys and the attempt has the launcher's
  name: ``_code/``, the metadata file, ``.beampipe/``, push destinations and anything a
  person put there are never candidates;
- not the attempts of RUNNING executions whose owner lives (``metadata.owner``);
- not a prefix changed within ``min_age``: a node between upload and commit is never
  touched, even one gc cannot see (a store it was not given);
- orphan staging of a local root: ``.beampipe/staging/<attempt>@<owner>`` whose owner is a
  dead process of this host (the rule ``recovery`` applies);
- and nothing at all while a store registered on the root (``root_stores``) was not given.
Deletion re-reads the stores first, so a node that committed meanwhile is not touched.
"""
from __future__ import annotations

import json
import os
import re
import time
from dataclasses import dataclass, field
from typing import Any, Iterable

from beampipe import io
from beampipe.metadata.ids import is_path_id
from beampipe.metadata.owner import is_local, owner_alive
from beampipe.metadata.store import MetadataStore
from beampipe.orchestration.root_stores import registered_stores, store_id, store_identity
from beampipe.orchestration.staging import remove_inside, staging_owner

ATTEMPT = re.compile(r"(\d+)-([0-9a-f]{8})(?:-\d+)?")
"""The launcher's output directory name: ``<execution id>-<token>``, ``-<index>`` for the
second and later artifacts of one key (``staging.Attempt.final_output``)."""

NEVER = frozenset({"_code", ".beampipe", "metadata.sqlite", "serving_model"})
"""Top-level names gc never descends into, whatever a store says: shipped code, the
store, beampipe's own state, the conventional push destination."""

DEFAULT_MIN_AGE = 3600.0


class GcRefused(Exception):
    """Deletion refused: the message says why and how to proceed."""


@dataclass(frozen=True)
class Debris:
    uri: str
    kind: str  # "output" (an unrecorded attempt prefix) or "staging" (a dead owner's staging)
    files: int
    bytes: int
    age: float | None  # seconds since anything in it changed; None when unknown


@dataclass
class Report:
    root: str
    given: dict[str, str]  # store id -> identity, of the stores gc was given
    registered: dict[str, str]  # store id -> identity, registered on the root
    debris: list[Debris] = field(default_factory=list)
    young: list[Debris] = field(default_factory=list)  # unrecorded, but changed within min_age
    running: list[str] = field(default_factory=list)  # prefixes of live RUNNING executions

    @property
    def total_bytes(self) -> int:
        return sum(d.bytes for d in self.debris)

    @property
    def unknown_stores(self) -> list[str]:
        """Identities of registered stores gc was not given."""
        return sorted(v for k, v in self.registered.items() if k not in self.given)

    def refusal(self) -> str | None:
        """Why deleting would be unsafe, as one user-ready sentence; None when it is safe."""
        given = ", ".join(sorted(self.given.values()))
        if not self.registered:
            return (f"{self.root} names no metadata store in .beampipe/stores (it was written before stores "
                    "registered themselves), so gc cannot tell whether another store's outputs are here; if "
                    f"{given} is the only store that ever ran on this root, add --force")
        unknown = self.unknown_stores
        if unknown:
            flags = " ".join(f"--metadata-uri {u}" for u in unknown)
            return (f"{self.root} is also written by {len(unknown)} store(s) gc was not given: "
                    f"{', '.join(unknown)}; what only they record would be deleted. Give every store "
                    f"({flags}, with passwords), or add --force if they are gone for good")
        return None


def normalize_root(root: str) -> str:
    """One spelling per location: realpath for a local root (symlinks and '..' resolved)."""
    return io.normalize(root) if io.is_remote(root) else os.path.realpath(os.path.abspath(root))


def _same_root(recorded: Any, root: str) -> bool:
    return isinstance(recorded, str) and bool(recorded) and normalize_root(recorded) == root


def _attempt_base(name: str) -> str | None:
    match = ATTEMPT.fullmatch(name)
    return f"{match.group(1)}-{match.group(2)}" if match else None


@dataclass
class _Known:
    """What the stores say about the root: its nodes and their output keys, and the attempt
    names (``<id>-<token>``) of RUNNING executions whose owner lives."""

    outputs: dict[str, set[str]] = field(default_factory=dict)
    live: set[str] = field(default_factory=set)


def _known(stores: Iterable[MetadataStore], root: str, now: float) -> _Known:
    known = _Known()
    for store in stores:
        for ex in store.all_executions():
            if not _same_root(ex.get("pipeline_root"), root) or not is_path_id(ex.get("node_id")):
                continue
            try:
                keys = {k for k in json.loads(ex.get("output_keys") or "[]") if is_path_id(k)}
            except (ValueError, TypeError):
                keys = set()
            known.outputs.setdefault(ex["node_id"], set()).update(keys)
            if ex["state"] == "RUNNING" and ex.get("attempt") and owner_alive(ex, now):
                known.live.add(f"{ex['id']}-{ex['attempt']}")
    return known


def _recorded(stores: Iterable[MetadataStore], root: str) -> set[str]:
    """Every artifact URI inside the root, in any state, normalized."""
    uris = set()
    for store in stores:
        for art in store.call("get_artifacts"):
            if art.uri and io.is_within(art.uri, root):
                uris.add(normalize_root(art.uri))
    return uris


def _ancestors(uri: str) -> Iterable[str]:
    """uri, then each folder above it (normalized URIs use '/' on every backend)."""
    while uri:
        yield uri
        parent = uri.rsplit("/", 1)[0]
        if parent == uri or parent.endswith(":/") or not parent:
            return
        uri = parent


class _Recorded:
    """Is a prefix recorded? Yes when an artifact names it, something inside it, or a
    folder holding it (an artifact's URI is its attempt prefix, but gc does not rely on it)."""

    def __init__(self, uris: set[str]) -> None:
        self.uris = uris
        self.covered = {a for uri in uris for a in _ancestors(uri)}

    def __contains__(self, uri: str) -> bool:
        return uri in self.covered or any(a in self.uris for a in _ancestors(uri))


def _candidates(root: str, known: _Known) -> list[tuple[str, str]]:
    """(prefix uri, attempt base name) of every launcher-named directory under known node/key dirs."""
    found = []
    for node_id in sorted(known.outputs):
        if node_id in NEVER or not io.isdir(io.join(root, node_id)):
            continue
        for key in sorted(known.outputs[node_id] & set(io.listdir(io.join(root, node_id)))):
            key_dir = io.join(root, node_id, key)
            if not io.isdir(key_dir):
                continue
            for name in io.listdir(key_dir):
                base, uri = _attempt_base(name), io.join(key_dir, name)
                if base is None or not io.is_within(uri, root, strictly=True):
                    continue  # not the launcher's name, or a symlink out of the root
                if not io.is_remote(uri) and (os.path.islink(uri) or not os.path.isdir(uri)):
                    continue
                found.append((uri, base))
    return found


def _measure(uri: str, kind: str, now: float) -> Debris | None:
    try:
        usage = io.usage(uri)
    except FileNotFoundError:  # deleted meanwhile (a run reclaimed it)
        return None
    age = None if usage.newest is None else max(0.0, now - usage.newest)
    return Debris(uri, kind, usage.files, usage.bytes, age)


def _orphan_staging(root: str, now: float) -> list[Debris]:
    """A local root's staging directories whose owner is a dead process of this host.

    A remote root stages under this machine's temp dir, outside the root, shared by every
    remote root: gc leaves that to the next run (``recovery.remove_orphan_staging``)."""
    if io.is_remote(root):
        return []
    staging = os.path.join(root, ".beampipe", "staging")
    if not os.path.isdir(staging):
        return []
    found = []
    for name in sorted(os.listdir(staging)):
        owner = staging_owner(name)
        if owner is None or not is_local(owner) or owner_alive({"owner": owner}, now):
            continue
        debris = _measure(os.path.join(staging, name), "staging", now)
        if debris is not None:
            found.append(debris)
    return found


def scan(root: str, stores: list[MetadataStore], min_age: float = DEFAULT_MIN_AGE,
         now: float | None = None) -> Report:
    """List what gc would delete under root; touches nothing.

    Order matters: the stores' executions are read before the directories are listed, and
    the artifacts after, so an attempt that commits while gc lists is either seen RUNNING
    or seen recorded."""
    now = time.time() if now is None else now
    root = normalize_root(root)
    report = Report(root, {store_id(s.uri): store_identity(s.uri) for s in stores}, registered_stores(root))
    known = _known(stores, root, now)
    candidates = _candidates(root, known)
    recorded = _Recorded(_recorded(stores, root))
    for uri, base in candidates:
        if base in known.live:
            report.running.append(uri)
            continue
        if normalize_root(uri) in recorded:
            continue
        debris = _measure(uri, "output", now)
        if debris is None:
            continue
        if min_age > 0 and (debris.age is None or debris.age < min_age):  # unknown age: not provably old
            report.young.append(debris)
        else:
            report.debris.append(debris)
    report.debris.extend(_orphan_staging(root, now))
    return report


def delete(report: Report, stores: list[MetadataStore], force: bool = False) -> list[Debris]:
    """Delete what ``scan`` listed, after re-reading the stores; returns what was deleted.

    Raises GcRefused when a store registered on the root was not given (unless force)."""
    problem = report.refusal()
    if problem and not force and report.debris:
        raise GcRefused(problem)
    now = time.time()
    known = _known(stores, report.root, now)
    recorded = _Recorded(_recorded(stores, report.root))
    deleted = []
    for debris in report.debris:
        if debris.kind == "output":
            base = _attempt_base(io.basename(debris.uri))
            if base in known.live or normalize_root(debris.uri) in recorded:
                continue  # committed or resumed since the scan
            io.rmtree(debris.uri, root=report.root, missing_ok=True)
        else:
            remove_inside(report.root, debris.uri)
        deleted.append(debris)
    return deleted
