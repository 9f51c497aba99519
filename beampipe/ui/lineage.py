"""The lineage graph of one artifact across runs: artifact -> execution -> artifact through
MLMD events, walked level by level (a few batched queries per level, never one per node)
up to a depth in executions each way, and cut at MAX_NODES so a busy store stays readable.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from beampipe.metadata.store import MetadataStore

MAX_NODES = 150


@dataclass
class Lineage:
    artifacts: dict[int, Any] = field(default_factory=dict)  # id -> Artifact
    executions: dict[int, dict[str, Any]] = field(default_factory=dict)
    edges: set[tuple[str, str]] = field(default_factory=set)  # ("a12", "e7"), ("e7", "a13")
    column: dict[str, int] = field(default_factory=dict)  # graph key -> column (focus at 0)
    more: bool = False  # the depth or the size limit left something out


def walk(store: MetadataStore, artifact_id: int, depth: int) -> Lineage:
    """Upstream (producers, what they read, ...) and downstream (readers, what they wrote, ...)."""
    out = Lineage(column={f"a{artifact_id}": 0})
    out.artifacts.update({a.id: a for a in store.artifacts_by_id([artifact_id])})
    out.more = _direction(store, out, [artifact_id], depth, up=True) | \
        _direction(store, out, [artifact_id], depth, up=False)
    return out


def _direction(store: MetadataStore, out: Lineage, start: list[int], depth: int, up: bool) -> bool:
    pb = store.pb
    into, away = (pb.Event.OUTPUT, pb.Event.INPUT) if up else (pb.Event.INPUT, pb.Event.OUTPUT)
    step = -1 if up else 1
    frontier, level = start, 0
    while frontier:
        if level >= depth or _size(out) >= MAX_NODES:
            return _has_neighbours(store, frontier, into)
        events = [ev for ev in store.call("get_events_by_artifact_ids", frontier) if ev.type == into]
        if up:  # the producer is the first writer; later OUTPUT events are cached re-uses
            first: dict[int, int] = {}
            for ev in events:
                first[ev.artifact_id] = min(first.get(ev.artifact_id, ev.execution_id), ev.execution_id)
            events = [ev for ev in events if first[ev.artifact_id] == ev.execution_id]
        exec_ids = sorted({ev.execution_id for ev in events})
        new_execs = [i for i in exec_ids if f"e{i}" not in out.column]
        room = max(0, MAX_NODES - _size(out))
        cut = len(new_execs) > room
        new_execs = new_execs[:room]
        if new_execs:
            for e in store.call("get_executions_by_id", new_execs):
                out.executions[e.id] = store._execution_dict(e)
        col = (level * 2 + 1) * step
        for i in new_execs:
            out.column[f"e{i}"] = col
        for ev in events:
            a, e = f"a{ev.artifact_id}", f"e{ev.execution_id}"
            if e in out.column:
                out.edges.add((e, a) if up else (a, e))
        far = [ev for ev in store.call("get_events_by_execution_ids", new_execs) if ev.type == away] \
            if new_execs else []
        new_arts = sorted({ev.artifact_id for ev in far if f"a{ev.artifact_id}" not in out.column})
        room = max(0, MAX_NODES - _size(out))
        cut = cut or len(new_arts) > room
        new_arts = new_arts[:room]
        if new_arts:
            out.artifacts.update({a.id: a for a in store.artifacts_by_id(new_arts)})
        for i in new_arts:
            out.column[f"a{i}"] = col + step
        for ev in far:
            a, e = f"a{ev.artifact_id}", f"e{ev.execution_id}"
            if a in out.column:
                out.edges.add((a, e) if up else (e, a))
        if cut:
            return True
        frontier, level = new_arts, level + 1
    return False


def _size(out: Lineage) -> int:
    return len(out.artifacts) + len(out.executions)


def _has_neighbours(store: MetadataStore, frontier: list[int], kind: Any) -> bool:
    return any(ev.type == kind for ev in store.call("get_events_by_artifact_ids", frontier))
