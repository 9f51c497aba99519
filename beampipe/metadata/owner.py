"""Who owns a RUNNING execution or run, and whether that owner still lives.

A process records ``owner`` (host, pid and the pid's start time, so a recycled pid
is not mistaken for the original) and refreshes ``heartbeat_at`` while it works.
On the same host the process table answers for sure; from another host (a KFP pod,
an Airflow worker) only the heartbeat can: an owner silent for longer than the
lease is taken for dead.
"""
from __future__ import annotations

import os
import re
import socket
import time
from functools import lru_cache
from typing import Any

HEARTBEAT_ENV = "BEAMPIPE_HEARTBEAT_SECONDS"


def heartbeat_seconds() -> float:
    try:
        return max(0.05, float(os.environ.get(HEARTBEAT_ENV, "30")))
    except ValueError:
        return 30.0


def lease_seconds() -> float:
    """How long a silent owner on another host is still believed alive."""
    return 4 * heartbeat_seconds() + 10


def _start_ticks(pid: int) -> str | None:
    """The process start time in clock ticks since boot (Linux), None if no such process."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            stat = f.read().decode(errors="replace")
    except (FileNotFoundError, ProcessLookupError, PermissionError):
        return None
    except OSError:
        return _kill0(pid)
    # The command name (field 2) may hold spaces and parentheses: split after the last ')'.
    fields = stat[stat.rfind(")") + 2:].split()
    if fields and fields[0] == "Z":  # a zombie has finished its work
        return None
    return fields[19] if len(fields) > 19 else "?"


def _kill0(pid: int) -> str | None:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return None
    except PermissionError:
        return "?"
    return "?"


@lru_cache(maxsize=None)
def host() -> str:
    """This host's name with only [A-Za-z0-9.-], so an owner can be spelled in a file name."""
    return re.sub(r"[^A-Za-z0-9.-]", "-", socket.gethostname()) or "host"


@lru_cache(maxsize=None)
def _this_process(pid: int) -> str:
    ticks = _start_ticks(pid) if os.path.exists("/proc") else "?"
    return f"{host()}|{pid}|{ticks or '?'}"


def owner_token() -> str:
    """``host|pid|start-ticks`` of this process."""
    return _this_process(os.getpid())


def is_local(owner: str) -> bool:
    """Was this owner token written by a process on this host?"""
    return owner.split("|", 1)[0] in (host(), socket.gethostname())


def owner_alive(props: dict[str, Any], now: float | None = None) -> bool:
    """Is the process recorded in props (``owner``, ``heartbeat_at``, ``started_at``) alive?"""
    now = time.time() if now is None else now
    owner = props.get("owner")
    if isinstance(owner, str) and owner.count("|") == 2:
        _, pid, ticks = owner.split("|")
        if is_local(owner) and pid.isdigit():
            seen = _start_ticks(int(pid))
            return seen is not None and (ticks == "?" or seen == "?" or seen == ticks)
    last = props.get("heartbeat_at") or props.get("started_at") or 0.0
    return now - float(last) < lease_seconds()
