"""Start and stop a server: the manager's poller thread plus aiohttp on an asyncio loop."""
from __future__ import annotations

import asyncio
import logging
import os
import signal
import sys
from collections.abc import Callable
from typing import Any

from aiohttp import web

from beampipe.serving.config import Batching, ModelConfig
from beampipe.serving.manager import Manager
from beampipe.serving.metrics import Metrics
from beampipe.serving.server import DEFAULT_MAX_BODY, make_app


def configure_logging(access_log: str | None = "-") -> None:
    """Server events as text on stderr; access logs as JSON lines on stdout (or a file, or off)."""
    events = logging.getLogger("beampipe.serving")
    if not events.handlers:
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(logging.Formatter("beampipe serve: %(levelname)s %(message)s"))
        events.addHandler(handler)
        events.setLevel(logging.INFO)
    access = logging.getLogger("beampipe.serving.access")
    access.propagate = False
    access.setLevel(logging.INFO)
    if access_log is None:
        access.disabled = True
    elif not access.handlers:
        out = logging.StreamHandler(sys.stdout) if access_log == "-" else logging.FileHandler(access_log)
        out.setFormatter(logging.Formatter("%(message)s"))
        access.addHandler(out)


async def start(configs: list[ModelConfig], host: str, port: int, *, poll_seconds: float = 1.0,
                max_body: int = DEFAULT_MAX_BODY, batching: Batching | None = None,
                threads: int = 4) -> tuple[web.AppRunner, Manager, int]:
    """Start serving in the running loop; returns (runner, manager, bound port)."""
    manager = Manager(configs, Metrics(), poll_seconds=poll_seconds)
    app = make_app(manager, max_body=max_body, batching=batching, threads=threads)
    runner = web.AppRunner(app, access_log=None, handle_signals=False)
    await runner.setup()
    site = web.TCPSite(runner, host, port, reuse_address=True)
    await site.start()
    bound = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    manager.start()
    return runner, manager, bound


def run(configs: list[ModelConfig], host: str = "127.0.0.1", port: int = 8501,
        on_ready: Callable[[int], Any] | None = None, exit_with_pid: int | None = None, **kwargs: Any) -> None:
    """Serve until SIGINT/SIGTERM, or until process ``exit_with_pid`` is gone (a server started
    for one job, e.g. InfraValidator's, must not outlive the job if it is killed)."""
    async def main() -> None:
        runner, manager, bound = await start(configs, host, port, **kwargs)
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        if exit_with_pid:
            loop.create_task(_stop_when_gone(exit_with_pid, stop))
        if on_ready:
            on_ready(bound)
        try:
            await stop.wait()
        finally:
            manager.stop()
            await runner.cleanup()

    asyncio.run(main())


async def _stop_when_gone(pid: int, stop: asyncio.Event) -> None:
    while not stop.is_set():
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            logging.getLogger("beampipe.serve").warning("process %d is gone: stopping", pid)
            stop.set()
            return
        except PermissionError:  # alive, owned by someone else
            pass
        await asyncio.sleep(1.0)
