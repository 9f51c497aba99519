"""Each node's log goes to its own file under the pipeline root.

Records from the thread running the node (the executor, and libraries it calls
in that thread) are written to the node's file; the console stays quiet.
"""
from __future__ import annotations

import contextlib
import logging
import os
import threading
from typing import Iterator

_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"


class _ThisThread(logging.Filter):
    def __init__(self) -> None:
        super().__init__()
        self.ident = threading.get_ident()

    def filter(self, record: logging.LogRecord) -> bool:
        return record.thread == self.ident


@contextlib.contextmanager
def node_log(path: str) -> Iterator[logging.Logger]:
    os.makedirs(os.path.dirname(path), exist_ok=True)
    handler = logging.FileHandler(path, encoding="utf-8")
    handler.setFormatter(logging.Formatter(_FORMAT))
    handler.addFilter(_ThisThread())
    root = logging.getLogger()
    root.addHandler(handler)
    if root.level > logging.INFO or root.level == logging.NOTSET:
        root.setLevel(logging.INFO)
    log = logging.getLogger(f"beampipe.node.{os.path.splitext(os.path.basename(path))[0]}")
    try:
        yield log
    finally:
        root.removeHandler(handler)
        handler.close()
