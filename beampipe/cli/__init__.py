"""The ``beampipe`` command. Starts fast: commands import what they need when they run.

Whatever goes wrong, the console gets one line ``beampipe: <message>``; the traceback
only with ``--verbose`` (a user's mistake should not look like a crash of beampipe).
"""
from __future__ import annotations

import argparse
import importlib
import os
import sys

from beampipe.cli import console

COMMAND_MODULES = ["run", "inspect", "compile", "run_node", "submit", "gc", "ui", "serve"]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="beampipe", description="TFX-style ML pipelines on Apache Beam, recorded in ML Metadata.")
    console.add_verbose_flag(parser, top_level=True)
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in COMMAND_MODULES:
        importlib.import_module(f"beampipe.cli.{name}").register(sub)
    for command in sub.choices.values():
        if "--verbose" not in command._option_string_actions:
            console.add_verbose_flag(command)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    console.configure(bool(getattr(args, "verbose", False)))
    try:
        code = int(args.func(args) or 0)
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        code = 130
    except Exception as err:  # noqa: BLE001 - anything a command did not handle: one line
        code = console.report_unexpected(err)
    if "tensorflow" in sys.modules:
        # TensorFlow's finalizers print spurious errors at interpreter exit; all work
        # is recorded and flushed by now, so leave without running them.
        from beampipe.io import code as shipped_code

        shipped_code.discard_fetched()  # os._exit skips atexit
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(code)
    return code
