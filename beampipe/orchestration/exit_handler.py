"""Exit handlers in the IR and at run time.

The IR carries the handler as ``ir["exit_handler"]`` (a node, outside ``ir["nodes"]``: it is
no part of the run's outcome and never blocks or fails it). Every backend runs it through the
one launcher after the pipeline's nodes, failed or not: the local runner after closing the
run, Airflow as a last task with trigger rule ``all_done``, Kubeflow after the closing task
with ``ALL_UPSTREAM_TASKS_COMPLETED``. Its final status is computed from MLMD, the same way
on every backend (``final_status``), when its task starts.
"""
from __future__ import annotations

import json
from typing import Any

from beampipe.components.base import BaseComponent, WiringError
from beampipe.components.exit_handler import fill_final_status, is_exit_handler
from beampipe.metadata.store import RUN_CONTEXT, MetadataStore

ERROR_CODE_UNKNOWN = 2  # google.rpc.Code.UNKNOWN, in the status's ``error``


def check_handler(handler: Any, node_ids: list[str]) -> BaseComponent:
    """The one exit handler (TFX also takes a list of one), checked against the pipeline."""
    if isinstance(handler, (list, tuple)):
        if len(handler) != 1:
            raise WiringError(f"an exit handler is one component, got {len(handler)}")
        handler = handler[0]
    if not is_exit_handler(handler):
        raise WiringError(f"exit handler {handler!r}: make it with @tfx.orchestration.experimental.exit_handler")
    if handler.id in node_ids:
        raise WiringError(f"exit handler '{handler.id}': a pipeline node has that id; give the handler "
                          ".with_id('...') and do not list it in the pipeline's components")
    handler.check_wiring()
    return handler


def handler_id(ir: dict[str, Any]) -> str | None:
    handler = ir.get("exit_handler")
    return handler["id"] if handler else None


def final_status(store: MetadataStore, ir: dict[str, Any], run_id: str) -> dict[str, Any]:
    """The run's outcome as KFP's ``PipelineTaskFinalStatus`` JSON (field names as TFX's exit
    handlers read them): ``state`` SUCCEEDED or FAILED, and in ``error.message`` each failed
    node with its error and the nodes that did not run."""
    run = store.run(run_id) or {}
    nodes = json.loads(run["nodes"]) if run.get("nodes") else [n["id"] for n in ir["nodes"]]
    latest: dict[str, dict[str, Any]] = {}
    for ex in sorted(store.executions_in_context(RUN_CONTEXT, run_id), key=lambda e: e["id"]):
        latest[ex.get("node_id", "?")] = ex
    failed = [n for n in nodes if latest.get(n, {}).get("state") == "FAILED"]
    not_run = [n for n in nodes if n not in latest]
    problems = [f"node '{n}' FAILED: {latest[n].get('error', '')}".rstrip(": ") for n in failed]
    if not_run:
        problems.append(f"nodes that did not run: {', '.join(not_run)}")
    status: dict[str, Any] = {"state": "FAILED" if problems else "SUCCEEDED",
                              "error": {"code": ERROR_CODE_UNKNOWN, "message": "; ".join(problems)}
                              if problems else {},
                              "pipeline_job_name": run_id,
                              "pipeline_task_name": ir["pipeline"]["name"]}
    return status


def exec_properties_for(ir: dict[str, Any], node_id: str, exec_props: dict[str, Any], store: MetadataStore,
                        run_id: str) -> dict[str, Any]:
    """The handler's properties with its final status filled in; other nodes' as they are."""
    if node_id != handler_id(ir):
        return exec_props
    return fill_final_status(exec_props, json.dumps(final_status(store, ir, run_id), sort_keys=True))
