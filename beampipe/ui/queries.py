"""Read-only MLMD queries behind the pages, batched so a page costs a handful of queries.

A store with 1,000 runs must answer the runs page in well under 300 ms: the run contexts
come in one query (filters and paging on them are cheap in Python), and only the shown
page's executions are read, in one filtered query when MLMD accepts it. Nothing here
writes: no ``type_id``/``contexts`` (they create), only ``get_*`` calls.
"""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from beampipe.metadata.artifacts import Artifact
from beampipe.metadata.owner import owner_alive
from beampipe.metadata.store import RUN_CONTEXT, MetadataStore, _props

STATES = ("RUNNING", "COMPLETE", "FAILED")
# Execution state (and the 'skipped' property) -> what the UI calls a node.
NODE_STATES = ("COMPLETE", "CACHED", "FAILED", "SKIPPED", "RUNNING", "NOT_RUN")


@dataclass
class RunRow:
    """One run as the runs page shows it."""

    run_id: str
    pipeline: str
    state: str
    started_at: float | None
    finished_at: float | None
    params: dict[str, Any]
    props: dict[str, Any]
    context_id: int
    counts: dict[str, int] = field(default_factory=dict)

    @property
    def duration(self) -> float | None:
        if not self.started_at:
            return None
        if self.finished_at:
            return max(0.0, self.finished_at - self.started_at)
        return None


@dataclass
class NodeView:
    """One node of a run: its latest execution (retries: the last attempt counts)."""

    node_id: str
    state: str = "NOT_RUN"
    execution: dict[str, Any] | None = None
    inputs: list[tuple[str, Artifact]] = field(default_factory=list)
    outputs: list[tuple[str, Artifact]] = field(default_factory=list)

    @property
    def duration(self) -> float | None:
        ex = self.execution or {}
        start, end = ex.get("started_at"), ex.get("finished_at")
        return max(0.0, end - start) if start and end else None

    @property
    def error(self) -> str:
        ex = self.execution or {}
        return str(ex.get("error") or ex.get("skipped") or "")


@dataclass
class RunDetail:
    run: RunRow
    nodes: dict[str, NodeView]
    edges: list[tuple[str, str]]


def _row(store: MetadataStore, ctx: Any) -> RunRow:
    props = _props(ctx.custom_properties, store._pg)
    state = str(props.get("state") or "?")
    if state == "RUNNING" and props.get("owner") and not owner_alive(props):
        state = "FAILED"  # its process is gone (recovery closes it on the next run)
    try:
        params = json.loads(props.get("params") or "{}")
    except ValueError:
        params = {}
    return RunRow(ctx.name, str(props.get("pipeline") or ""), state, props.get("started_at"),
                  props.get("finished_at"), params if isinstance(params, dict) else {}, props, ctx.id)


def list_runs(store: MetadataStore, pipeline: str | None = None, state: str | None = None,
              page: int = 1, per_page: int = 50) -> tuple[list[RunRow], int, list[str]]:
    """(the page's runs, newest first, with node counts; how many match; every pipeline name)."""
    rows = [_row(store, c) for c in store.call("get_contexts_by_type", RUN_CONTEXT)]
    pipelines = sorted({r.pipeline for r in rows if r.pipeline})
    rows = [r for r in rows if (not pipeline or r.pipeline == pipeline) and (not state or r.state == state)]
    rows.sort(key=lambda r: (r.started_at or 0, r.context_id), reverse=True)
    shown = rows[(page - 1) * per_page: page * per_page]
    by_run = _executions_of_runs(store, shown)
    for r in shown:
        nodes = _latest_by_node(by_run.get(r.context_id, []))
        counts = {s: 0 for s in NODE_STATES}
        for ex in nodes.values():
            counts[node_state(ex)] += 1
        recorded = _json_list(r.props.get("nodes"))
        counts["NOT_RUN"] = len([n for n in recorded if n not in nodes])
        r.counts = counts
    return shown, len(rows), pipelines


def _executions_of_runs(store: MetadataStore, runs: list[RunRow]) -> dict[int, list[dict[str, Any]]]:
    """Executions of several runs by run context id: one query filtered on the contexts, or
    one query per run when the store's MLMD refuses the filter."""
    if not runs:
        return {}
    by_name = {r.run_id: r.context_id for r in runs}
    found: dict[int, list[dict[str, Any]]] = {r.context_id: [] for r in runs}
    ids = ", ".join(str(r.context_id) for r in runs)
    try:
        execs = store.call("get_executions", list_options=store.pb_list_options(f"contexts_r.id IN ({ids})"))
    except Exception:  # noqa: BLE001 - an MLMD without IN filters: fall back to one query per run
        execs = None
    if execs is None:
        for r in runs:
            found[r.context_id] = [store._execution_dict(e)
                                   for e in store.call("get_executions_by_context", r.context_id)]
        return found
    for e in execs:
        ex = store._execution_dict(e)
        ctx_id = by_name.get(str(ex.get("run_id")))
        if ctx_id is not None:
            found[ctx_id].append(ex)
    return found


def node_state(ex: dict[str, Any]) -> str:
    state = ex.get("state", "")
    if state == "CANCELED":
        return "SKIPPED"
    return state if state in NODE_STATES else "FAILED" if state == "ABANDONED" else "RUNNING" \
        if state in ("NEW", "UNKNOWN") else "FAILED"


def _latest_by_node(execs: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    latest: dict[str, dict[str, Any]] = {}
    for ex in sorted(execs, key=lambda e: e["id"]):
        latest[str(ex.get("node_id", "?"))] = ex
    return latest


def _json_list(raw: Any) -> list[str]:
    try:
        value = json.loads(raw) if raw else []
    except ValueError:
        return []
    return [str(v) for v in value] if isinstance(value, list) else []


def run_detail(store: MetadataStore, run_id: str) -> RunDetail | None:
    """A run with its nodes (state, execution, artifacts in and out) and the DAG's edges."""
    ctx = store.call("get_context_by_type_and_name", RUN_CONTEXT, run_id)
    if ctx is None:
        return None
    run = _row(store, ctx)
    latest = _latest_by_node([store._execution_dict(e) for e in store.call("get_executions_by_context", ctx.id)])
    order = _json_list(run.props.get("nodes"))
    order += [n for n in sorted(latest, key=lambda n: latest[n]["id"]) if n not in order]
    nodes = {n: NodeView(n) for n in order}
    for node_id, ex in latest.items():
        nodes[node_id].execution, nodes[node_id].state = ex, node_state(ex)
    by_exec = {ex["id"]: node_id for node_id, ex in latest.items()}
    events = store.call("get_events_by_execution_ids", list(by_exec)) if by_exec else []
    arts = {a.id: a for a in store.artifacts_by_id({ev.artifact_id for ev in events})} if events else {}
    producer_of: dict[int, str] = {}
    for ev in sorted(events, key=lambda e: (e.execution_id, _index(e))):
        node, art = nodes[by_exec[ev.execution_id]], arts.get(ev.artifact_id)
        if art is None:
            continue
        if ev.type == store.pb.Event.OUTPUT:
            node.outputs.append((_key(ev), art))
            producer_of.setdefault(art.id, node.node_id)
        elif ev.type == store.pb.Event.INPUT:
            node.inputs.append((_key(ev), art))
    return RunDetail(run, nodes, _edges(run, nodes, producer_of))


def _edges(run: RunRow, nodes: dict[str, NodeView], producer_of: dict[int, str]) -> list[tuple[str, str]]:
    """The recorded DAG when the run has one; else producer -> consumer through this run's events."""
    try:
        dag = json.loads(run.props.get("dag") or "null")
    except ValueError:
        dag = None
    edges: set[tuple[str, str]] = set()
    if isinstance(dag, dict):
        edges = {(str(u), str(n)) for n, ups in dag.items() for u in ups if str(u) in nodes and n in nodes}
    for node in nodes.values():
        for _, art in node.inputs:
            producer = producer_of.get(art.id or -1)
            if producer and producer != node.node_id:
                edges.add((producer, node.node_id))
    return sorted(edges)


def _key(ev: Any) -> str:
    return next((s.key for s in ev.path.steps if s.HasField("key")), "")


def _index(ev: Any) -> int:
    return next((s.index for s in ev.path.steps if s.HasField("index")), 0)


@dataclass
class ArtifactDetail:
    artifact: Artifact
    producer: dict[str, Any] | None
    consumers: list[dict[str, Any]]
    reused_by: list[dict[str, Any]]  # cached executions that recorded it as their output


def artifact_detail(store: MetadataStore, artifact_id: int) -> ArtifactDetail | None:
    found = store.artifacts_by_id([artifact_id])
    if not found:
        return None
    events = store.call("get_events_by_artifact_ids", [artifact_id])
    execs = {e.id: store._execution_dict(e)
             for e in store.call("get_executions_by_id", sorted({ev.execution_id for ev in events}))} \
        if events else {}
    writers = sorted(ev.execution_id for ev in events if ev.type == store.pb.Event.OUTPUT)
    readers = sorted(ev.execution_id for ev in events if ev.type == store.pb.Event.INPUT)
    producer = execs.get(writers[0]) if writers else None
    return ArtifactDetail(found[0], producer, [execs[i] for i in readers if i in execs],
                          [execs[i] for i in writers[1:] if i in execs])


def run_record(store: MetadataStore, run_id: str) -> RunRow | None:
    ctx = store.call("get_context_by_type_and_name", RUN_CONTEXT, run_id)
    return None if ctx is None else _row(store, ctx)
