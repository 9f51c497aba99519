"""Dynamic batching, as TF Serving's ``--enable_batching``: concurrent requests for the same
version and signature are concatenated along the batch axis (up to ``max_batch_size`` rows,
waiting at most ``batch_timeout_ms`` for company), run as one model call, and split back.

A batch whose requests cannot be concatenated (different trailing shapes) or whose outputs do
not have the batch axis first, or that fails, is re-run request by request, so one client's bad
input never fails another client's request.
"""
from __future__ import annotations

import asyncio
from collections.abc import Callable
from concurrent.futures import Executor
from typing import Any

import numpy as np

Arrays = dict[str, np.ndarray]


class Batcher:
    """At most ``parallel`` model calls at once; requests that arrive while they run wait and
    go together in the next call. With ``timeout_ms`` 0 (TF Serving's default) a lone request
    runs at once, so batching costs nothing at low load; a timeout makes calls wait for company."""

    def __init__(self, run: Callable[[Arrays], Arrays], executor: Executor, max_batch_size: int,
                 timeout_ms: float, on_batch: Callable[[int], None] | None = None, parallel: int = 2) -> None:
        self._run, self._executor = run, executor
        self.max_batch_size, self.timeout, self.parallel = max_batch_size, timeout_ms / 1000.0, parallel
        self._on_batch = on_batch
        self._pending: list[tuple[Arrays, int, asyncio.Future[Arrays]]] = []
        self._rows = 0
        self._running = 0
        self._due = False
        self._timer: asyncio.TimerHandle | None = None

    async def submit(self, arrays: Arrays) -> Arrays:
        loop = asyncio.get_running_loop()
        rows = _rows(arrays)
        if rows is None or rows >= self.max_batch_size:
            return await loop.run_in_executor(self._executor, self._run, arrays)
        fut: asyncio.Future[Arrays] = loop.create_future()
        self._pending.append((arrays, rows, fut))
        self._rows += rows
        if self.timeout <= 0 or self._rows >= self.max_batch_size:
            self._due = True
        elif self._timer is None:
            self._timer = loop.call_later(self.timeout, self._expire)
        self._dispatch()
        return await fut

    def _expire(self) -> None:
        self._timer, self._due = None, True
        self._dispatch()

    def _dispatch(self) -> None:
        """Start a call if one is due and a slot is free; the next completion retries."""
        while self._pending and self._due and self._running < self.parallel:
            batch, rows = [], 0
            while self._pending and rows + self._pending[0][1] <= self.max_batch_size:
                item = self._pending.pop(0)
                batch.append(item)
                rows += item[1]
            self._rows -= rows
            self._running += 1
            asyncio.get_running_loop().create_task(self._execute(batch))
            if self._timer is not None and not self._pending:
                self._timer.cancel()
                self._timer = None
            self._due = bool(self._pending) and (self.timeout <= 0 or self._rows >= self.max_batch_size
                                                 or self._timer is None)

    async def _execute(self, batch: list[tuple[Arrays, int, asyncio.Future[Arrays]]]) -> None:
        try:
            await self._call(batch)
        finally:
            self._running -= 1
            if self._pending and self._timer is None:
                self._due = True
            self._dispatch()

    async def _call(self, batch: list[tuple[Arrays, int, asyncio.Future[Arrays]]]) -> None:
        loop = asyncio.get_running_loop()
        if self._on_batch:
            self._on_batch(sum(rows for _, rows, _ in batch))
        if len(batch) > 1:
            try:
                merged = {k: np.concatenate([a[k] for a, _, _ in batch]) for k in batch[0][0]}
                out = await loop.run_in_executor(self._executor, self._run, merged)
                parts = _split(out, [rows for _, rows, _ in batch])
            except Exception:  # noqa: BLE001 - retried one by one below, each gets its own answer
                parts = None
            if parts is not None:
                for (_, _, fut), part in zip(batch, parts):
                    if not fut.done():
                        fut.set_result(part)
                return
        for arrays, _, fut in batch:
            try:
                result = await loop.run_in_executor(self._executor, self._run, arrays)
            except Exception as err:  # noqa: BLE001 - handed to the waiting request
                if not fut.done():
                    fut.set_exception(err)
            else:
                if not fut.done():
                    fut.set_result(result)


def _rows(arrays: Arrays) -> int | None:
    sizes = {a.shape[0] if a.ndim else None for a in arrays.values()}
    if len(sizes) != 1 or None in sizes:
        return None
    return sizes.pop()


def _split(out: Arrays, rows: list[int]) -> list[Arrays] | None:
    total = sum(rows)
    if any(np.ndim(v) == 0 or np.shape(v)[0] != total for v in out.values()):
        return None
    bounds = np.cumsum(rows)[:-1]
    pieces = {k: np.split(np.asarray(v), bounds) for k, v in out.items()}
    return [{k: pieces[k][i] for k in out} for i in range(len(rows))]
