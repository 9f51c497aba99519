"""The MLMD store: record runs, executions and artifacts; read them back.

Contexts follow TFX: one per pipeline, one per pipeline run, one per node.
Every execution is attached to all three, so "what ran in run R" and "every
execution of node N" are single context queries.
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from typing import Any, Iterable

from beampipe.metadata.artifacts import Artifact, artifact_class
from beampipe.metadata.connection import (Guard, MetadataConfigError, connection_config, connection_error,
                                          redact, sqlite_path, store_kind, with_retries)
from beampipe.metadata.owner import owner_alive

PIPELINE_CONTEXT = "pipeline"
RUN_CONTEXT = "pipeline_run"
NODE_CONTEXT = "node"

Outputs = dict[str, list[Artifact]]


class MetadataStore:
    """A thin, retrying, lock-guarded wrapper around ml_metadata's MetadataStore."""

    def __init__(self, uri: str) -> None:
        from ml_metadata.metadata_store import metadata_store
        from ml_metadata.proto import metadata_store_pb2

        self.uri = uri
        self.pb = metadata_store_pb2
        # ml-metadata 1.16's PostgreSQL source quotes a string holding a backslash as
        # 'E'...'' (a syntax error): such strings are stored with the backslash swapped for
        # a private-use character, and swapped back when read.
        self._pg = store_kind(uri) == "postgresql"
        config = connection_config(uri)
        self._guard = Guard(uri)
        try:
            # Schema creation on an empty database races between processes: exclusive.
            with self._guard.exclusive():
                db_path = sqlite_path(uri)
                if db_path is not None and not os.path.exists(db_path):
                    _create_wal_database(db_path)
                self._mlmd = with_retries(lambda: metadata_store.MetadataStore(config), what="connect",
                                          extra_retryable=_CONNECT_RETRYABLE, attempts=8)
        except MetadataConfigError:
            self._guard.close()
            raise
        except Exception as err:  # MLMD's and the drivers' own error classes
            self._guard.close()
            raise connection_error(uri, err) from None
        self._type_ids: dict[tuple[str, str], int] = {}

    def close(self) -> None:
        """Drop the MLMD connection (its C++ destructor closes it) and the locks' handles."""
        with self._guard.held():
            self._mlmd = None
        self._guard.close()

    # -- plumbing ------------------------------------------------------------
    def call(self, method: str, *args: Any, **kwargs: Any) -> Any:
        """Call an MLMD method under the guard, retrying transient errors."""
        if self._mlmd is None:
            raise RuntimeError(f"metadata store {redact(self.uri)} is closed")
        fn = getattr(self._mlmd, method)
        with self._guard.held():
            return with_retries(lambda: fn(*args, **kwargs), what=method)

    def type_id(self, kind: str, name: str, properties: dict[str, type] | None = None) -> int:
        """The type's id, created (or given new fields) once per process, under the
        store-wide exclusive lock so concurrent first runs never duplicate a type."""
        key = (kind, name)
        if key not in self._type_ids:
            cls = {"artifact": self.pb.ArtifactType, "execution": self.pb.ExecutionType,
                   "context": self.pb.ContextType}[kind]
            t = cls(name=name)
            for prop, ptype in (properties or {}).items():
                t.properties[prop] = _PROP_TYPES[ptype](self.pb)
            with self._guard.exclusive():
                self._type_ids[key] = self.call(f"put_{kind}_type", t, can_add_fields=True)
        return self._type_ids[key]

    def existing_type_id(self, kind: str, name: str) -> int | None:
        """The type's id if the store has it; never creates it."""
        if (kind, name) in self._type_ids:
            return self._type_ids[(kind, name)]
        try:
            t = self.call(f"get_{kind}_type", name)
        except Exception as err:  # MLMD's NotFoundError
            if "not found" in str(err).lower() or "notfound" in type(err).__name__.lower():
                return None
            raise
        self._type_ids[(kind, name)] = t.id
        return t.id

    # -- contexts and runs ---------------------------------------------------
    def contexts(self, pipeline: str, run_id: str, node_id: str | None = None) -> list[Any]:
        """The pipeline, run (and node) contexts, created on first use."""
        wanted = [(PIPELINE_CONTEXT, pipeline), (RUN_CONTEXT, run_id)]
        if node_id is not None:
            wanted.append((NODE_CONTEXT, f"{pipeline}.{node_id}"))
        found = []
        for type_name, name in wanted:
            ctx = self.call("get_context_by_type_and_name", type_name, name)
            if ctx is None:
                ctx = self._create_context(type_name, name, pipeline)
            found.append(ctx)
        return found

    def _create_context(self, type_name: str, name: str, pipeline: str) -> Any:
        """Create a context under the exclusive lock; if another process won the race,
        read theirs (no retry loop: a lost race is settled by one re-read)."""
        type_id = self.type_id("context", type_name)
        with self._guard.exclusive():
            ctx = self.call("get_context_by_type_and_name", type_name, name)
            if ctx is not None:
                return ctx
            ctx = self.pb.Context(type_id=type_id, name=name)
            if type_name == RUN_CONTEXT:
                _set(ctx.custom_properties, "pipeline", pipeline, self._pg)
                _set(ctx.custom_properties, "state", "RUNNING", self._pg)
                _set(ctx.custom_properties, "started_at", time.time(), self._pg)
            try:
                [ctx.id] = self.call("put_contexts", [ctx])
            except Exception:  # created meanwhile by a process that does not take our lock
                ctx = self.call("get_context_by_type_and_name", type_name, name)
                if ctx is None:
                    raise
            return ctx

    def set_run_state(self, pipeline: str, run_id: str, state: str, **props: Any) -> None:
        ctx = self.contexts(pipeline, run_id)[1]
        _set(ctx.custom_properties, "state", state, self._pg)
        if state in ("COMPLETE", "FAILED"):
            _set(ctx.custom_properties, "finished_at", time.time(), self._pg)
        for key, value in props.items():
            _set(ctx.custom_properties, key, value, self._pg)
        self.call("put_contexts", [ctx])

    def runs(self, pipeline: str | None = None, limit: int = 20) -> list[dict[str, Any]]:
        """Recent runs, newest first, as plain dicts."""
        ctxs = self.call("get_contexts_by_type", RUN_CONTEXT)
        rows = []
        for ctx in ctxs:
            props = _props(ctx.custom_properties, self._pg)
            if pipeline and props.get("pipeline") != pipeline:
                continue
            row = {"run_id": ctx.name, "context_id": ctx.id, **props}
            if row.get("state") == "RUNNING" and row.get("owner") and not owner_alive(row):
                row["state"], row["abandoned"] = "FAILED", "its process is gone"
            rows.append(row)
        rows.sort(key=lambda r: r.get("started_at", 0), reverse=True)
        return rows[:limit]

    def run(self, run_id: str) -> dict[str, Any] | None:
        """One run's recorded properties (None if unknown)."""
        ctx = self.call("get_context_by_type_and_name", RUN_CONTEXT, run_id)
        return None if ctx is None else {"run_id": ctx.name, "context_id": ctx.id,
                                         **_props(ctx.custom_properties, self._pg)}

    # -- executions ----------------------------------------------------------
    def start_execution(self, type_name: str, contexts: list[Any], inputs: Outputs,
                        props: dict[str, Any]) -> int:
        """Record a RUNNING execution with its input events; return its id."""
        return self.record_execution(type_name, "RUNNING", contexts, inputs, None, props)

    def record_execution(self, type_name: str, state: str, contexts: list[Any], inputs: Outputs,
                         outputs: Outputs | None, props: dict[str, Any]) -> int:
        """One put_execution: an execution in its state with input and output events.

        Used alone for executions that do no work (CACHED, skipped), so they cost
        one transaction.
        """
        execution = self.pb.Execution(type_id=self.type_id("execution", type_name),
                                      last_known_state=getattr(self.pb.Execution, state))
        for key, value in props.items():
            _set(execution.custom_properties, key, value, self._pg)
        events = [pair for _, pair in self._events("INPUT", inputs)]
        events += [pair for _, pair in self._events("OUTPUT", outputs or {})]
        exec_id, _, _ = self.call("put_execution", execution, events, contexts,
                                  reuse_context_if_already_exist=True)
        return exec_id

    def finish_execution(self, exec_id: int, state: str, contexts: list[Any],
                         outputs: Outputs | None = None, props: dict[str, Any] | None = None) -> None:
        """One put_execution: the final state, the output artifacts and their events.

        New output artifacts (no id yet) become LIVE in the same transaction.
        """
        [execution] = self.call("get_executions_by_id", [exec_id])
        execution.last_known_state = getattr(self.pb.Execution, state)
        for key, value in (props or {}).items():
            _set(execution.custom_properties, key, value, self._pg)
        for arts in (outputs or {}).values():
            for art in arts:
                if art.id is None:
                    art.state = "LIVE"
        kept = self._events("OUTPUT", outputs or {})
        _, art_ids, _ = self.call("put_execution", execution, [pair for _, pair in kept], contexts,
                                  reuse_context_if_already_exist=True)
        for (art, _), art_id in zip(kept, art_ids):
            art.id = art_id

    def execution(self, exec_id: int) -> dict[str, Any]:
        [e] = self.call("get_executions_by_id", [exec_id])
        return self._execution_dict(e)

    def executions_in_context(self, context_type: str, name: str) -> list[dict[str, Any]]:
        ctx = self.call("get_context_by_type_and_name", context_type, name)
        if ctx is None:
            return []
        return [self._execution_dict(e) for e in self.call("get_executions_by_context", ctx.id)]

    def all_executions(self) -> list[dict[str, Any]]:
        """Every execution in the store, in every state (``beampipe gc`` reads them once)."""
        return [self._execution_dict(e) for e in self.call("get_executions")]

    def find_cached(self, type_name: str, cache_key: str) -> list[int]:
        """COMPLETE executions with this cache key, newest first."""
        if not all(c.isalnum() for c in cache_key):
            raise ValueError(f"cache key {cache_key!r} is not a hex digest")
        tid = self.existing_type_id("execution", type_name)
        if tid is None:
            return []
        query = f"custom_properties.cache_key.string_value = '{cache_key}'"
        opts = self.pb_list_options(query)
        found = [e for e in self.call("get_executions", list_options=opts)
                 if e.type_id == tid and e.last_known_state == self.pb.Execution.COMPLETE]
        return sorted((e.id for e in found), reverse=True)

    def running_executions(self, context_type: str, name: str) -> list[dict[str, Any]]:
        """Executions still recorded RUNNING in one context (live or abandoned)."""
        return [e for e in self.executions_in_context(context_type, name) if e["state"] == "RUNNING"]

    def update_execution(self, exec_id: int, props: dict[str, Any]) -> None:
        """Set custom properties of an execution, keeping its state (heartbeats)."""
        [execution] = self.call("get_executions_by_id", [exec_id])
        for key, value in props.items():
            _set(execution.custom_properties, key, value, self._pg)
        self.call("put_executions", [execution])

    def update_run(self, run_id: str, props: dict[str, Any]) -> None:
        ctx = self.call("get_context_by_type_and_name", RUN_CONTEXT, run_id)
        if ctx is None:
            return
        for key, value in props.items():
            _set(ctx.custom_properties, key, value, self._pg)
        self.call("put_contexts", [ctx])

    def pb_list_options(self, filter_query: str) -> Any:
        from ml_metadata.metadata_store import metadata_store
        return metadata_store.ListOptions(filter_query=filter_query)

    # -- artifacts and events ------------------------------------------------
    def artifacts_of(self, exec_id: int, kind: str = "OUTPUT") -> Outputs:
        """The artifacts an execution read (INPUT) or wrote (OUTPUT), by key."""
        wanted = getattr(self.pb.Event, kind)
        events = [ev for ev in self.call("get_events_by_execution_ids", [exec_id])
                  if ev.type == wanted]
        arts = {a.id: a for a in self.call("get_artifacts_by_id", [ev.artifact_id for ev in events])}
        result: Outputs = {}
        for ev in sorted(events, key=lambda e: [s.index for s in e.path.steps if s.HasField("index")]):
            key = next((s.key for s in ev.path.steps if s.HasField("key")), "")
            result.setdefault(key, []).append(self._artifact(arts[ev.artifact_id]))
        return result

    def artifacts_by_id(self, ids: Iterable[int]) -> list[Artifact]:
        return [self._artifact(a) for a in self.call("get_artifacts_by_id", list(ids))]

    def artifacts_of_type(self, pipeline: str, type_name: str) -> list[Artifact]:
        """Every artifact of one type recorded in a pipeline (its pipeline context)."""
        ctx = self.call("get_context_by_type_and_name", PIPELINE_CONTEXT, pipeline)
        if ctx is None:
            return []
        ids = [a.id for a in self.call("get_artifacts_by_context", ctx.id)
               if self._type_name("artifact", a.type_id) == type_name]
        return self.artifacts_by_id(ids) if ids else []

    def artifacts_in_run(self, run_id: str) -> list[tuple[Artifact, str]]:
        """(artifact, producing node id) for every output recorded in a run."""
        rows = []
        for ex in self.executions_in_context(RUN_CONTEXT, run_id):
            for arts in self.artifacts_of(ex["id"]).values():
                rows.extend((a, ex.get("node_id", "?")) for a in arts)
        return rows

    def mark_artifacts(self, artifacts: list[Artifact], state: str) -> None:
        for art in artifacts:
            art.state = state
        self.call("put_artifacts", [self._artifact_proto(a) for a in artifacts])

    # -- conversions ---------------------------------------------------------
    def _events(self, kind: str, artifacts: Outputs) -> list[tuple[Artifact, tuple[Any, Any]]]:
        """(artifact, (artifact proto, event)) pairs. MLMD allows one event per artifact, execution and kind,
        so an artifact read under two keys (a model that is also its own baseline) is
        recorded once, under the first key."""
        pairs, seen = [], set()
        for key, arts in artifacts.items():
            for i, art in enumerate(arts):
                if art.id is not None:
                    if art.id in seen:
                        continue
                    seen.add(art.id)
                pairs.append((art, (self._artifact_proto(art), self._event(kind, key, i))))
        return pairs

    def _type_name(self, kind: str, type_id: int) -> str:
        for (k, name), tid in self._type_ids.items():
            if k == kind and tid == type_id:
                return name
        [t] = self.call(f"get_{kind}_types_by_id", [type_id])
        self._type_ids[(kind, t.name)] = type_id
        return t.name

    def _event(self, kind: str, key: str, index: int) -> Any:
        ev = self.pb.Event(type=getattr(self.pb.Event, kind))
        ev.path.steps.add().key = key
        ev.path.steps.add().index = index
        return ev

    def _artifact_proto(self, art: Artifact) -> Any:
        proto = self.pb.Artifact(type_id=self.type_id("artifact", art.TYPE_NAME, art.PROPERTIES),
                                 uri=art.uri, state=getattr(self.pb.Artifact, art.state))
        if art.id is not None:
            proto.id = art.id
        if art.name:
            proto.name = art.name
        for key, value in art.properties.items():
            _set(proto.properties, key, value, self._pg)
        for key, value in art.custom_properties.items():
            _set(proto.custom_properties, key, value, self._pg)
        return proto

    def _artifact(self, proto: Any) -> Artifact:
        art = artifact_class(self._type_name("artifact", proto.type_id))(proto.uri)
        art.id = proto.id
        art.name = proto.name
        art.state = self.pb.Artifact.State.Name(proto.state)
        art.properties.update(_props(proto.properties, self._pg))
        art.custom_properties.update(_props(proto.custom_properties, self._pg))
        return art

    def _execution_dict(self, e: Any) -> dict[str, Any]:
        return {"id": e.id, "type": self._type_name("execution", e.type_id),
                "state": self.pb.Execution.State.Name(e.last_known_state),
                **_props(e.custom_properties, self._pg)}


_CONNECT_RETRYABLE = ("could not connect", "connection refused", "can't connect")


def _create_wal_database(db_path: str) -> None:
    """Create the SQLite file in write-ahead-log mode: one fsync per commit instead of the
    rollback journal's several. The mode is stored in the file, so MLMD's connections use it.

    It runs in a child process on purpose: opening the file with Python's own SQLite in
    this process would, on close, drop the POSIX locks MLMD's SQLite holds on it.
    """
    code = ("import sqlite3, sys\n"
            "c = sqlite3.connect(sys.argv[1])\n"
            "c.execute('PRAGMA journal_mode=WAL')\n"
            "c.close()\n")
    subprocess.run([sys.executable, "-c", code, db_path], check=True, timeout=60)


_BACKSLASH = "\\"
_PG_BACKSLASH = "\ue05c"  # a private-use character: stands for a backslash on PostgreSQL


def _set(mapping: Any, key: str, value: Any, pg: bool = False) -> None:
    if isinstance(value, bool):
        mapping[key].int_value = int(value)
    elif isinstance(value, int):
        mapping[key].int_value = value
    elif isinstance(value, float):
        mapping[key].double_value = value
    else:
        text = value if isinstance(value, str) else json.dumps(value, sort_keys=True)
        mapping[key].string_value = text.replace(_BACKSLASH, _PG_BACKSLASH) if pg else text


def _props(mapping: Any, pg: bool = False) -> dict[str, Any]:
    out = {}
    for key, value in mapping.items():
        which = value.WhichOneof("value")
        out[key] = getattr(value, which) if which else None
        if pg and which == "string_value":
            out[key] = out[key].replace(_PG_BACKSLASH, _BACKSLASH)
    return out


_PROP_TYPES = {
    int: lambda pb: pb.INT,
    float: lambda pb: pb.DOUBLE,
    str: lambda pb: pb.STRING,
}
