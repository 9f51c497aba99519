"""The one launcher: every node, on every backend, runs through ``run_node``.

Named stages, in order:

1. **resolve inputs**: the artifacts the node reads, from MLMD (or why it is skipped);
2. **condition**: a ``Cond`` on the node may skip it;
3. **cache**: an earlier COMPLETE execution with the same key whose outputs still hold
   their recorded content fingerprints answers instead of running;
4. **execute**: the executor writes into the attempt's staging directory;
5. **publish**: outputs are renamed into place, then one MLMD ``put_execution`` records
   them LIVE. MLMD is the commit point: a crash before it leaves nothing LIVE, and the
   next run of the node reclaims the dead attempt (``recovery``).

On an object-store root (``s3://``, ``gs://``) stages 4 and 5 localize (``remote``): the
executor reads local copies of its inputs and writes local staging; publish uploads each
output to its final unique URI, then commits. MLMD stays the commit point.
"""
from __future__ import annotations

import hashlib
import json
import os
import time
import traceback
from dataclasses import dataclass, field
from typing import Any

from beampipe import io
from beampipe.components.base import BaseComponent, ExecContext, SkipNode
from beampipe.metadata.artifacts import artifact_class
from beampipe.metadata.ids import check_node_id, check_path_id
from beampipe.metadata.owner import owner_token
from beampipe.metadata.store import NODE_CONTEXT, RUN_CONTEXT, MetadataStore, Outputs
from beampipe.orchestration import cache, ir as ir_mod, recovery, remote
from beampipe.orchestration.exit_handler import exec_properties_for
from beampipe.orchestration.node_log import node_log
from beampipe.orchestration.root_stores import register_store
from beampipe.orchestration.staging import Attempt
from beampipe.transforms import small_input

DONE = ("COMPLETE", "CACHED")
EMPTY_FINGERPRINT = hashlib.sha256().hexdigest()  # io.fingerprint of an empty tree


class NodeError(Exception):
    """A node could not run; the message is meant for the user as it stands."""


@dataclass
class NodeResult:
    node_id: str
    status: str  # COMPLETE, CACHED, FAILED, SKIPPED (NOT_RUN is the runners')
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


@dataclass
class NodeLaunch:
    """One node of one run: what every stage reads."""

    ir: dict[str, Any]
    node: dict[str, Any]
    run_id: str
    store: MetadataStore
    cls: type[BaseComponent]
    exec_props: dict[str, Any]
    started: float = field(default_factory=time.time)

    @property
    def pipeline(self) -> str:
        return self.ir["pipeline"]["name"]

    @property
    def root(self) -> str:
        return self.ir["pipeline"]["root"]

    @property
    def node_id(self) -> str:
        return self.node["id"]

    @property
    def type_name(self) -> str:
        return self.node.get("type_name") or f"{self.cls.__module__}.{self.cls.__qualname__}"

    @property
    def log_path(self) -> str:
        return io.join(self.root, ".beampipe", "logs", self.run_id, f"{self.node_id}.log")

    def contexts(self) -> list[Any]:
        return self.store.contexts(self.pipeline, self.run_id, self.node_id)

    def base_props(self) -> dict[str, Any]:
        return {"node_id": self.node_id, "run_id": self.run_id, "pipeline": self.pipeline,
                "exec_properties": json.dumps(self.exec_props, sort_keys=True), "started_at": self.started}

    def result(self, status: str, exec_id: int | None, error: str = "", log_path: str = "") -> NodeResult:
        return NodeResult(self.node_id, status, exec_id, time.time() - self.started, error, log_path)


def run_node(ir: dict[str, Any], node_id: str, run_id: str, params: dict[str, Any],
             store: MetadataStore, allow_execute: bool = True) -> NodeResult | None:
    """Run one node through the stages. With allow_execute=False, only settle it from the
    cache (or skip it) and return None when real work would be needed."""
    launch = _launch(ir, node_id, run_id, params, store)
    optional = {k for k, spec in getattr(launch.cls, "INPUTS", {}).items() if getattr(spec, "optional", False)}
    inputs, skipped_by = resolve_inputs(ir, launch.node, run_id, store, optional)
    inputs = launch.cls.prepare_inputs(inputs)
    if skipped_by is None:
        skipped_by = check_condition(launch)
    if skipped_by is not None:
        exec_id = store.record_execution(launch.type_name, "CANCELED", launch.contexts(), inputs, None,
                                         {**launch.base_props(), "skipped": skipped_by,
                                          "finished_at": time.time()})
        return launch.result("SKIPPED", exec_id, skipped_by)
    key = cache.cache_key(launch.cls, launch.exec_props, inputs)
    cached = check_cache(launch, key, inputs)
    if cached is not None or not allow_execute:
        return cached
    return execute_and_publish(launch, key, inputs)


def _launch(ir: dict[str, Any], node_id: str, run_id: str, params: dict[str, Any],
            store: MetadataStore) -> NodeLaunch:
    """Validate what becomes a path, then gather the node's description."""
    check_path_id("run id", run_id)
    check_path_id("pipeline name", ir["pipeline"]["name"])
    node = ir_mod.node(ir, node_id)
    check_node_id(node_id)
    for key in node["outputs"]:
        check_path_id(f"node '{node_id}' output key", key)
    _check_root_is_not_a_file(ir["pipeline"]["root"])
    cls = ir_mod.load_component_class(node["component"])
    props = exec_properties_for(ir, node_id, substitute(node["exec_properties"], params), store, run_id)
    props = resolve_placeholders(props, ir, node_id, run_id, store)
    return NodeLaunch(ir, node, run_id, store, cls, props)


def resolve_placeholders(value: Any, ir: dict[str, Any], node_id: str, run_id: str,
                         store: MetadataStore) -> Any:
    """Parameters given as ``channel.future()[0].value`` (or a property): read from the producer's
    artifact in MLMD now, as TFX resolves them at run time."""
    if isinstance(value, dict) and set(value) == {"__artifact_value__"}:
        from beampipe.components.condition import read_placeholder

        spec = value["__artifact_value__"]

        def outputs_of(producer: str, key: str) -> list[Any]:
            return latest_outputs(store, ir["pipeline"]["name"], producer, run_id).get(key, [])

        found = read_placeholder(spec, outputs_of)
        if found is None:
            raise NodeError(f"node '{node_id}': a parameter reads {spec['producer']}.outputs"
                            f"['{spec['output_key']}'][{spec['index']}].{spec['property']}, which has no value")
        return found
    if isinstance(value, dict):
        return {k: resolve_placeholders(v, ir, node_id, run_id, store) for k, v in value.items()}
    if isinstance(value, list):
        return [resolve_placeholders(v, ir, node_id, run_id, store) for v in value]
    return value


def open_store(ir: dict[str, Any]) -> MetadataStore:
    """The pipeline's MLMD store, at the URI the environment gives (secrets are not compiled).
    The default store lives in the pipeline root, which a first run creates; a store elsewhere
    must be in a directory that exists (no silent mkdir of a typo'd path)."""
    from beampipe.metadata.connection import runtime_uri, sqlite_path

    pipe = ir["pipeline"]
    uri = runtime_uri(pipe["metadata_uri"])
    root = pipe["root"]
    check_metadata_location(root, uri)
    db_path = sqlite_path(uri)
    if db_path is not None and not io.is_remote(root) and os.path.dirname(db_path) == os.path.abspath(root):
        _check_root_is_not_a_file(root)
        os.makedirs(root, exist_ok=True)
    return MetadataStore(uri)


def _check_root_is_not_a_file(root: str) -> None:
    if not io.is_remote(root) and os.path.exists(root) and not os.path.isdir(root):
        raise NodeError(f"pipeline root {root} is a file, not a directory")


def check_metadata_location(root: str, uri: str) -> None:
    """A remote root cannot hold the default SQLite store (SQLite needs a local file with
    locks): such a root needs a metadata URI of its own."""
    if "://" in uri and uri.split("://", 1)[0].lower() in ("s3", "gs"):
        raise NodeError(f"the metadata store cannot live in an object store ({io.redact(uri)}): with the "
                        f"remote pipeline root {root}, give --metadata-uri (a local SQLite file, "
                        "postgresql://... or mysql://...) or set BEAMPIPE_METADATA_URI")


# -- stage 1: resolve inputs -------------------------------------------------------------

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


def resolve_inputs(ir: dict[str, Any], node: dict[str, Any], run_id: str, store: MetadataStore,
                   optional: set[str] | frozenset[str] = frozenset()) -> tuple[Outputs, str | None]:
    """The node's input artifacts; and why it is skipped, if an upstream node it needs was
    skipped (an optional input from a skipped node is just empty, as in TFX)."""
    pipeline = ir["pipeline"]["name"]
    inputs: Outputs = {}
    for key, channel in node["inputs"].items():
        producer = channel["producer"]
        if producer is None:
            if channel.get("artifact_ids"):  # testing.Channel: fixed artifacts
                inputs[key] = static_artifacts(store, node["id"], key, channel)
            continue
        run_execs = [e for e in store.executions_in_context(RUN_CONTEXT, run_id)
                     if e.get("node_id") == producer]
        if run_execs and max(run_execs, key=lambda e: e["id"])["state"] == "CANCELED":
            if key in optional:
                inputs[key] = []
                continue
            return {}, f"upstream node '{producer}' was skipped"
        inputs[key] = latest_outputs(store, pipeline, producer, run_id).get(channel["output_key"], [])
    return inputs, None


def static_artifacts(store: MetadataStore, node_id: str, key: str, channel: dict[str, Any]) -> list[Any]:
    """The artifacts a testing.Channel names by MLMD id; each must exist and be of its type."""
    ids = [int(i) for i in channel["artifact_ids"]]
    found = {a.id: a for a in store.artifacts_by_id(ids)}
    missing = [i for i in ids if i not in found]
    wrong = [f"{i}: {found[i].TYPE_NAME}" for i in ids if i in found and found[i].TYPE_NAME != channel["type"]]
    if missing or wrong:
        raise NodeError(f"node '{node_id}' input '{key}': artifact ids {missing} are not in the store"
                        if missing else f"node '{node_id}' input '{key}' wants {channel['type']}, "
                                        f"got artifacts {wrong}")
    return [found[i] for i in ids]


# -- stage 2: condition ------------------------------------------------------------------

def check_condition(launch: NodeLaunch) -> str | None:
    """Why the node is skipped by its condition, else None."""
    if not launch.node.get("condition"):
        return None
    from beampipe.components.condition import evaluate

    def outputs_of(producer: str, key: str) -> list[Any]:
        return latest_outputs(launch.store, launch.pipeline, producer, launch.run_id).get(key, [])

    return None if evaluate(launch.node["condition"], outputs_of) else "its condition is false"


# -- stage 3: cache ----------------------------------------------------------------------

def check_cache(launch: NodeLaunch, key: str, inputs: Outputs) -> NodeResult | None:
    """Record a CACHED execution pointing at an earlier one's outputs, if one is intact."""
    use_cache = launch.node.get("enable_cache")
    if use_cache is None:
        use_cache = launch.ir["pipeline"]["enable_cache"]
    if not use_cache:
        return None
    for exec_id in launch.store.find_cached(launch.type_name, key):
        outputs = launch.store.artifacts_of(exec_id)
        if all(_intact(a) for group in outputs.values() for a in group):
            new_id = launch.store.record_execution(
                launch.type_name, "CACHED", launch.contexts(), inputs, outputs,
                {**launch.base_props(), "cache_key": key, "cached_from": exec_id, "finished_at": time.time()})
            return launch.result("CACHED", new_id)
    return None


def _intact(artifact: Any) -> bool:
    """LIVE, present, and its bytes still those fingerprinted at publish."""
    recorded = artifact.custom_properties.get("fingerprint")
    if artifact.state != "LIVE":
        return False
    if not io.exists(artifact.uri):
        # An object store cannot hold an empty directory: an output published empty is
        # intact while still empty (the fingerprint of nothing).
        return io.is_remote(artifact.uri) and recorded == EMPTY_FINGERPRINT
    return recorded is None or cache.fingerprint_dir(artifact.uri) == recorded


# -- stages 4 and 5: execute, publish ----------------------------------------------------

def execute_and_publish(launch: NodeLaunch, key: str, inputs: Outputs) -> NodeResult:
    store, node_id, log_path = launch.store, launch.node_id, launch.log_path
    recovery.reclaim_node(store, launch.root, launch.pipeline, node_id, launch.run_id)
    register_store(launch.root, store.uri)  # before anything is written: `beampipe gc` relies on it
    token = Attempt.new_token()
    out_keys = sorted(launch.node["outputs"])
    contexts = launch.contexts()
    owner = owner_token()
    with remote.log_location(launch.root, log_path, node_id) as local_log, \
            node_log(local_log) as log:  # opened first: a root that cannot hold it records nothing
        exec_id = store.start_execution(launch.type_name, contexts, inputs, {
            **launch.base_props(), "cache_key": key, "log_path": log_path, "owner": owner,
            "heartbeat_at": time.time(), "pipeline_root": launch.root, "attempt": token,
            "output_keys": json.dumps(out_keys)})
        attempt = Attempt(launch.root, node_id, exec_id, token, owner)
        log.info("node %s, execution %d (attempt %s), run %s", node_id, exec_id, attempt.name, launch.run_id)
        try:
            outputs = _execute(launch, attempt, inputs, log)
            _publish(store, attempt, outputs, contexts)
        except SkipNode as skip:  # nothing to do: recorded as skipped, nothing published
            log.info("SKIPPED: %s", skip)
            attempt.discard(out_keys)
            store.finish_execution(exec_id, "CANCELED", contexts,
                                   props={"skipped": str(skip), "finished_at": time.time()})
            return launch.result("SKIPPED", exec_id, str(skip), log_path)
        except BaseException as err:  # noqa: BLE001 - every failure is recorded, then reported
            message = describe_error(err)
            log.error("FAILED: %s\n%s", message, traceback.format_exc())
            attempt.discard(out_keys)
            store.finish_execution(exec_id, "FAILED", contexts,
                                   props={"error": message[:4000], "finished_at": time.time()})
            if isinstance(err, (KeyboardInterrupt, SystemExit)):
                raise
            return launch.result("FAILED", exec_id, message, log_path)
    return launch.result("COMPLETE", exec_id, "", log_path)


def _execute(launch: NodeLaunch, attempt: Attempt, inputs: Outputs, log: Any) -> Outputs:
    staged = attempt.prepare(sorted(launch.node["outputs"]))
    scratch_inputs: dict[str, str] = {}
    if attempt.remote:  # the executor reads local copies; the recorded events keep the real URIs
        inputs, scratch_inputs = remote.localize_inputs(inputs, attempt.inputs_dir)
    outputs: Outputs = {k: [artifact_class(spec["type"])(staged[k])] for k, spec in launch.node["outputs"].items()}
    pipe = launch.ir["pipeline"]
    # Small example data runs in-process whatever DirectRunner parallelism the args ask (small_input).
    beam_args = small_input.for_node([*pipe["beam_pipeline_args"], *launch.node["beam_pipeline_args"]],
                                     inputs, launch.exec_props)
    ctx = ExecContext(node_id=launch.node_id, run_id=launch.run_id, pipeline_name=launch.pipeline,
                      pipeline_root=launch.root, inputs=inputs, outputs=outputs,
                      exec_properties=launch.exec_props,
                      beam_pipeline_args=beam_args,
                      temp_dir=attempt.temp_dir, store=launch.store, log=log)
    attempt.fault_point("started")
    beat = recovery.Heartbeat(lambda: launch.store.update_execution(attempt.exec_id, {"heartbeat_at": time.time()}))
    with beat:
        launch.cls.execute(ctx)
    attempt.fault_point("executed")
    # What the executor left in ctx.outputs is what gets published: an output it dropped
    # (ctx.drop_output, e.g. BulkInferrer's output_examples without output_example_spec) is
    # not recorded, and its empty staging directory goes with the attempt's.
    remote.restore_uris(ctx.outputs, scratch_inputs)
    return ctx.outputs


def _publish(store: MetadataStore, attempt: Attempt, outputs: Outputs, contexts: list[Any]) -> None:
    """Fingerprint, rename (local root) or upload (remote root) into place, then commit: the
    MLMD write is the commit point. The local tree is fingerprinted before upload: the same
    algorithm gives the same digest on every backend, without reading the upload back."""
    place = attempt.upload_into_place if attempt.remote else attempt.move_into_place
    for key, arts in outputs.items():
        for index, art in enumerate(arts):
            if art.id is not None:  # an existing artifact (Resolver): recorded as is, never moved
                continue
            if art.is_external:  # registered where it is (Importer): never moved, never deleted
                continue
            art.custom_properties["fingerprint"] = cache.fingerprint_dir(art.uri)
            art.uri = place(key, index, art.uri)
    attempt.fault_point("renamed")  # on a remote root: uploaded, not yet committed
    store.finish_execution(attempt.exec_id, "COMPLETE", contexts, outputs, {"finished_at": time.time()})
    attempt.fault_point("committed")
    attempt.discard([])  # the staging directory only: outputs are LIVE now


def describe_error(err: BaseException) -> str:
    """User errors read as they are; anything else keeps its type for the reader."""
    if isinstance(err, (NodeError, ValueError, FileNotFoundError)) and str(err):
        return str(err)
    return f"{type(err).__name__}: {err}"
