"""The Jinja2 environment of ``beampipe ui``: autoescape on for every template, so every
string from the store or an artifact (node ids, parameters, error messages, feature names)
is escaped unless a view already returned ``Markup``.

Stable element ids and classes (browser tests and users' scripts may rely on these):

every page   <body data-page="runs|run|artifact|lineage|compare|error" data-live="JSON URL">,
             nav#nav, main#main
runs  /      form#runs-filter (select[name=pipeline], select[name=state]); span#live-status;
             table#runs-table.sortable > tbody#runs-body > tr.run-row[data-run-id][data-state]
             with td.run-state.state-<STATE>, td.count-<complete|cached|failed|skipped|running|not_run>,
             td.run-params; input.compare-pick[value=run id]; button#compare-button;
             nav#runs-pager (a.page-prev, a.page-next, span.page-info)
run          header#run-header[data-run-id][data-state], span#run-state.state-<STATE>;
  /runs/ID   div#dag-box > svg#dag > g.gnode.node-state-<STATE>[data-node-id] (+ .node-cached,
             .node-skipped); table#nodes-table > tbody#nodes-body > tr.node-row.node-state-<STATE>[data-node-id];
             section.node-error[data-node-id] > pre.error-message, code.resume-command;
             a.log-link[data-node-id]; section#node-log[data-node-id] > pre#log-text;
             a.artifact-link[data-artifact-id]
artifact     header#artifact-header[data-artifact-id][data-type]; table#artifact-properties;
  /artifacts/ID  table#artifact-custom-properties; div#artifact-producer; table#artifact-consumers;
             code#artifact-uri; div#artifact-view (the type's view); table#artifact-files > a.file-link;
             a#lineage-link
lineage      svg#lineage > g.gnode.lineage-artifact[data-artifact-id], g.gnode.lineage-execution
             [data-execution-id], g.lineage-focus; a#lineage-more (when the depth cut the graph)
compare      table#compare-table > tbody#compare-params, tbody#compare-metrics >
  /compare   tr.compare-row[data-key] (+ .differs when the runs disagree), td.best for the best value
error        section#error[data-status]
Node and run states: COMPLETE, CACHED, FAILED, SKIPPED, RUNNING, NOT_RUN.
"""
from __future__ import annotations

import datetime as dt
import json
import os
from typing import Any

from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape

HERE = os.path.dirname(os.path.abspath(__file__))
STATIC_DIR = os.path.join(HERE, "static")


def when(epoch: Any) -> str:
    """Local time of an epoch timestamp, or '-'."""
    try:
        return dt.datetime.fromtimestamp(float(epoch)).strftime("%Y-%m-%d %H:%M:%S")
    except (TypeError, ValueError, OverflowError, OSError):
        return "-"


def seconds(value: Any) -> str:
    """A duration as 0.4s / 41.0s / 12m 03s / 2h 05m."""
    if value is None:
        return "-"
    s = float(value)
    if s < 60:
        return f"{s:.1f}s"
    if s < 3600:
        return f"{int(s // 60)}m {int(s % 60):02d}s"
    return f"{int(s // 3600)}h {int(s % 3600 // 60):02d}m"


def value(v: Any) -> str:
    """A parameter or property value as text (JSON for containers)."""
    if isinstance(v, float):
        return f"{v:.6g}"
    if isinstance(v, (dict, list)):
        return json.dumps(v, sort_keys=True)
    return "" if v is None else str(v)


def environment() -> Environment:
    env = Environment(loader=FileSystemLoader(os.path.join(HERE, "html")),
                      autoescape=select_autoescape(default=True, default_for_string=True),
                      undefined=StrictUndefined, trim_blocks=True, lstrip_blocks=True)
    env.filters.update(when=when, seconds=seconds, value=value)
    return env
