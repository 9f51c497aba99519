"""``beampipe run-node --ir FILE --node ID --run-id RUN [--param K=V]``: one node, one launcher.

What every Airflow and Kubeflow task runs (as ``python -m beampipe.orchestration.entrypoint``,
the same code); handy to re-run or debug one node of a compiled pipeline by hand.
"""
from __future__ import annotations

import argparse
from typing import Any


def register(sub: Any) -> None:
    from beampipe.orchestration.entrypoint import build_parser

    p = sub.add_parser("run-node", help="run one node of a compiled pipeline (IR) through the launcher",
                       description="Run one node of a compiled pipeline through the launcher; prints "
                                   "the result as one JSON line; exit 0 on COMPLETE/CACHED/SKIPPED, "
                                   "1 on FAILED, 2 on bad arguments.")
    build_parser(p)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from beampipe.orchestration.entrypoint import main_from_args

    return main_from_args(args)
