"""Per-node progress: a live, redrawn status block on a terminal; plain lines otherwise."""
from __future__ import annotations

import sys
import threading
import time
from typing import Any, TextIO

_MARK = {"COMPLETE": "✓", "CACHED": "↺", "SKIPPED": "→", "FAILED": "✗", "NOT_RUN": "·"}


class Progress:
    """Called by the runner as (node_id, 'started'|'finished', result)."""

    def __init__(self, node_ids: list[str], stream: TextIO | None = None,
                 live: bool | None = None) -> None:
        self.stream = stream or sys.stdout
        self.live = self.stream.isatty() if live is None else live
        self.width = max((len(n) for n in node_ids), default=10)
        self.running: dict[str, float] = {}
        self.lock = threading.Lock()
        self.drawn = 0
        self._stop = threading.Event()
        self._ticker: threading.Thread | None = None
        if self.live:
            self._ticker = threading.Thread(target=self._tick, daemon=True)
            self._ticker.start()

    def __call__(self, node_id: str, event: str, result: Any) -> None:
        with self.lock:
            self._clear()
            if event == "started":
                self.running[node_id] = time.time()
                if not self.live:
                    self._line(f"  … {node_id:<{self.width}}  started")
            else:
                self.running.pop(node_id, None)
                status = result.status
                detail = f"{result.seconds:6.1f}s" if status in ("COMPLETE", "FAILED") else ""
                note = status.lower().replace("_", " ")
                if result.error and status in ("SKIPPED", "NOT_RUN"):
                    note += f" ({result.error})"
                self._line(f"  {_MARK.get(status, '?')} {node_id:<{self.width}}  {note:<9} {detail}")
            self._draw()

    def close(self) -> None:
        self._stop.set()
        with self.lock:
            self._clear()

    def _line(self, text: str) -> None:
        self.stream.write(text + "\n")
        self.stream.flush()

    def _tick(self) -> None:
        while not self._stop.wait(0.25):
            with self.lock:
                self._clear()
                self._draw()

    def _clear(self) -> None:
        if self.live and self.drawn:
            self.stream.write("\x1b[1A\x1b[2K" * self.drawn)
            self.drawn = 0

    def _draw(self) -> None:
        if not self.live:
            return
        now = time.time()
        for node_id, since in self.running.items():
            spinner = "⠋⠙⠹⠸⠼⠴⠦⠧⠇⠏"[int(now * 8) % 10]
            self.stream.write(f"  {spinner} {node_id:<{self.width}}  running   {now - since:6.1f}s\n")
        self.drawn = len(self.running)
        self.stream.flush()
