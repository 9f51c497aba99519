"""Lineage queries: who produced an artifact, what an execution read, what lies upstream."""
from __future__ import annotations

from typing import Any

from beampipe.metadata.artifacts import Artifact
from beampipe.metadata.store import MetadataStore


def producer_of(store: MetadataStore, artifact_id: int) -> dict[str, Any] | None:
    """The execution that first wrote this artifact (cached re-uses come later)."""
    events = store.call("get_events_by_artifact_ids", [artifact_id])
    writers = sorted(ev.execution_id for ev in events if ev.type == store.pb.Event.OUTPUT)
    return store.execution(writers[0]) if writers else None


def inputs_of(store: MetadataStore, execution_id: int) -> dict[str, list[Artifact]]:
    """The artifacts an execution read, by input key."""
    return store.artifacts_of(execution_id, kind="INPUT")


def outputs_of(store: MetadataStore, execution_id: int) -> dict[str, list[Artifact]]:
    """The artifacts an execution wrote (or re-used, when cached), by output key."""
    return store.artifacts_of(execution_id, kind="OUTPUT")


def upstream(store: MetadataStore, artifact_id: int) -> list[tuple[dict[str, Any], list[Artifact]]]:
    """Every execution upstream of an artifact with the artifacts it read, nearest first."""
    seen_exec: set[int] = set()
    frontier = [artifact_id]
    chain = []
    while frontier:
        next_frontier: list[int] = []
        for art_id in frontier:
            producer = producer_of(store, art_id)
            if producer is None or producer["id"] in seen_exec:
                continue
            seen_exec.add(producer["id"])
            read = [a for arts in inputs_of(store, producer["id"]).values() for a in arts]
            chain.append((producer, read))
            next_frontier.extend(a.id for a in read if a.id is not None)
        frontier = next_frontier
    return chain
