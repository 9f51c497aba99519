"""Run a pipeline here, every node through the one launcher.

Two orchestrators schedule the nodes; both start with a cheap pass that settles
every node the cache can answer, so a fully cached re-run never imports Beam or
TensorFlow.

- ``threads`` (default): a wavefront scheduler; a node starts as soon as its
  producers finish, up to ``parallelism`` at once.
- ``beam``: the DAG itself runs as a Beam pipeline on DirectRunner. Nodes are
  grouped into levels (one more than the deepest producer's); each level is a
  Beam stage whose elements are node ids, a DoFn runs each node, the stage waits
  on the previous level through a side input, and with ``direct_num_workers``
  threads the nodes of one level run at the same time. It costs Beam's stage
  overhead per level (see benchmarks/orchestration_overhead.py), which is why
  it is not the default.
"""
from __future__ import annotations

import datetime as dt
import json
import secrets
import threading
import time
from dataclasses import dataclass, field
from typing import Any, Callable

from beampipe.metadata.store import MetadataStore
from beampipe.orchestration import ir as ir_mod
from beampipe.orchestration.launcher import DONE, NodeError, NodeResult, resolve_parameters, run_node
from beampipe.orchestration.pipeline import Pipeline

Reporter = Callable[[str, str, "NodeResult | None"], None]  # (node_id, event, result)
_REPORTERS: dict[str, Reporter] = {}
_STORES = threading.local()


@dataclass
class RunResult:
    run_id: str
    status: str  # COMPLETE or FAILED (a node FAILED, or did not run because one did)
    nodes: dict[str, NodeResult] = field(default_factory=dict)
    seconds: float = 0.0

    @property
    def failed(self) -> list[NodeResult]:
        return [r for r in self.nodes.values() if r.status == "FAILED"]


def new_run_id(pipeline_name: str) -> str:
    stamp = dt.datetime.now().strftime("%Y%m%d-%H%M%S")
    return f"{pipeline_name}-{stamp}-{secrets.token_hex(2)}"


def select_nodes(ir: dict[str, Any], from_node: str | None, to_node: str | None) -> list[str]:
    """Node ids to run: downstream of from_node and upstream of to_node (inclusive)."""
    order = [n["id"] for n in ir["nodes"]]
    ups = {n["id"]: set(n["upstream"]) for n in ir["nodes"]}
    for name in (from_node, to_node):
        if name is not None and name not in ups:
            raise NodeError(f"no node '{name}' in pipeline '{ir['pipeline']['name']}'; nodes are {order}")

    def closure(start: str, edges: dict[str, set[str]]) -> set[str]:
        seen, todo = {start}, [start]
        while todo:
            for nxt in edges[todo.pop()]:
                if nxt not in seen:
                    seen.add(nxt)
                    todo.append(nxt)
        return seen

    chosen = set(order)
    if from_node is not None:
        downs: dict[str, set[str]] = {n: set() for n in order}
        for n, us in ups.items():
            for u in us:
                downs[u].add(n)
        chosen &= closure(from_node, downs)
    if to_node is not None:
        chosen &= closure(to_node, ups)
    return [n for n in order if n in chosen]


def levels(ir: dict[str, Any], node_ids: list[str]) -> list[list[str]]:
    """Group nodes so every node's producers (among node_ids) sit in earlier groups."""
    wanted = set(node_ids)
    depth: dict[str, int] = {}
    for node in ir["nodes"]:  # the IR is in topological order
        if node["id"] in wanted:
            depth[node["id"]] = 1 + max((depth[u] for u in node["upstream"] if u in depth), default=-1)
    grouped: list[list[str]] = [[] for _ in range(max(depth.values(), default=-1) + 1)]
    for node_id in node_ids:
        grouped[depth[node_id]].append(node_id)
    return grouped


class LocalDagRunner:
    """Runs a Pipeline (or its IR) on this machine; TFX's LocalDagRunner().run(pipeline)."""

    def __init__(self, parallelism: int = 2, reporter: Reporter | None = None,
                 orchestrator: str = "threads") -> None:
        if orchestrator not in ("threads", "beam"):
            raise ValueError(f"orchestrator must be 'threads' or 'beam', not {orchestrator!r}")
        self.parallelism = max(1, parallelism)
        self.reporter = reporter
        self.orchestrator = orchestrator

    def run(self, pipeline: Pipeline | dict[str, Any], params: dict[str, Any] | None = None,
            run_id: str | None = None, from_node: str | None = None,
            to_node: str | None = None) -> RunResult:
        started = time.time()
        ir = pipeline if isinstance(pipeline, dict) else ir_mod.compile_pipeline(pipeline)
        pipe = ir["pipeline"]
        values = resolve_parameters(ir, params or {})
        run_id = run_id or new_run_id(pipe["name"])
        node_ids = select_nodes(ir, from_node, to_node)
        store = MetadataStore(pipe["metadata_uri"])
        store.contexts(pipe["name"], run_id)
        store.set_run_state(pipe["name"], run_id, "RUNNING", params=json.dumps(values),
                            nodes=json.dumps(node_ids))
        report = self.reporter or (lambda *_: None)
        results: dict[str, NodeResult] = {}
        upstream = {n["id"]: [u for u in n["upstream"] if u in node_ids] for n in ir["nodes"]}

        # Cheap pass: settle from the cache every node whose producers are settled.
        pending: list[str] = []
        for node_id in node_ids:
            if any(u in pending for u in upstream[node_id]):
                pending.append(node_id)
                continue
            result = run_node(ir, node_id, run_id, values, store, allow_execute=False)
            if result is None:
                pending.append(node_id)
            else:
                results[node_id] = result
                report(node_id, "finished", result)

        if pending:
            _REPORTERS[run_id] = report
            try:
                schedule = self._run_with_beam if self.orchestrator == "beam" else self._run_with_threads
                results.update(schedule(ir, pending, run_id, values, results))
            finally:
                _REPORTERS.pop(run_id, None)

        status = "FAILED" if any(r.status in ("FAILED", "NOT_RUN") for r in results.values()) else "COMPLETE"
        store.set_run_state(pipe["name"], run_id, status)
        store.close()
        return RunResult(run_id, status, {n: results[n] for n in node_ids if n in results},
                         time.time() - started)

    def _run_with_threads(self, ir: dict[str, Any], pending: list[str], run_id: str,
                          values: dict[str, Any], settled: dict[str, NodeResult]) -> dict[str, NodeResult]:
        from concurrent.futures import FIRST_COMPLETED, ThreadPoolExecutor, wait

        job = _NodeJob(ir, run_id, values)
        statuses = {k: r.status for k, r in settled.items()}
        waiting = {n["id"]: [u for u in n["upstream"] if u in pending]
                   for n in ir["nodes"] if n["id"] in pending}
        running: dict[Any, str] = {}
        with ThreadPoolExecutor(self.parallelism, thread_name_prefix="beampipe-node") as pool:
            while waiting or running:
                for node_id in [n for n, ups in waiting.items() if all(u in statuses for u in ups)]:
                    del waiting[node_id]
                    running[pool.submit(job, node_id, dict(statuses))] = node_id
                if not running:
                    break
                finished, _ = wait(running, return_when=FIRST_COMPLETED)
                for future in finished:
                    node_id, status = future.result()
                    statuses[node_id] = status
                    del running[future]
        return _RESULTS.pop(run_id, {})

    def _run_with_beam(self, ir: dict[str, Any], pending: list[str], run_id: str,
                       values: dict[str, Any], settled: dict[str, NodeResult]) -> dict[str, NodeResult]:
        import apache_beam as beam
        from apache_beam.options.pipeline_options import PipelineOptions

        options = PipelineOptions([
            "--runner=DirectRunner", f"--direct_num_workers={self.parallelism}",
            "--direct_running_mode=multi_threading"])
        collected: dict[str, NodeResult] = {}
        job = _NodeJob(ir, run_id, values)
        with beam.Pipeline(options=options) as p:
            done = p | "Settled" >> beam.Create([{k: r.status for k, r in settled.items()}])
            for i, level in enumerate(levels(ir, pending)):
                ran = (p | f"Level{i}" >> beam.Create(level)
                       | f"Spread{i}" >> beam.Reshuffle()
                       | f"Run{i}" >> beam.Map(job, statuses=beam.pvalue.AsSingleton(done)))
                done = (p | f"Gather{i}" >> beam.Create([None])
                        | f"Merge{i}" >> beam.Map(_merge, before=beam.pvalue.AsSingleton(done),
                                                  new=beam.pvalue.AsList(ran)))
        collected.update(_RESULTS.pop(run_id, {}))
        return collected


_RESULTS: dict[str, dict[str, NodeResult]] = {}
_RESULTS_LOCK = threading.Lock()


def _merge(_: Any, before: dict[str, str], new: list[tuple[str, str]]) -> dict[str, str]:
    return {**before, **dict(new)}


class _NodeJob:
    """The DoFn body: run one node unless an upstream node failed or did not run."""

    def __init__(self, ir: dict[str, Any], run_id: str, values: dict[str, Any]) -> None:
        self.ir, self.run_id, self.values = ir, run_id, values

    def __call__(self, node_id: str, statuses: dict[str, str]) -> tuple[str, str]:
        node = ir_mod.node(self.ir, node_id)
        report = _REPORTERS.get(self.run_id, lambda *_: None)
        blocked = [u for u in node["upstream"] if statuses.get(u, "COMPLETE") not in (*DONE, "SKIPPED")]
        if blocked:
            result = NodeResult(node_id, "NOT_RUN", error=f"upstream node '{blocked[0]}' did not complete")
        else:
            report(node_id, "started", None)
            try:
                result = run_node(self.ir, node_id, self.run_id, self.values, _store(self.ir))
            except Exception as err:  # resolution errors: never let Beam retry a node
                result = NodeResult(node_id, "FAILED", error=str(err))
        with _RESULTS_LOCK:
            _RESULTS.setdefault(self.run_id, {})[node_id] = result
        report(node_id, "finished", result)
        return node_id, result.status


def _store(ir: dict[str, Any]) -> MetadataStore:
    """One store connection per worker thread (MLMD handles are not shared across threads)."""
    uri = ir["pipeline"]["metadata_uri"]
    stores = getattr(_STORES, "by_uri", None)
    if stores is None:
        stores = _STORES.by_uri = {}
    if uri not in stores:
        stores[uri] = MetadataStore(uri)
    return stores[uri]
