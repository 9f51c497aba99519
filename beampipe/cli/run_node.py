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
    problem = entrypoint.check_ir(args.ir, args.node)
    if problem:
        return fail(problem)
    remember_uri(str(entrypoint.read_ir(args.ir)["pipeline"].get("metadata_uri", "")))  # masked in output
    return entrypoint.main_from_args(args)
