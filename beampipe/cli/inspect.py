"""``beampipe runs`` and ``beampipe artifacts RUN_ID``: see what happened."""
from __future__ import annotations

import argparse
import datetime as dt
from typing import Any

from beampipe.cli.common import UsageError, fail, metadata_uri_from


def register(sub: Any) -> None:
    runs = sub.add_parser("runs", help="recent runs with state and duration")
    _store_args(runs)
    runs.add_argument("--pipeline", help="only runs of this pipeline")
    runs.add_argument("--limit", type=int, default=20)
    runs.set_defaults(func=list_runs)
    arts = sub.add_parser("artifacts", help="artifacts of a run: type, URI, producing node")
    arts.add_argument("run_id")
    _store_args(arts)
    arts.set_defaults(func=list_artifacts)


def _store_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--metadata-uri", help="SQLite path, postgresql://... or mysql://...")
    p.add_argument("--pipeline-root", help="use <DIR>/metadata.sqlite")


def _open(args: argparse.Namespace) -> Any:
    """The store to read; a SQLite file that is not there is an error, never created."""
    import os

    from beampipe.metadata.connection import redact, sqlite_path
    from beampipe.metadata.store import MetadataStore
    uri = metadata_uri_from(args)
    path = sqlite_path(uri)
    if path is not None and not os.path.exists(path):
        folder = os.path.dirname(path) or "."
        why = f"directory {folder} does not exist" if not os.path.isdir(folder) else \
            "nothing has run with this root yet?"
        raise UsageError(f"{redact(uri)}: no metadata store here ({why})")
    return MetadataStore(uri)


def list_runs(args: argparse.Namespace) -> int:
    from beampipe.metadata.connection import MetadataConfigError

    try:
        store = _open(args)
    except (UsageError, MetadataConfigError) as err:
        return fail(str(err))
    rows = store.runs(args.pipeline, args.limit)
    if not rows:
        print("no runs recorded")
        return 0
    print(f"{'RUN ID':<40} {'STATE':<9} {'STARTED':<19} {'DURATION':>9}")
    for r in rows:
        started = r.get("started_at")
        finished = r.get("finished_at")
        when = dt.datetime.fromtimestamp(started).strftime("%Y-%m-%d %H:%M:%S") if started else "?"
        took = f"{finished - started:8.1f}s" if started and finished else "        -"
        print(f"{r['run_id']:<40} {r.get('state', '?'):<9} {when:<19} {took:>9}")
    return 0


def list_artifacts(args: argparse.Namespace) -> int:
    from beampipe.metadata.connection import MetadataConfigError

    try:
        store = _open(args)
    except (UsageError, MetadataConfigError) as err:
        return fail(str(err))
    rows = store.artifacts_in_run(args.run_id)
    if not rows:
        return fail(f"no artifacts recorded for run {args.run_id!r} (see `beampipe runs`)", 1)
    print(f"{'ID':>5} {'TYPE':<18} {'NODE':<24} URI")
    for art, node in rows:
        print(f"{art.id:>5} {art.TYPE_NAME:<18} {node:<24} {art.uri}")
    return 0
