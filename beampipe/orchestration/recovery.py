"""Reclaim what killed processes left behind, and keep live work visibly alive.

A process killed with SIGKILL (or a lost pod) leaves its execution RUNNING in MLMD, its
staging directory, maybe an output already renamed into place, and its run RUNNING. The
next run of the node (or of the pipeline) asks whether the recorded owner still lives
(``beampipe.metadata.owner``): if not, the execution becomes FAILED with ``abandoned``
set, and the attempt's own directories are deleted. Work in progress refreshes
``heartbeat_at`` so processes on other hosts can tell a live owner from a dead one.
"""
from __future__ import annotations

import json
import os
import threading
import time
from typing import Any, Callable

from beampipe.metadata.owner import heartbeat_seconds, is_local, owner_alive
from beampipe.metadata.store import NODE_CONTEXT, PIPELINE_CONTEXT, MetadataStore
from beampipe.orchestration.root_stores import register_store
from beampipe.orchestration.staging import Attempt, remove_inside, staging_base, staging_guard, staging_owner


class Heartbeat:
    """Calls ``beat`` every heartbeat interval in a daemon thread until the block ends."""

    def __init__(self, beat: Callable[[], None], interval: float | None = None) -> None:
        self.beat, self.interval = beat, interval or heartbeat_seconds()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="beampipe-heartbeat", daemon=True)

    def _loop(self) -> None:
        while not self._stop.wait(self.interval):
            try:
                self.beat()
            except Exception:  # a missed beat only shortens the lease; never kill the node
                pass

    def __enter__(self) -> "Heartbeat":
        self._thread.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self._stop.set()
        self._thread.join()


def abandon(store: MetadataStore, execution: dict[str, Any], root: str) -> None:
    """Mark a dead execution FAILED and delete its attempt's directories (under root only)."""
    who = execution.get("owner", "an unknown process").replace("|", " pid ", 1).split("|")[0]
    store.finish_execution(execution["id"], "FAILED", [], props={
        "error": f"abandoned: the process that ran it ({who}) is gone", "abandoned": 1,
        "finished_at": time.time()})
    if execution.get("pipeline_root") == root and execution.get("attempt") and execution.get("node_id"):
        keys = json.loads(execution.get("output_keys") or "[]")
        Attempt(root, execution["node_id"], execution["id"], execution["attempt"],
                execution.get("owner", "")).discard(keys)


def _abandon_dead(store: MetadataStore, root: str, context_type: str, name: str) -> int:
    """Abandon the dead RUNNING executions of one context; returns how many."""
    dead = [e for e in store.running_executions(context_type, name) if not owner_alive(e)]
    for execution in dead:
        abandon(store, execution, root)
    return len(dead)


def reclaim_node(store: MetadataStore, root: str, pipeline: str, node_id: str) -> int:
    """Abandon this node's dead RUNNING executions; returns how many. Called by the launcher
    before an attempt writes anything, on every backend: so this is also where the store
    registers itself on the root (``root_stores``), which ``beampipe gc`` relies on."""
    register_store(root, store.uri)
    return _abandon_dead(store, root, NODE_CONTEXT, f"{pipeline}.{node_id}")


def reclaim_pipeline(store: MetadataStore, root: str, pipeline: str) -> dict[str, int]:
    """Abandon every dead execution and run of a pipeline, and delete orphaned staging."""
    executions = _abandon_dead(store, root, PIPELINE_CONTEXT, pipeline)
    runs = 0
    for run in store.runs(pipeline, limit=10_000):
        if run.get("abandoned"):  # runs() already judged its owner dead
            store.set_run_state(pipeline, run["run_id"], "FAILED", abandoned=run["abandoned"])
            runs += 1
    return {"executions": executions, "runs": runs, "staging": remove_orphan_staging(root)}


def remove_orphan_staging(root: str) -> int:
    """Staging directories of dead processes on this host (each name spells its owner).

    Judged by the process, not by an execution id: execution ids restart per store, and
    several stores may share one pipeline root. Another host's staging (a shared volume) is
    left to that execution's own reclaim, which has its heartbeat to go by. For a remote root
    the staging (and node-log scratch) lives under the local temp dir, shared by every remote
    root of this machine: a dead owner makes it debris whichever root it was for."""
    staging = staging_base(root)
    if not os.path.isdir(staging):
        return 0
    removed = 0
    for name in sorted(os.listdir(staging)):
        owner = staging_owner(name)
        if owner is None or not is_local(owner) or owner_alive({"owner": owner}):
            continue
        remove_inside(staging_guard(root), os.path.join(staging, name))
        removed += 1
    return removed
