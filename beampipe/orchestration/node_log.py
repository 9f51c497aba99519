"""Each node's log goes to its own file under the pipeline root.

Records from the thread running the node (the executor, and libraries it calls
in that thread) are written to the node's file, tracebacks included; the
console stays quiet. The CLI asks ``running_in_node`` which records are
already in a node's file, so it can send the rest to the run's own log and
show node records on the console only when asked to (``--verbose``).
"""
from __future__ import annotations

import contextlib
import logging
import os
import threading
from typing import Iterator

_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"
# Thread ident -> log path of the node that thread is running right now.
_NODE_THREADS: dict[int, str] = {}
_LOCK = threading.Lock()


class _ThisThread(logging.Filter):
    def __init__(self) -> None:
        super().__init__()
        self.ident = threading.get_ident()

    def filter(self, record: logging.LogRecord) -> bool:
        return record.thread == self.ident


def running_in_node(record: logging.LogRecord) -> bool:
    """Whether the record came from a thread running a node (so it is in that node's log)."""
    return record.thread in _NODE_THREADS


class OutsideNodes(logging.Filter):
    """Keeps only records no node log has taken, for a run-wide log."""

    def filter(self, record: logging.LogRecord) -> bool:
        return not running_in_node(record)


def file_formatter() -> logging.Formatter:
    """The one format of every log file beampipe writes."""
    return logging.Formatter(_FORMAT)


@contextlib.contextmanager
def node_log(path: str) -> Iterator[logging.Logger]:
    os.makedirs(os.path.dirname(path), exist_ok=True)
    handler = logging.FileHandler(path, encoding="utf-8")
    handler.setFormatter(file_formatter())
    handler.addFilter(_ThisThread())
    root = logging.getLogger()
    root.addHandler(handler)
    if root.level > logging.INFO or root.level == logging.NOTSET:
        root.setLevel(logging.INFO)
    ident = threading.get_ident()
    with _LOCK:
        previous = _NODE_THREADS.get(ident)
        _NODE_THREADS[ident] = path
    log = logging.getLogger(f"beampipe.node.{os.path.splitext(os.path.basename(path))[0]}")
    try:
        yield log
    finally:
        with _LOCK:
            if previous is None:
                _NODE_THREADS.pop(ident, None)
            else:
                _NODE_THREADS[ident] = previous
        root.removeHandler(handler)
        handler.close()
