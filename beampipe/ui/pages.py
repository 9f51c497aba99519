"""One function per page: read the store (``queries``), build the graph (``graph``), render
a template. They return a ``Response``; the server only routes and writes it."""
from __future__ import annotations

import json
import math
import shlex
import time
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode

from markupsafe import Markup

from beampipe import io
from beampipe.metadata.connection import redact
from beampipe.metadata.store import MetadataStore
from beampipe.ui import files, graph, lineage, queries, templates
from beampipe.ui.metrics import run_metrics

from beampipe.views import render_artifact
from beampipe.views._common import SORT_SCRIPT

PER_PAGE = 50
MAX_COMPARED = 8


@dataclass
class Response:
    status: int
    body: bytes
    content_type: str = "text/html; charset=utf-8"
    headers: dict[str, str] = field(default_factory=dict)


class NotFound(Exception):
    """Answered 404 with this message."""


class App:
    """What every page needs: the store (read only), the root override, the templates."""

    def __init__(self, store: MetadataStore, pipeline_root: str | None = None) -> None:
        self.store = store
        self.pipeline_root = pipeline_root
        self.env = templates.environment()
        self.store_name = redact(store.uri)

    def html(self, name: str, code: int = 200, /, **context: Any) -> Response:
        context.setdefault("live", "")
        body = self.env.get_template(name).render(store_name=self.store_name, **context)
        return Response(code, body.encode("utf-8"))

    def json(self, data: Any) -> Response:
        return Response(200, json.dumps(data).encode("utf-8"), "application/json",
                        {"Cache-Control": "no-store"})

    def error(self, status: int, reason: str, message: str) -> Response:
        return self.html("error.html", status, page_kind="error", status=status, reason=reason, message=message)

    # -- runs ------------------------------------------------------------------
    def runs(self, q: dict[str, str]) -> Response:
        pipeline, state, page = _runs_filters(q)
        rows, total, pipelines = queries.list_runs(self.store, pipeline, state, page, PER_PAGE)
        pages = max(1, math.ceil(total / PER_PAGE))

        def page_url(n: int) -> str:
            return "/" + _query({"pipeline": pipeline, "state": state, "page": n if n > 1 else None})
        live = "/api/runs" + _query({"pipeline": pipeline, "state": state, "page": page if page > 1 else None})
        return self.html("runs.html", page_kind="runs", rows=rows, total=total, pipelines=pipelines,
                         pipeline=pipeline or "", state=state or "", states=queries.STATES, filtered=bool(pipeline or state),
                         page=page, pages=pages, page_url=page_url, live=live)

    def runs_api(self, q: dict[str, str]) -> Response:
        pipeline, state, page = _runs_filters(q)
        rows, total, _ = queries.list_runs(self.store, pipeline, state, page, PER_PAGE)
        macro = self.env.get_template("_rows.html").module.run_rows  # type: ignore[attr-defined]
        running = any(r.state == "RUNNING" for r in rows)
        return self.json({"replace": {"runs-body": str(macro(rows, bool(pipeline or state))),
                                      "live-status": f"{total} run{'' if total == 1 else 's'}"
                                      + (" · live" if running else "")},
                          "running": running, "total": total, "next": 2000 if running else 10000})

    # -- one run ---------------------------------------------------------------
    def run(self, run_id: str, q: dict[str, str]) -> Response:
        detail = queries.run_detail(self.store, run_id)
        if detail is None:
            raise NotFound(f"no run {run_id!r} in this store")
        run = detail.run
        failures = [self._failure(detail, n) for n in detail.nodes.values() if n.state in ("FAILED", "SKIPPED")]
        log = self._log(detail, q["log"]) if q.get("log") else None
        live = f"/api/runs/{_quote(run_id)}" if run.state == "RUNNING" else ""
        return self.html("run.html", page_kind="run", run=run, detail=detail, dag=_dag(detail), failures=failures,
                         log=log, node_states=queries.NODE_STATES, live=live)

    def run_api(self, run_id: str) -> Response:
        detail = queries.run_detail(self.store, run_id)
        if detail is None:
            raise NotFound(f"no run {run_id!r} in this store")
        run = detail.run
        macro = self.env.get_template("_rows.html").module.node_rows  # type: ignore[attr-defined]
        duration = run.duration if run.duration is not None else \
            (time.time() - run.started_at if run.started_at else None)
        running = run.state == "RUNNING"
        return self.json({"replace": {"dag-box": str(_dag(detail)), "nodes-body": str(macro(detail, run_id)),
                                      "run-state": run.state, "run-duration": templates.seconds(duration)},
                          "attrs": {"run-state": {"class": f"state-{run.state}"},
                                    "run-header": {"data-state": run.state}},
                          "state": run.state, "next": 2000 if running else 0, "reload": not running})

    def _failure(self, detail: queries.RunDetail, node: queries.NodeView) -> dict[str, Any]:
        run = detail.run
        source = run.props.get("source_file")
        argv = ["beampipe", "run", source or "<pipeline file>"]
        root = run.props.get("pipeline_root")
        if root:
            argv += ["--pipeline-root", root]
        for k, v in sorted(run.params.items()):
            argv += ["--param", f"{k}={templates.value(v)}"]
        argv += ["--from-node", node.node_id]
        command = " ".join(a if a == "<pipeline file>" else shlex.quote(a) for a in argv)
        note = "" if source else ("This run did not record its pipeline file (it was not started by "
                                  "`beampipe run`, or by an older beampipe): put its path in place of <pipeline file>.")
        return {"node_id": node.node_id, "state": node.state, "error": node.error, "resume": command,
                "resume_note": note}

    def _log(self, detail: queries.RunDetail, node_id: str) -> dict[str, Any]:
        node = detail.nodes.get(node_id)
        if node is None:
            raise NotFound(f"no node {node_id!r} in run {detail.run.run_id!r}")
        recorded = (node.execution or {}).get("log_path", "")
        root = self.pipeline_root or detail.run.props.get("pipeline_root") or \
            files.root_from_log_path(recorded, detail.run.run_id, node_id)
        uri = files.log_uri(root, detail.run.run_id, node_id)
        if uri is None:
            return {"node_id": node_id, "uri": "", "cut": False,
                    "text": "where this run's logs are is unknown: start `beampipe ui` with --pipeline-root"}
        try:
            text, cut = files.read_log(uri)
        except (OSError, io.StorageError) as err:
            text, cut = f"no log: {type(err).__name__}: {err}", False
        return {"node_id": node_id, "uri": uri, "text": text, "cut": cut}

    # -- artifacts -------------------------------------------------------------
    def artifact(self, artifact_id: int, q: dict[str, str]) -> Response:
        found = queries.artifact_detail(self.store, artifact_id)
        if found is None:
            raise NotFound(f"no artifact {artifact_id} in this store")
        art = found.artifact
        other = None
        if q.get("compare", "").isdigit():
            others = self.store.artifacts_by_id([int(q["compare"])])
            other = others[0] if others else None
        try:
            # the static reports' inline table sorter: here ui.js sorts, and the page's CSP
            # (script-src 'self') would refuse it with a console error on every such page
            view = Markup((render_artifact(art, compare_to=other) or "").replace(SORT_SCRIPT, ""))
        except Exception as err:  # noqa: BLE001 - one broken view must not take the page down
            view = Markup('<p class="view-error">this view failed: {}</p>').format(f"{type(err).__name__}: {err}")
        try:
            listed, files_error = files.listing(art.uri), ""
        except (OSError, ValueError, files.Refused, io.StorageError) as err:
            listed, files_error = [], f"cannot list {art.uri}: {type(err).__name__}"
        consumers = [(e, "read") for e in found.consumers] + [(e, "re-used from cache") for e in found.reused_by]
        return self.html("artifact.html", page_kind="artifact", art=art, producer=found.producer, consumers=consumers,
                         view=view, files=listed, files_error=files_error)

    def artifact_file(self, artifact_id: int, rel: str) -> Response:
        found = self.store.artifacts_by_id([artifact_id])
        if not found:
            raise NotFound(f"no artifact {artifact_id} in this store")
        uri = files.resolve(found[0].uri, rel)  # raises Refused
        try:
            data = io.read_bytes(uri)
        except (IsADirectoryError, FileNotFoundError, NotADirectoryError):
            raise NotFound(f"no file {rel!r} in artifact {artifact_id}") from None
        return Response(200, data, files.content_type(rel),
                        {"Content-Security-Policy": "sandbox; default-src 'none'; img-src data:; style-src 'unsafe-inline'"})

    def lineage(self, artifact_id: int, q: dict[str, str]) -> Response:
        depth = int(q["depth"]) if q.get("depth", "").isdigit() else 3
        depth = max(1, min(depth, 30))
        found = self.store.artifacts_by_id([artifact_id])
        if not found:
            raise NotFound(f"no artifact {artifact_id} in this store")
        walked = lineage.walk(self.store, artifact_id, depth)
        nodes = []
        for art_id, art in walked.artifacts.items():
            focus = " lineage-focus" if art_id == artifact_id else ""
            nodes.append(graph.GNode(f"a{art_id}", f"{art.TYPE_NAME} #{art_id}", io.basename(art.uri),
                                     "lineage-artifact" + focus, f"/artifacts/{art_id}/lineage?depth={depth}",
                                     {"artifact-id": str(art_id)}, art.uri))
        for ex_id, ex in walked.executions.items():
            node_id, run_id = str(ex.get("node_id", ex["type"])), str(ex.get("run_id", ""))
            nodes.append(graph.GNode(f"e{ex_id}", node_id, f"{ex['state'].lower()} · {run_id}",
                                     f"lineage-execution node-state-{queries.node_state(ex)}",
                                     f"/runs/{_quote(run_id)}" if run_id else "",
                                     {"execution-id": str(ex_id), "node-id": node_id}, f"execution {ex_id} in {run_id}"))
        picture = graph.svg(nodes, sorted(walked.edges), "lineage", walked.column)
        return self.html("lineage.html", page_kind="lineage", art=found[0], graph=picture, depth=depth, more=walked.more)

    # -- compare ---------------------------------------------------------------
    def compare(self, q: dict[str, str]) -> Response:
        ids = [r.strip() for r in q.get("runs", "").split(",") if r.strip()][:MAX_COMPARED]
        runs = []
        for run_id in dict.fromkeys(ids):
            row = queries.run_record(self.store, run_id)
            if row is None:
                raise NotFound(f"no run {run_id!r} in this store")
            runs.append(row)
        if not runs:
            return self.error(400, "Bad Request", "give runs to compare: /compare?runs=RUN_A,RUN_B")
        params = _rows([{k: templates.value(v) for k, v in r.params.items()} for r in runs], numeric=False)
        metrics = _rows([run_metrics(self.store, r.run_id) for r in runs], numeric=True)
        return self.html("compare.html", page_kind="compare", runs=runs, params=params, metrics=metrics)


def _query(values: dict[str, Any]) -> str:
    kept = {k: v for k, v in values.items() if v}
    return "?" + urlencode(kept) if kept else ""


def _runs_filters(q: dict[str, str]) -> tuple[str | None, str | None, int]:
    page = int(q["page"]) if q.get("page", "").isdigit() and int(q["page"]) > 0 else 1
    return q.get("pipeline") or None, q.get("state") or None, page


def _dag(detail: queries.RunDetail) -> Markup:
    run_id = detail.run.run_id
    nodes = []
    for n in detail.nodes.values():
        extra = {"CACHED": " node-cached", "SKIPPED": " node-skipped"}.get(n.state, "")
        sub = n.state.lower().replace("_", " ") + (f" · {templates.seconds(n.duration)}" if n.duration is not None else "")
        nodes.append(graph.GNode(n.node_id, n.node_id, sub, f"node-state-{n.state}{extra}",
                                 f"/runs/{_quote(run_id)}?log={_quote(n.node_id)}#node-log",
                                 {"node-id": n.node_id, "state": n.state},
                                 f"{n.node_id}: {n.state}" + (f" - {n.error}" if n.error else "")))
    return graph.svg(nodes, detail.edges, "dag")


def _rows(per_run: list[dict[str, Any]], numeric: bool) -> list[dict[str, Any]]:
    """One row per key: the values side by side (metrics with their change from the first
    run), and whether the runs differ."""
    keys = sorted({k for d in per_run for k in d})
    rows = []
    for key in keys:
        raw = [d.get(key) for d in per_run]
        shown = []
        for i, v in enumerate(raw):
            if v is None:
                shown.append("—")
            elif numeric and i and isinstance(raw[0], (int, float)) and isinstance(v, (int, float)) and v != raw[0]:
                shown.append(f"{v:.6g} ({v - raw[0]:+.4g})")
            else:
                shown.append(f"{v:.6g}" if isinstance(v, float) else str(v))
        rows.append({"key": key, "cells": shown, "differs": len({json.dumps(v) for v in raw}) > 1})
    return rows


def _quote(text: str) -> str:
    from urllib.parse import quote
    return quote(text, safe="")

