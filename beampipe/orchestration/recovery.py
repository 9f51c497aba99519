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


def _abandon_dead(store: MetadataStore, root: str, context_type: str, name: str,
                  current_run: str | None = None) -> int:
    """Abandon the dead RUNNING executions of one context; returns how many."""
    dead = [e for e in store.running_executions(context_type, name) if not owner_alive(e)]
    for execution in dead:
        abandon(store, execution, root)
        if current_run is not None and execution.get("run_id") not in (None, current_run):
            _fail_unfinished_run(store, execution)
    return len(dead)


def _fail_unfinished_run(store: MetadataStore, execution: dict[str, Any]) -> None:
    """A compiled run (Airflow, KFP) has no process of its own to judge: when one of its nodes
    died and a later run reclaims it, that run can no longer complete. (A retry within the same
    run, as Airflow's retries do, is not a later run: its run carries on.)"""
    run = store.run(execution["run_id"])
    if run is None or run.get("state") in ("COMPLETE", "FAILED") or (run.get("owner") and owner_alive(run)):
        return
    store.set_run_state(execution.get("pipeline") or run.get("pipeline", ""), run["run_id"], "FAILED",
                        abandoned=f"node '{execution.get('node_id', '?')}' died and was reclaimed")


def reclaim_node(store: MetadataStore, root: str, pipeline: str, node_id: str,
                 current_run: str | None = None) -> int:
    """Abandon this node's dead RUNNING executions; returns how many. A dead execution of
    another run than ``current_run`` also ends that run FAILED, if nothing else has."""
    return _abandon_dead(store, root, NODE_CONTEXT, f"{pipeline}.{node_id}", current_run)


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
