"""Versions on disk -> versions loaded -> which version answers a request.

One poller thread (TF Serving's file-system poll): it lists each base path, loads and warms
the versions the policy wants one at a time (two cores are shared; loads in parallel would only
slow the serving threads), then swaps in a new immutable :class:`Routing` with one reference
assignment. Requests read ``model.routing`` once, so each sees the old or the new routing,
never a mix. Versions left out of the new routing are unloaded in the background after their
in-flight requests finish. A version that fails to load or warm up is marked END with its
error and is never routed to, nor retried.
"""
from __future__ import annotations

import dataclasses
import hashlib
import logging
import random
import threading
import time
from typing import Any

from beampipe import io
from beampipe.serving.codec import NotFound
from beampipe.serving.config import ModelConfig, Policy
from beampipe.serving.metrics import Metrics
from beampipe.serving.model import ModelVersion
from beampipe.metadata import layout

log = logging.getLogger("beampipe.serving")


@dataclasses.dataclass(frozen=True)
class Routing:
    """Who answers: ``stable`` by default, ``canary`` for ``percent`` of request keys."""
    stable: ModelVersion | None = None
    canary: ModelVersion | None = None
    percent: float = 0.0
    served: dict[int, ModelVersion] = dataclasses.field(default_factory=dict)
    labels: dict[str, int] = dataclasses.field(default_factory=dict)

    def choose(self, key: str | None) -> ModelVersion | None:
        if self.canary is None or self.stable is None:
            return self.stable or self.canary
        return self.canary if bucket(key) < self.percent else self.stable


def bucket(key: str | None) -> float:
    """A request key's place in [0, 100): the same key always lands in the same place (sticky)."""
    if not key:
        return random.random() * 100
    digest = hashlib.blake2b(key.encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big") / 2 ** 64 * 100


def list_versions(base_path: str, known: set[int] | frozenset[int] = frozenset()) -> list[int]:
    """Numbered version directories holding a complete SavedModel (Pusher's layout). A version
    in ``known`` was complete when first seen: no need to ask the object store again."""
    try:
        names = io.listdir(base_path)
    except (FileNotFoundError, NotADirectoryError):
        return []
    found = []
    for name in names:
        name = name.rstrip("/")
        if name.isdigit() and int(name) in known:
            found.append(int(name))
        elif name.isdigit() and (io.exists(io.join(base_path, name, layout.SAVED_MODEL_FILE))
                               or io.exists(io.join(base_path, name, layout.SAVED_MODEL_FILE + "txt"))):
            found.append(int(name))
    return sorted(found)


class ServedModel:
    """One model name: its policy, every version seen (for status) and the live routing."""

    def __init__(self, config: ModelConfig) -> None:
        self.config = config
        self.name = config.name
        self.policy: Policy = config.policy
        self.versions: dict[int, ModelVersion] = {}
        self.routing = Routing()
        self.on_disk: list[int] = []
        self.warned_empty = False

    def wanted(self) -> list[int]:
        """The versions the policy serves, given what is on disk and what failed."""
        usable = [v for v in self.on_disk if not self._failed(v)]
        policy = self.policy
        if policy.kind == "specific":
            return [v for v in policy.versions if v in usable]
        if policy.kind == "latest":
            return usable[-1:]
        fresh = [v for v in usable if v not in policy.rejected]
        stable = policy.stable if policy.stable in usable else None
        canary = fresh[-1] if fresh and (stable is None or fresh[-1] > stable) else None
        if stable is None:
            older = [v for v in fresh if canary is None or v < canary]
            stable = older[-1] if older else None
        return sorted({v for v in (stable, canary) if v is not None})

    def _failed(self, version: int) -> bool:
        mv = self.versions.get(version)
        return mv is not None and mv.state == "END" and bool(mv.error)

    def build_routing(self) -> Routing | None:
        """A routing over the wanted versions that are AVAILABLE; None keeps the current one."""
        wanted = self.wanted()
        ready = {v: self.versions[v] for v in wanted
                 if v in self.versions and self.versions[v].state == "AVAILABLE"}
        if not ready:
            return None
        labels = {k: v for k, v in self.config.labels if v in ready}
        stable, canary, percent = ready[max(ready)], None, 0.0
        if self.policy.kind == "canary" and len(wanted) == 2:
            low, high = wanted
            if low in ready and high in ready:
                stable, canary, percent = ready[low], ready[high], self.policy.canary_percent
            elif low in ready:
                stable = ready[low]
            labels.update({"stable": stable.version, **({"canary": canary.version} if canary else {})})
        return Routing(stable=stable, canary=canary, percent=percent, served=ready, labels=labels)

    def resolve(self, version: int | None, label: str | None, key: str | None) -> ModelVersion:
        routing = self.routing
        if label is not None:
            if label not in routing.labels:
                raise NotFound(f"Unrecognized servable version label: {label}")
            version = routing.labels[label]
        if version is not None:
            mv = routing.served.get(version)
            if mv is None:
                raise NotFound(f"Servable not found for request: Specific({self.name}, {version})")
            return mv
        mv = routing.choose(key)
        if mv is None:
            raise NotFound(f"Servable not found for request: Latest({self.name}) (no version is available yet)")
        return mv

    def status(self, version: int | None = None) -> list[dict[str, Any]]:
        """TF Serving's ``model_version_status`` list, newest first."""
        items = sorted(list(self.versions.values()), key=lambda m: -m.version)  # the poller adds to it
        if version is not None:
            items = [m for m in items if m.version == version]
            if not items:
                raise NotFound(f"Could not find version {version} of model {self.name}")
        return [{"version": str(m.version), "state": m.state,
                 "status": {"error_code": "UNKNOWN" if m.error else "OK", "error_message": m.error}}
                for m in items]


class Manager:
    """All served models and the poller thread that keeps them in step with their base paths."""

    def __init__(self, configs: list[ModelConfig], metrics: Metrics, poll_seconds: float = 1.0,
                 unload_timeout: float = 300.0) -> None:
        self.models = {c.name: ServedModel(c) for c in configs}
        self.metrics = metrics
        self.poll_seconds = poll_seconds
        self.unload_timeout = unload_timeout
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._lock = threading.Lock()  # policy changes vs. the poller's reconcile
        self._thread: threading.Thread | None = None

    def get(self, name: str) -> ServedModel:
        model = self.models.get(name)
        if model is None:
            raise NotFound(f"Servable not found for request: Latest({name}) (no model named '{name}')")
        return model

    def start(self) -> None:
        self._thread = threading.Thread(target=self._loop, name="beampipe-serve-poller", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._wake.set()
        if self._thread:
            self._thread.join(timeout=30)

    def poke(self) -> None:
        """Reconcile now (after a policy change) instead of at the next poll."""
        self._wake.set()

    def set_policy(self, name: str, policy: Policy) -> None:
        model = self.get(name)
        with self._lock:
            model.policy = policy
            self._route(model)
        self.poke()

    def _loop(self) -> None:
        while not self._stop.is_set():
            for model in list(self.models.values()):
                try:
                    self.reconcile(model)
                except Exception as err:  # noqa: BLE001 - a storage hiccup must not stop polling
                    log.warning("model %s: polling %s failed: %s", model.name, model.config.base_path, err)
            self._wake.wait(self.poll_seconds)
            self._wake.clear()

    def reconcile(self, model: ServedModel) -> None:
        """One poll: list, load what is wanted and new, swap, unload what is no longer routed."""
        model.on_disk = list_versions(model.config.base_path, set(model.versions))
        if not model.on_disk and not model.warned_empty:
            model.warned_empty = True
            log.warning("model %s: no versions under %s yet (<version>/%s); waiting for one",
                        model.name, model.config.base_path, layout.SAVED_MODEL_FILE)
        for version in model.wanted():
            if self._stop.is_set():
                return
            if version not in model.versions or model.versions[version].state == "END" and not \
                    model.versions[version].error and version not in model.routing.served:
                self._load(model, version)
            with self._lock:
                self._route(model)
        with self._lock:
            self._route(model)

    def _route(self, model: ServedModel) -> None:
        routing = model.build_routing()
        if routing is None:
            return
        old = model.routing
        if old.served.keys() != routing.served.keys() or old.percent != routing.percent or \
                old.stable is not routing.stable or old.canary is not routing.canary or \
                old.labels != routing.labels:
            model.routing = routing  # the atomic swap
            log.info("model %s: serving %s", model.name, _describe(routing))
        for version, mv in old.served.items():
            if version not in routing.served:
                threading.Thread(target=self._unload, args=(model, mv), daemon=True,
                                 name=f"beampipe-unload-{version}").start()

    def _load(self, model: ServedModel, version: int) -> None:
        mv = ModelVersion(model.name, version, io.join(model.config.base_path, str(version)), model.config.tags)
        model.versions[version] = mv
        started = time.monotonic()
        try:
            mv.load()
            warmed = mv.warm_up()
        except Exception as err:  # noqa: BLE001 - any failure: never served, reported
            message = f"{type(err).__name__}: {' '.join(str(err).split())[:400]}"
            mv.fail(message)
            self.metrics.load_event(model.name, version, "failure")
            log.error("model %s: version %d failed to load or warm up, not served: %s",
                      model.name, version, message)
            return
        mv.mark_available()
        self.metrics.load_event(model.name, version, "success")
        log.info("model %s: version %d loaded and warmed (%d requests) in %.1fs",
                 model.name, version, warmed, time.monotonic() - started)

    def _unload(self, model: ServedModel, mv: ModelVersion) -> None:
        mv.unload(self.unload_timeout)
        self.metrics.load_event(model.name, mv.version, "unload")
        log.info("model %s: version %d unloaded", model.name, mv.version)

    def ready(self) -> bool:
        """Every model has a routing (used by tests and the CLI's start-up message)."""
        return all(m.routing.stable or m.routing.canary for m in self.models.values())


def _describe(routing: Routing) -> str:
    if routing.canary is not None and routing.stable is not None:
        return (f"stable {routing.stable.version} ({100 - routing.percent:g}%), "
                f"canary {routing.canary.version} ({routing.percent:g}%)")
    return "versions " + ", ".join(str(v) for v in sorted(routing.served))
