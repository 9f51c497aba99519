"""``beampipe run PIPELINE_FILE``: run a pipeline here, with live progress."""
from __future__ import annotations

import argparse
import os
import sys
from typing import Any

from beampipe.cli.common import UsageError, command_line, fail, load_pipeline, parse_params


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
    _quiet_libraries()
    from beampipe.cli.progress import Progress
    from beampipe.orchestration import ir as ir_mod
    from beampipe.orchestration.launcher import NodeError
    from beampipe.orchestration.local_runner import LocalDagRunner, select_nodes
    from beampipe.components.base import WiringError

    try:
        pipeline = load_pipeline(args.pipeline_file, args.pipeline_root, args.metadata_uri)
        ir = ir_mod.compile_pipeline(pipeline)
        params = parse_params(args.param)
        nodes = select_nodes(ir, args.from_node, args.to_node)
    except (UsageError, WiringError, NodeError) as err:
        return fail(str(err))
    progress = Progress(nodes)
    print(f"pipeline {ir['pipeline']['name']}: {len(nodes)} nodes, root {ir['pipeline']['root']}")
    try:
        result = LocalDagRunner(args.parallelism, progress, args.orchestrator).run(
            ir, params, from_node=args.from_node, to_node=args.to_node)
    except NodeError as err:
        progress.close()
        return fail(str(err))
    progress.close()
    counts: dict[str, int] = {}
    for r in result.nodes.values():
        counts[r.status] = counts.get(r.status, 0) + 1
    summary = ", ".join(f"{n} {s.lower().replace('_', ' ')}" for s, n in sorted(counts.items()))
    print(f"run {result.run_id} {result.status.lower()} in {result.seconds:.1f}s ({summary})")
    if result.status == "COMPLETE":
        return 0
    for failed in result.failed:
        print(f"\nnode '{failed.node_id}' failed: {failed.error}", file=sys.stderr)
        if failed.log_path:
            print(f"  log: {failed.log_path}", file=sys.stderr)
    first = result.failed[0].node_id if result.failed else None
    argv = _without_from_node(sys.argv[1:] if _invoked_as_cli() else ["run", args.pipeline_file])
    if first:
        print(f"\nfix the problem, then resume with:\n  {command_line([*argv, '--from-node', first])}",
              file=sys.stderr)
    return 1


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


def _invoked_as_cli() -> bool:
    return len(sys.argv) > 1 and sys.argv[1] == "run"


def _quiet_libraries() -> None:
    """Keep the console for progress: library chatter goes to the node logs."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")
    import logging
    import warnings

    warnings.filterwarnings("ignore")
    console = logging.StreamHandler(sys.stderr)
    console.setLevel(logging.ERROR)
    logging.getLogger().addHandler(console)
    for name in ("apache_beam", "absl", "tensorflow"):
        logging.getLogger(name).propagate = True
