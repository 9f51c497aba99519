"""The ``beampipe`` command. Starts fast: commands import what they need when they run."""
from __future__ import annotations

import argparse
import importlib
import os
import sys

COMMAND_MODULES = ["run", "inspect", "compile", "run_node", "submit"]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="beampipe", description="TFX-style ML pipelines on Apache Beam, recorded in ML Metadata.")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in COMMAND_MODULES:
        importlib.import_module(f"beampipe.cli.{name}").register(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    try:
        code = int(args.func(args) or 0)
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    if "tensorflow" in sys.modules:
        # TensorFlow's finalizers print spurious errors at interpreter exit; all work
        # is recorded and flushed by now, so leave without running them.
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(code)
    return code
