"""What each task of a compiled Kubeflow pipeline runs, inside kfp's own Python executor.

The KFP compiler makes every node a Lightweight Python Component (so that KFP clusters and
``kfp.local``'s SubprocessRunner both run it); the component's function is a few lines that
call ``run_task`` here. Keeping the logic in beampipe (not in the compiled function text)
means it is tested like the rest of the launcher and fixed by a new image, not a recompile.

The node runs in the executor's own process: a second interpreter start would add about a
second per task for nothing.
"""
from __future__ import annotations

import json
import os
import sys
from typing import Any, NoReturn

from beampipe.orchestration import entrypoint

# Placeholders KFP resolves when they are the whole constant value of a task input: the
# backend driver from KFP 2.5 on (resolve.go), and kfp.local. Never in container args.
JOB_NAME_PLACEHOLDER = "{{$.pipeline_job_name}}"
JOB_UUID_PLACEHOLDER = "{{$.pipeline_job_uuid}}"


def fail(message: str) -> NoReturn:
    """End the task with exit code 1 and a one-line reason, without a traceback: the node's
    own error is already in its log and in MLMD, and KFP shows the task's last lines."""
    print(message, file=sys.stderr, flush=True)
    raise SystemExit(entrypoint.EXIT_FAILED)


def kfp_run_id(job_name: str, job_uuid: str) -> str:
    """The beampipe run id of one KFP run, the same in all of its tasks.

    The job name alone is not enough: on a cluster it is the run's display name, which users
    reuse; the uuid makes it unique (kfp.local gives a random number there) and lets one find
    the KFP run. Both are placeholders resolved by KFP; an unresolved one means a backend too
    old to resolve them, and carrying on would merge every run into one."""
    for value in (job_name, job_uuid):
        if "{{" in value:
            fail(f"beampipe: KFP passed the placeholder {value!r} unresolved; KFP 2.5 or later "
                 "resolves pipeline job placeholders in task inputs")
    return entrypoint.sanitize_run_id(f"{job_name}-{job_uuid}" if job_uuid else job_name)


def run_task(ir_spec: str, node_id: str, job_name: str, job_uuid: str, params: dict[str, Any]) -> str:
    """Run one node (or close the run) and return its status for the task's ``status`` output.

    A failed node also marks its run FAILED at once: kfp.local stops at the first failed task
    and never reaches the closing task, and on a cluster the closing task (which runs after
    every task, failed or not) writes the final state anyway."""
    os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")  # before anything imports TensorFlow
    run_id = kfp_run_id(job_name, job_uuid)
    problem, ir = entrypoint.parse_ir(ir_spec, node_id)  # decoded once, for the check and the run
    if problem:
        fail(f"beampipe: {problem}")
    code, result = entrypoint.run(ir, node_id, run_id, params)
    print(json.dumps(result, sort_keys=True, default=str), flush=True)
    if code == entrypoint.EXIT_OK:
        return str(result["status"])
    if node_id != entrypoint.FINISH_RUN:
        _close_failed_run(ir, run_id, params)
    fail(f"beampipe: node '{node_id}' {result['status']}: {result.get('error', '')}")


def _close_failed_run(ir: dict[str, Any], run_id: str, params: dict[str, Any]) -> None:
    """Best effort: the node's failure is what the task reports, whatever happens here."""
    try:
        code, result = entrypoint.run(ir, entrypoint.FINISH_RUN, run_id, params)
    except Exception as err:  # noqa: BLE001 - never hide the node's own failure
        print(f"beampipe: could not mark run {run_id} FAILED: {err}", file=sys.stderr, flush=True)
        return
    if code == entrypoint.EXIT_USAGE:
        print(f"beampipe: could not mark run {run_id} FAILED: {result.get('error', '')}",
              file=sys.stderr, flush=True)
