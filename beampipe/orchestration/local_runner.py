"""Run a pipeline here, every node through the one launcher.

Built like Kedro's runners: ``LocalDagRunner.run`` does what every run needs
(compile, parameters, run state, and a cheap pass that settles every node the
cache can answer, so a fully cached re-run never imports Beam or TensorFlow),
then hands the rest to a ``Scheduler``:

- ``threads`` (default): a node starts as soon as its producers finish, up to
  ``parallelism`` at once; results come back through futures.
- ``beam``: the DAG runs as a Beam pipeline on DirectRunner, one stage per level
  (one more than the deepest producer's); each stage emits its NodeResults, the
  next level waits on them through a side input, and the run collects them. It
  pays Beam's stage overhead per level (benchmarks/orchestration_overhead.py),
  which is why it is not the default.

A run's state (reporter, worker threads' stores) lives in a ``_Run`` owned by
that ``run`` call, never at module level; its stores are closed however it ends.
"""
from __future__ import annotations

import datetime as dt
import json
import secrets
import threading
import time
from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from typing import Any, Callable, ClassVar

from beampipe import io
from beampipe.metadata.ids import check_path_id
from beampipe.metadata.owner import owner_token
from beampipe.metadata.store import MetadataStore
from beampipe.orchestration import exit_handler, ir as ir_mod, recovery, shipping
from beampipe.orchestration.launcher import (DONE, NodeError, NodeResult, open_store, resolve_parameters,
                                             run_node)
from beampipe.orchestration.pipeline import Pipeline
from beampipe.orchestration.python_gc import fewer_collections

# (node_id, "started" | "finished", result); called from worker threads, so it must be thread-safe.
Reporter = Callable[[str, str, "NodeResult | None"], None]


@dataclass
class RunResult:
    run_id: str
    status: str  # COMPLETE or FAILED (a node FAILED, or did not run because one did)
    nodes: dict[str, NodeResult] = field(default_factory=dict)
    seconds: float = 0.0
    exit_handler: NodeResult | None = None  # it runs after the run is closed; never changes ``status``

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


class _Run:
    """One run's working state, owned by one ``LocalDagRunner.run`` call and closed by it."""

    def __init__(self, ir: dict[str, Any], run_id: str, values: dict[str, Any], report: Reporter,
                 settled: dict[str, NodeResult]) -> None:
        self.ir, self.run_id, self.values, self.report = ir, run_id, values, report
        self.settled = {node_id: r.status for node_id, r in settled.items()}
        self._stores: dict[int, MetadataStore] = {}
        self._lock = threading.Lock()

    def run_node(self, node_id: str, statuses: dict[str, str]) -> NodeResult:
        """Run one node unless a producer failed or did not run; the node's errors become its result."""
        known = {**self.settled, **statuses}
        upstream = ir_mod.node(self.ir, node_id)["upstream"]
        blocked = [u for u in upstream if known.get(u, "COMPLETE") not in (*DONE, "SKIPPED")]
        if blocked:
            result = NodeResult(node_id, "NOT_RUN", error=f"upstream node '{blocked[0]}' did not complete")
        else:
            self.report(node_id, "started", None)
            try:
                result = run_node(self.ir, node_id, self.run_id, self.values, self._store())
            except Exception as err:  # resolution errors: a FAILED node, never a Beam retry
                result = NodeResult(node_id, "FAILED", error=str(err) or type(err).__name__)
        self.report(node_id, "finished", result)
        return result

    def _store(self) -> MetadataStore:
        """This thread's store: MLMD handles are not shared across threads."""
        with self._lock:
            key = threading.get_ident()
            if key not in self._stores:
                self._stores[key] = open_store(self.ir)
            return self._stores[key]

    def close(self) -> None:
        with self._lock:
            stores, self._stores = list(self._stores.values()), {}
        for store in stores:
            store.close()


class Scheduler(ABC):
    """How the nodes the cache could not settle get run (Kedro's ``AbstractRunner._run``)."""

    name: ClassVar[str]

    def __init__(self, parallelism: int) -> None:
        self.parallelism = parallelism

    @abstractmethod
    def run(self, job: _Run, pending: list[str]) -> dict[str, NodeResult]:
        """Run ``pending`` (in topological order) through ``job.run_node``; a result for each."""


class ThreadScheduler(Scheduler):
    """A node starts as soon as its producers finish, up to ``parallelism`` at once."""

    name = "threads"

    def run(self, job: _Run, pending: list[str]) -> dict[str, NodeResult]:
        from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait

        wanted = set(pending)
        waiting = {n: [u for u in ir_mod.node(job.ir, n)["upstream"] if u in wanted] for n in pending}
        results: dict[str, NodeResult] = {}
        running: dict[Future[NodeResult], str] = {}
        with ThreadPoolExecutor(self.parallelism, thread_name_prefix="beampipe-node") as pool:
            while waiting or running:
                for node_id in [n for n, ups in waiting.items() if all(u in results for u in ups)]:
                    del waiting[node_id]
                    statuses = {n: r.status for n, r in results.items()}
                    running[pool.submit(job.run_node, node_id, statuses)] = node_id
                if not running:
                    break
                finished, _ = wait(running, return_when=FIRST_COMPLETED)
                for future in finished:
                    results[running.pop(future)] = future.result()
        return results


class BeamScheduler(Scheduler):
    """The DAG as a Beam pipeline on DirectRunner (multi_threading: DoFns run in this process)."""

    name = "beam"

    def run(self, job: _Run, pending: list[str]) -> dict[str, NodeResult]:
        import apache_beam as beam
        from apache_beam.options.pipeline_options import PipelineOptions
        from apache_beam.pvalue import AsList, AsSingleton
        from apache_beam.utils.shared import Shared

        # Beam pickles every step; the copies find this run's live _Sink again through
        # the Shared handle (a key into Beam's per-process map of weak references).
        sink, handle = _Sink(job), Shared()
        handle.acquire(lambda: sink)
        options = PipelineOptions(["--runner=DirectRunner", f"--direct_num_workers={self.parallelism}",
                                   "--direct_running_mode=multi_threading"])
        try:
            with beam.Pipeline(options=options) as p:
                statuses = p | "Start" >> beam.Create([{}])
                emitted = []
                for i, level in enumerate(levels(job.ir, pending)):
                    ran = (p | f"Level{i}" >> beam.Create(level)
                           | f"Spread{i}" >> beam.Reshuffle()
                           | f"Run{i}" >> beam.Map(_Step(handle, "run_node"), statuses=AsSingleton(statuses)))
                    statuses = (p | f"Gather{i}" >> beam.Create([None])
                                | f"Merge{i}" >> beam.Map(_merge, before=AsSingleton(statuses), new=AsList(ran)))
                    emitted.append(ran)
                _ = tuple(emitted) | "Results" >> beam.Flatten() | "Collect" >> beam.Map(_Step(handle, "collect"))
            return dict(sink.results)
        finally:
            sink.job, sink.results = None, {}  # Beam's map keeps the last object alive: leave it empty


class _Sink:
    """What the Beam steps of one run reach: the run, and a place for the results they emit."""

    def __init__(self, job: _Run) -> None:
        self.job: _Run | None = job
        self.results: dict[str, NodeResult] = {}
        self._lock = threading.Lock()

    def run_node(self, node_id: str, statuses: dict[str, str]) -> NodeResult:
        assert self.job is not None, "a Beam step outlived its run"
        return self.job.run_node(node_id, statuses)

    def collect(self, result: NodeResult) -> None:
        with self._lock:
            self.results[result.node_id] = result


class _Step:
    """A Beam step body that pickles as a Shared handle and calls a method of the live _Sink."""

    def __init__(self, handle: Any, method: str) -> None:
        self.handle, self.method = handle, method

    def __call__(self, *args, **kwargs):  # unannotated: Beam would type-check **kwargs against Any
        return getattr(self.handle.acquire(_run_is_over), self.method)(*args, **kwargs)


def _run_is_over() -> None:
    raise RuntimeError("a Beam step outlived the run it belongs to")


def _merge(_: Any, before: dict[str, str], new: list[NodeResult]) -> dict[str, str]:
    return {**before, **{r.node_id: r.status for r in new}}


class LocalDagRunner:
    """Runs a Pipeline (or its IR) on this machine; TFX's LocalDagRunner().run(pipeline)."""

    SCHEDULERS: ClassVar[tuple[type[Scheduler], ...]] = (ThreadScheduler, BeamScheduler)

    def __init__(self, parallelism: int = 2, reporter: Reporter | None = None,
                 orchestrator: str = "threads") -> None:
        names = [s.name for s in self.SCHEDULERS]
        if orchestrator not in names:
            raise ValueError(f"orchestrator must be one of {names}, not {orchestrator!r}")
        self.parallelism = max(1, parallelism)
        self.reporter = reporter
        self.orchestrator = orchestrator
        self.scheduler = next(s for s in self.SCHEDULERS if s.name == orchestrator)(self.parallelism)
        self._exit_handler: Any = None

    def set_exit_handler(self, exit_handler: Any) -> None:
        """Run this ``@exit_handler`` component after every run, whatever its outcome (the
        spelling of TFX's KubeflowV2DagRunner; TFX's own LocalDagRunner has none)."""
        self._exit_handler = exit_handler

    def run(self, pipeline: Pipeline | dict[str, Any], params: dict[str, Any] | None = None,
            run_id: str | None = None, from_node: str | None = None,
            to_node: str | None = None, run_options: Any = None) -> RunResult:
        """Run the pipeline; TFX's ``run(pipeline)`` and ``run(pipeline, run_options=RunOptions(
        from_nodes=[...], to_nodes=[...]))`` (one node each) work as they are."""
        started = time.time()
        from_node, to_node = _partial_run(run_options, from_node, to_node)
        ir = pipeline if isinstance(pipeline, dict) else \
            ir_mod.compile_pipeline(pipeline, keep_secrets=True, exit_handler=self._exit_handler)
        source_file = ir["pipeline"].get("source_file")  # before shipping: the path the user typed
        if io.is_remote(ir["pipeline"]["root"]):
            ir = _ship_code(ir)
        pipe = ir["pipeline"]
        values = resolve_parameters(ir, params or {})
        run_id = run_id or new_run_id(pipe["name"])
        node_ids = select_nodes(ir, from_node, to_node)
        report = self.reporter or (lambda *_: None)
        check_path_id("run id", run_id)
        store = open_store(ir)  # creates a local pipeline root on the first run
        status = "FAILED"  # what the run context says if anything below raises
        try:
            # What killed runs left behind: RUNNING executions and runs, staging, half-published outputs.
            recovery.reclaim_pipeline(store, pipe["root"], pipe["name"])
            store.set_run_state(pipe["name"], run_id, "RUNNING", params=json.dumps(values),
                                nodes=json.dumps(node_ids), owner=owner_token(), heartbeat_at=time.time(),
                                **_run_record(ir, node_ids, source_file))
            with recovery.Heartbeat(lambda: store.update_run(run_id, {"heartbeat_at": time.time()})), \
                    fewer_collections():
                results = self._settle_from_cache(ir, node_ids, run_id, values, store, report)
                pending = [n for n in node_ids if n not in results]
                if pending:
                    job = _Run(ir, run_id, values, report, results)
                    try:
                        results.update(self.scheduler.run(job, pending))
                    finally:
                        job.close()
            failed = any(r.status in ("FAILED", "NOT_RUN") for r in results.values())
            status = "FAILED" if failed else "COMPLETE"
        finally:
            try:
                store.set_run_state(pipe["name"], run_id, status)
                handled = _run_exit_handler(ir, run_id, values, store, report)
            finally:
                store.close()
        return RunResult(run_id, status, {n: results[n] for n in node_ids if n in results},
                         time.time() - started, handled)

    @staticmethod
    def _settle_from_cache(ir: dict[str, Any], node_ids: list[str], run_id: str, values: dict[str, Any],
                           store: MetadataStore, report: Reporter) -> dict[str, NodeResult]:
        """Cache hits and skips whose producers are settled too: no Beam, no TF, no threads."""
        results: dict[str, NodeResult] = {}
        for node_id in node_ids:
            upstream = ir_mod.node(ir, node_id)["upstream"]
            if any(u in node_ids and u not in results for u in upstream):
                continue
            result = run_node(ir, node_id, run_id, values, store, allow_execute=False)
            if result is not None:
                results[node_id] = result
                report(node_id, "finished", result)
        return results


def _run_exit_handler(ir: dict[str, Any], run_id: str, values: dict[str, Any], store: MetadataStore,
                      report: Reporter) -> NodeResult | None:
    """The IR's exit handler, once the run is closed; its failure is its own result, never the run's."""
    handler = exit_handler.handler_id(ir)
    if handler is None:
        return None
    report(handler, "started", None)
    try:
        result = run_node(ir, handler, run_id, values, store)
    except Exception as err:  # noqa: BLE001 - reported like a node's failure
        result = NodeResult(handler, "FAILED", error=str(err) or type(err).__name__)
    report(handler, "finished", result)
    return result


def _run_record(ir: dict[str, Any], node_ids: list[str], source_file: Any) -> dict[str, str]:
    """What ``beampipe ui`` reads back: the DAG (edges among this run's nodes), the root
    (for the node logs) and the pipeline file (for the resume command)."""
    dag = {n: [u for u in ir_mod.node(ir, n)["upstream"] if u in node_ids] for n in node_ids}
    record = {"dag": json.dumps(dag, sort_keys=True), "pipeline_root": ir["pipeline"]["root"]}
    if isinstance(source_file, str) and source_file:
        record["source_file"] = source_file
    return record


def _partial_run(options: Any, from_node: str | None, to_node: str | None) -> tuple[str | None, str | None]:
    """TFX's RunOptions(from_nodes=[...], to_nodes=[...]) as beampipe's one node each way."""
    if options is None:
        return from_node, to_node
    picked = []
    for name in ("from_nodes", "to_nodes"):
        nodes = list(getattr(options, name, None) or [])
        if len(nodes) > 1:
            raise NodeError(f"run_options.{name}={nodes}: beampipe runs from one node and to one node")
        picked.append(nodes[0] if nodes else None)
    return picked[0] or from_node, picked[1] or to_node


def _ship_code(ir: dict[str, Any]) -> dict[str, Any]:
    """On an object-store root, record module files as their shipped copies under
    ``<root>/_code/``, as a compiled pipeline does: runs on every backend then name (and cache
    on) the same code, which any machine can fetch."""
    try:
        return shipping.ship_code(ir)
    except (io.code.CodeError, OSError) as err:
        raise NodeError(f"could not ship the pipeline's code to {ir['pipeline']['root']}/{io.code.CODE_DIR}: "
                        f"{err}") from err
