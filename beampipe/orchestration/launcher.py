"""The one launcher: every node, on every backend, runs through ``run_node``.

resolve inputs from MLMD -> condition -> cache check -> run the executor into a
staging directory -> move into place -> one MLMD put_execution (outputs LIVE).
A crash anywhere before that last step leaves nothing LIVE.
"""
from __future__ import annotations

import json
import os
import shutil
import time
import traceback
from dataclasses import dataclass
from typing import Any

from beampipe.components.base import ExecContext
from beampipe.metadata.artifacts import artifact_class
from beampipe.metadata.store import NODE_CONTEXT, RUN_CONTEXT, MetadataStore, Outputs
from beampipe.orchestration import cache, ir as ir_mod
from beampipe.orchestration.node_log import node_log

DONE = ("COMPLETE", "CACHED")


class NodeError(Exception):
    """A node could not run; the message is meant for the user as it stands."""


@dataclass
class NodeResult:
    node_id: str
    status: str  # COMPLETE, CACHED, FAILED, SKIPPED
    execution_id: int | None = None
    seconds: float = 0.0
    error: str = ""
    log_path: str = ""


def resolve_parameters(ir: dict[str, Any], given: dict[str, Any]) -> dict[str, Any]:
    """Runtime parameter values: given (coerced to the declared type) else defaults."""
    declared = ir["pipeline"].get("parameters", {})
    unknown = set(given) - set(declared)
    if unknown:
        raise NodeError(f"unknown runtime parameter(s) {sorted(unknown)}; "
                        f"the pipeline declares {sorted(declared) or 'none'}")
    values = {}
    for name, spec in declared.items():
        ptype = {"int": int, "float": float, "str": str}[spec["type"]]
        raw = given.get(name, spec.get("default"))
        if raw is None:
            raise NodeError(f"runtime parameter {name!r} has no default: give --param {name}=VALUE")
        try:
            values[name] = ptype(raw)
        except (TypeError, ValueError):
            raise NodeError(f"runtime parameter {name!r} must be {spec['type']}, got {raw!r}") from None
    return values


def substitute(value: Any, params: dict[str, Any]) -> Any:
    if isinstance(value, dict):
        if set(value) == {"__runtime_parameter__"}:
            return params[value["__runtime_parameter__"]]
        return {k: substitute(v, params) for k, v in value.items()}
    if isinstance(value, list):
        return [substitute(v, params) for v in value]
    return value


def run_node(ir: dict[str, Any], node_id: str, run_id: str, params: dict[str, Any],
             store: MetadataStore, allow_execute: bool = True) -> NodeResult | None:
    """Run one node. With allow_execute=False, only settle it from the cache (or skip it)
    and return None when real work would be needed."""
    started = time.time()
    node = ir_mod.node(ir, node_id)
    pipe = ir["pipeline"]
    cls = ir_mod.load_component_class(node["component"])
    type_name = f"{cls.__module__}.{cls.__qualname__}"
    exec_props = substitute(node["exec_properties"], params)
    contexts = store.contexts(pipe["name"], run_id, node_id)
    log_path = os.path.join(pipe["root"], ".beampipe", "logs", run_id, f"{node_id}.log")
    base_props = {"node_id": node_id, "run_id": run_id, "pipeline": pipe["name"],
                  "exec_properties": json.dumps(exec_props, sort_keys=True), "started_at": started}

    inputs, skipped_by = resolve_inputs(ir, node, run_id, store)
    inputs = cls.prepare_inputs(inputs)
    if skipped_by is None and node.get("condition"):
        from beampipe.components.condition import evaluate
        if not evaluate(node["condition"], lambda p, k: latest_outputs(store, pipe["name"], p, run_id).get(k, [])):
            skipped_by = "its condition is false"
    if skipped_by is not None:
        exec_id = store.record_execution(type_name, "CANCELED", contexts, inputs, None,
                                         {**base_props, "skipped": skipped_by, "finished_at": time.time()})
        return NodeResult(node_id, "SKIPPED", exec_id, time.time() - started, skipped_by)

    key = cache.cache_key(cls, exec_props, inputs)
    use_cache = node["enable_cache"] if node.get("enable_cache") is not None else pipe["enable_cache"]
    if use_cache:
        hit = _cached_outputs(store, type_name, key)
        if hit is not None:
            cached_from, outputs = hit
            exec_id = store.record_execution(type_name, "CACHED", contexts, inputs, outputs,
                                             {**base_props, "cache_key": key, "cached_from": cached_from,
                                              "finished_at": time.time()})
            return NodeResult(node_id, "CACHED", exec_id, time.time() - started)
    if not allow_execute:
        return None

    props = {**base_props, "cache_key": key, "log_path": log_path}
    exec_id = store.start_execution(type_name, contexts, inputs, props)
    staging = os.path.join(pipe["root"], ".beampipe", "staging", str(exec_id))
    outputs: Outputs = {}
    for out_key, spec in node["outputs"].items():
        art = artifact_class(spec["type"])(os.path.join(staging, out_key))
        os.makedirs(art.uri, exist_ok=True)
        outputs[out_key] = [art]
    temp_dir = os.path.join(staging, ".temp")
    os.makedirs(temp_dir, exist_ok=True)
    ctx = ExecContext(node_id=node_id, run_id=run_id, pipeline_name=pipe["name"],
                      pipeline_root=pipe["root"], inputs=inputs, outputs=outputs,
                      exec_properties=exec_props,
                      beam_pipeline_args=[*pipe["beam_pipeline_args"], *node["beam_pipeline_args"]],
                      temp_dir=temp_dir, store=store)
    with node_log(log_path) as log:
        ctx.log = log
        log.info("node %s, execution %d, run %s", node_id, exec_id, run_id)
        try:
            cls.execute(ctx)
            _publish(store, pipe["root"], node_id, exec_id, outputs, contexts, staging)
        except BaseException as err:  # noqa: BLE001 - every failure is recorded, then reported
            message = describe_error(err)
            log.error("FAILED: %s\n%s", message, traceback.format_exc())
            shutil.rmtree(staging, ignore_errors=True)
            store.finish_execution(exec_id, "FAILED", contexts,
                                   props={"error": message[:4000], "finished_at": time.time()})
            if isinstance(err, (KeyboardInterrupt, SystemExit)):
                raise
            return NodeResult(node_id, "FAILED", exec_id, time.time() - started, message, log_path)
    return NodeResult(node_id, "COMPLETE", exec_id, time.time() - started, "", log_path)


def _publish(store: MetadataStore, root: str, node_id: str, exec_id: int, outputs: Outputs,
             contexts: list[Any], staging: str) -> None:
    for out_key, arts in outputs.items():
        for art in arts:
            if art.id is not None:  # an existing artifact (Resolver): recorded as is, never moved
                continue
            final = os.path.join(root, node_id, out_key, str(exec_id))
            os.makedirs(os.path.dirname(final), exist_ok=True)
            if os.path.exists(final):  # left by an earlier crashed attempt; never LIVE
                shutil.rmtree(final)
            os.rename(art.uri, final)
            art.uri = final
            art.custom_properties["fingerprint"] = cache.fingerprint_dir(final)
    shutil.rmtree(staging, ignore_errors=True)
    store.finish_execution(exec_id, "COMPLETE", contexts, outputs, {"finished_at": time.time()})


def describe_error(err: BaseException) -> str:
    """User errors read as they are; anything else keeps its type for the reader."""
    if isinstance(err, (NodeError, ValueError, FileNotFoundError)) and str(err):
        return str(err)
    return f"{type(err).__name__}: {err}"


def _cached_outputs(store: MetadataStore, type_name: str, key: str) -> tuple[int, Outputs] | None:
    exec_id = store.find_cached(type_name, key)
    if exec_id is None:
        return None
    outputs = store.artifacts_of(exec_id)
    arts = [a for group in outputs.values() for a in group]
    if all(a.state == "LIVE" and os.path.exists(a.uri) for a in arts):
        return exec_id, outputs
    return None


def latest_outputs(store: MetadataStore, pipeline: str, node_id: str,
                   run_id: str | None) -> Outputs:
    """Outputs of node_id: from this run if it ran in it, else from its latest finished run."""
    execs = store.executions_in_context(NODE_CONTEXT, f"{pipeline}.{node_id}")
    in_run = [e for e in execs if e.get("run_id") == run_id]
    candidates = in_run or [e for e in execs if e["state"] in DONE]
    if not candidates:
        raise NodeError(f"node '{node_id}' has no finished execution in pipeline '{pipeline}' yet: "
                        "run the pipeline from the start first")
    latest = max(candidates, key=lambda e: e["id"])
    if latest["state"] not in DONE:
        return {}
    return store.artifacts_of(latest["id"])


def resolve_inputs(ir: dict[str, Any], node: dict[str, Any], run_id: str,
                   store: MetadataStore) -> tuple[Outputs, str | None]:
    """The node's input artifacts; and why it is skipped, if an upstream node was skipped."""
    pipeline = ir["pipeline"]["name"]
    inputs: Outputs = {}
    for key, channel in node["inputs"].items():
        producer = channel["producer"]
        if producer is None:
            continue
        run_execs = [e for e in store.executions_in_context(RUN_CONTEXT, run_id)
                     if e.get("node_id") == producer]
        if run_execs and max(run_execs, key=lambda e: e["id"])["state"] == "CANCELED":
            return {}, f"upstream node '{producer}' was skipped"
        arts = latest_outputs(store, pipeline, producer, run_id).get(channel["output_key"], [])
        inputs[key] = arts
    return inputs, None
