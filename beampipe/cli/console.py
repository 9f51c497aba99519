"""What reaches the console: one line per problem, unless the user asks for more.

Without ``--verbose`` no log record is printed (node records, tracebacks
included, are in the node logs; the rest go to the run's ``_run.log``), Python
warnings are silenced and TensorFlow's C++ logging is off. With ``--verbose``
beampipe's records (INFO and up) and everyone's warnings and errors are shown,
and an unexpected exception prints its traceback.
"""
from __future__ import annotations

import logging
import os
import sys
import traceback
from typing import Any

VERBOSE_HINT = "(run with --verbose for the traceback)"
RUN_LOG = "_run.log"
_state = {"verbose": False}


def add_verbose_flag(parser: Any, top_level: bool = False) -> None:
    """``-v/--verbose`` on a command; a subcommand's flag must not reset the top-level one."""
    parser.add_argument("-v", "--verbose", action="store_true",
                        default=False if top_level else _suppress(),
                        help="show log records and tracebacks on the console")


def _suppress() -> Any:
    import argparse
    return argparse.SUPPRESS


def verbose() -> bool:
    return _state["verbose"]


def configure(is_verbose: bool) -> None:
    """Set up console logging once, before a command runs."""
    _state["verbose"] = is_verbose
    root = logging.getLogger()
    if is_verbose:
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(logging.Formatter("%(levelname)s %(name)s: %(message)s"))
        handler.addFilter(_worth_showing)
        root.addHandler(handler)
        logging.captureWarnings(True)
    else:
        os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
        # ml-metadata's C++ (glog) prints connection errors straight to stderr; ours say it once.
        os.environ.setdefault("GLOG_minloglevel", "3")
        import warnings
        warnings.filterwarnings("ignore")
        # No handler at all would make logging fall back to printing WARNING+ on stderr.
        root.addHandler(logging.NullHandler())
    os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")
    for name in ("apache_beam", "absl", "tensorflow"):
        logging.getLogger(name).propagate = True


def _worth_showing(record: logging.LogRecord) -> bool:
    return record.levelno >= logging.WARNING or record.name.startswith("beampipe")


class _RunLogHandler(logging.FileHandler):
    """A file handler that creates its folder on the first record (a cached run writes none)."""

    def _open(self) -> Any:
        os.makedirs(os.path.dirname(self.baseFilename), exist_ok=True)
        return super()._open()


def start_run_log(log_dir: str) -> logging.Handler:
    """Send records no node log took (other threads, the runner) to ``<log_dir>/_run.log``."""
    from beampipe.orchestration.node_log import OutsideNodes, file_formatter

    handler = _RunLogHandler(os.path.join(log_dir, RUN_LOG), encoding="utf-8", delay=True)
    handler.setFormatter(file_formatter())
    handler.setLevel(logging.INFO)
    handler.addFilter(OutsideNodes())
    root = logging.getLogger()
    root.addHandler(handler)
    if root.level > logging.INFO or root.level == logging.NOTSET:
        root.setLevel(logging.INFO)
    return handler


def stop_run_log(handler: logging.Handler) -> None:
    logging.getLogger().removeHandler(handler)
    handler.close()


def one_line(text: str) -> str:
    """A message on one line: newlines and runs of spaces become single spaces."""
    return " ".join(text.split())


def report_unexpected(err: BaseException) -> int:
    """An exception no command handled: one line (the traceback with --verbose); exit code."""
    from beampipe.cli.common import UsageError, scrub
    from beampipe.metadata.connection import MetadataConfigError

    if verbose():
        traceback.print_exception(type(err), err, err.__traceback__, file=sys.stderr)
    if isinstance(err, (UsageError, MetadataConfigError)):
        print(f"beampipe: {scrub(one_line(str(err)))}", file=sys.stderr)
        return 2
    text = one_line(str(err))
    message = f"{type(err).__name__}: {text}" if text else type(err).__name__
    print(f"beampipe: {scrub(message)}", file=sys.stderr)
    if not verbose():
        print(VERBOSE_HINT, file=sys.stderr)
    return 1
