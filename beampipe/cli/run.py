"""``beampipe run PIPELINE_FILE``: run a pipeline here, with live progress.

The console gets the progress lines, one message per failed node and the command
that resumes the run; each node's traceback is in its log file (``--verbose``
shows log records and tracebacks here too).
"""
from __future__ import annotations

import argparse
import os
import sys
from typing import Any

from beampipe.cli import console
from beampipe.cli.common import (UsageError, command_line, fail, load_pipeline, parse_params,
                                 remember_uri, scrub)


def register(sub: Any) -> None:
    p = sub.add_parser("run", help="run a pipeline locally (Beam DirectRunner)",
                       description="Run the module-level `pipeline` of a Python file on this machine.")
    p.add_argument("pipeline_file")
    p.add_argument("--pipeline-root", help="where artifacts go (overrides the file's)")
    p.add_argument("--metadata-uri", help="SQLite path, postgresql://... or mysql://...")
    p.add_argument("--param", action="append", metavar="NAME=VALUE", help="runtime parameter")
    p.add_argument("--from-node", help="start here; upstream artifacts come from the latest run")
    p.add_argument("--to-node", help="stop after this node")
    p.add_argument("--parallelism", type=int, default=2, help="nodes run at once (default 2)")
    p.add_argument("--orchestrator", choices=["threads", "beam"], default="threads",
                   help="schedule nodes with a thread pool (default) or as a Beam pipeline on DirectRunner")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from beampipe.components.base import WiringError
    from beampipe.metadata.connection import MetadataConfigError
    from beampipe.orchestration import ir as ir_mod
    from beampipe.metadata.connection import runtime_uri
    from beampipe.orchestration.launcher import NodeError, check_metadata_location
    from beampipe.orchestration.local_runner import LocalDagRunner, new_run_id, select_nodes

    if args.metadata_uri:
        remember_uri(args.metadata_uri)
    try:
        pipeline = load_pipeline(args.pipeline_file, args.pipeline_root, args.metadata_uri)
        ir = ir_mod.compile_pipeline(pipeline, keep_secrets=True)  # in memory only
        params = parse_params(args.param)
        nodes = select_nodes(ir, args.from_node, args.to_node)
        check_metadata_location(ir["pipeline"]["root"], runtime_uri(ir["pipeline"]["metadata_uri"]))
        _make_root(pipeline.pipeline_root)
    except (UsageError, WiringError, NodeError, MetadataConfigError) as err:
        return fail(str(err))
    from beampipe.cli.progress import Progress

    progress = Progress(nodes, live=False if console.verbose() else None)
    run_id = new_run_id(ir["pipeline"]["name"])
    run_log_dir, local_log_dir = _run_log_dirs(ir["pipeline"]["root"], run_id)
    run_log = console.start_run_log(local_log_dir)
    print(f"pipeline {ir['pipeline']['name']}: {len(nodes)} nodes, root {ir['pipeline']['root']}")
    try:
        result = LocalDagRunner(args.parallelism, progress, args.orchestrator).run(
            ir, params, run_id=run_id, from_node=args.from_node, to_node=args.to_node)
    except (NodeError, MetadataConfigError) as err:
        return fail(str(err))
    finally:
        progress.close()
        console.stop_run_log(run_log)
        _upload_run_log(local_log_dir, run_log_dir)
    counts: dict[str, int] = {}
    for r in result.nodes.values():
        counts[r.status] = counts.get(r.status, 0) + 1
    summary = ", ".join(f"{n} {s.lower().replace('_', ' ')}" for s, n in sorted(counts.items()))
    print(f"run {result.run_id} {result.status.lower()} in {result.seconds:.1f}s ({summary})")
    handler = result.exit_handler
    if handler is not None and handler.status == "FAILED":  # reported; never the run's outcome
        print(f"exit handler '{handler.node_id}' failed: {scrub(console.one_line(handler.error))}", file=sys.stderr)
    if result.status == "COMPLETE":
        return 0
    for failed in result.failed:
        print(f"\nnode '{failed.node_id}' failed: {scrub(console.one_line(failed.error))}", file=sys.stderr)
        if failed.log_path:
            print(f"  log: {failed.log_path}", file=sys.stderr)
    first = result.failed[0].node_id if result.failed else None
    argv = _without_from_node(sys.argv[1:] if _invoked_as_cli(args) else ["run", args.pipeline_file])
    if first:
        print(f"\nfix the problem, then resume with:\n  {scrub(command_line([*argv, '--from-node', first]))}",
              file=sys.stderr)
    return 1


def _make_root(root: str) -> None:
    """A local pipeline root is created on the first run (the default store lives in it)."""
    if "://" in root:
        return
    if os.path.exists(root) and not os.path.isdir(root):
        raise UsageError(f"pipeline root {root} is not a directory")
    try:
        os.makedirs(root, exist_ok=True)
    except OSError as err:
        raise UsageError(f"pipeline root {root}: cannot create it: {err.strerror or err}") from None


def _run_log_dirs(root: str, run_id: str) -> tuple[str, str]:
    """(where the run's log belongs, where it is written): the same folder for a local root;
    for an object-store root a local temp folder, uploaded when the run ends."""
    from beampipe import io

    final = io.join(root, ".beampipe", "logs", run_id)
    if not io.is_remote(root):
        return final, final
    import tempfile
    return final, tempfile.mkdtemp(prefix="beampipe-runlog-")


def _upload_run_log(local_dir: str, final_dir: str) -> None:
    if local_dir == final_dir:
        return
    import shutil

    from beampipe import io
    try:
        local = os.path.join(local_dir, console.RUN_LOG)
        if os.path.exists(local):
            io.copy(local, io.join(final_dir, console.RUN_LOG))
    except OSError as err:  # the run's outcome stands; say where the log could not go
        print(f"beampipe: could not upload the run log to {final_dir}: {err}", file=sys.stderr)
    finally:
        shutil.rmtree(local_dir, ignore_errors=True)


def _without_from_node(argv: list[str]) -> list[str]:
    out, skip = [], False
    for a in argv:
        if skip:
            skip = False
            continue
        if a == "--from-node":
            skip = True
            continue
        if a.startswith("--from-node="):
            continue
        out.append(a)
    return out


def _invoked_as_cli(args: argparse.Namespace) -> bool:
    """Whether sys.argv is this command line (not a caller's, e.g. pytest's, calling main())."""
    return "run" in sys.argv[1:3] and args.pipeline_file in sys.argv
