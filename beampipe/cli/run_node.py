"""``beampipe run-node --ir FILE --node ID --run-id RUN [--param K=V]``: one node, one launcher.

What every Airflow and Kubeflow task runs (as ``python -m beampipe.orchestration.entrypoint``,
the same code); handy to re-run or debug one node of a compiled pipeline by hand. The IR and
the node id are checked first, so a typo is one usage line (exit 2) and touches no store.
"""
from __future__ import annotations

import argparse
import sys
from typing import Any

from beampipe.cli.common import fail, remember_uri


def register(sub: Any) -> None:
    from beampipe.orchestration.entrypoint import build_parser

    p = sub.add_parser("run-node", help="run one node of a compiled pipeline (IR) through the launcher",
                       description="Run one node of a compiled pipeline through the launcher; prints "
                                   "the result as one JSON line; exit 0 on COMPLETE/CACHED/SKIPPED, "
                                   "1 on FAILED, 2 on bad arguments.")
    build_parser(p)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from beampipe.orchestration import entrypoint

    if args.ir == "-":  # read stdin once, for the check and for the launcher
        text = sys.stdin.read()
        if not text.lstrip().startswith("{"):
            return fail("--ir -: stdin holds no IR (expected a JSON object)")
        args.ir = text
    problem = check_ir(args.ir, args.node)
    if problem:
        return fail(problem)
    return entrypoint.main_from_args(args)


def check_ir(spec: str, node_id: str) -> str | None:
    """Why --ir / --node cannot be run, in one line; None when they look right."""
    import json

    from beampipe.orchestration import entrypoint

    shown = spec if len(spec) <= 80 else spec[:77] + "..."
    try:
        ir = entrypoint.read_ir(spec)
    except FileNotFoundError:
        return f"--ir {shown}: no such IR file"
    except IsADirectoryError:
        return f"--ir {shown}: is a directory, not an IR file"
    except (ValueError, OSError, EOFError) as err:  # bad JSON, base64, gzip, or IR version
        kind = "not valid JSON" if isinstance(err, json.JSONDecodeError) else "not a beampipe IR"
        return f"--ir {shown}: {kind} ({' '.join(str(err).split())})"
    if not isinstance(ir, dict) or not isinstance(ir.get("pipeline"), dict) \
            or not isinstance(ir.get("nodes"), list):
        return f"--ir {shown}: not a beampipe IR (no 'pipeline' and 'nodes')"
    remember_uri(str(ir["pipeline"].get("metadata_uri", "")))
    known = [n.get("id") for n in ir["nodes"] if isinstance(n, dict)]
    if node_id != entrypoint.FINISH_RUN and node_id not in known:
        return (f"--node {node_id!r}: pipeline '{ir['pipeline'].get('name')}' has no such node; "
                f"nodes are {known}")
    return None
