"""Helpers for driving the real ``beampipe`` command and reading what it left behind.

The store is read with plain sqlite3 (read-only), not through beampipe, so a bug in
beampipe's store code cannot hide what was recorded.
"""
from __future__ import annotations

import os
import shutil
import sqlite3
import subprocess
import sys
import tempfile
from dataclasses import dataclass, field
from typing import Iterator

import pytest

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

# MLMD's enum values, as stored in its tables.
RUNNING, COMPLETE, FAILED = 2, 3, 4
LIVE = 2
OUTPUT_EVENTS = (1, 4, 6, 7)  # DECLARED_OUTPUT, OUTPUT, INTERNAL_OUTPUT, PENDING_OUTPUT


def beampipe(argv: list[str], cwd: str, env: dict[str, str] | None = None, stdin: str | None = None,
             timeout: float = 240) -> subprocess.CompletedProcess:
    """``beampipe ARGV`` as a user types it (this checkout's code, tests/ importable)."""
    full_env = {**os.environ, "PYTHONPATH": REPO}
    for name in ("BEAMPIPE_METADATA_URI", "TF_CPP_MIN_LOG_LEVEL", "GLOG_minloglevel"):
        full_env.pop(name, None)  # a user's shell has none of these: test the command's defaults
    full_env.update(env or {})
    return subprocess.run([sys.executable, "-m", "beampipe", *argv], cwd=cwd, env=full_env,
                          input=stdin, capture_output=True, text=True, timeout=timeout)


def python(code: str, cwd: str) -> subprocess.CompletedProcess:
    """Run Python code in a fresh interpreter with this checkout importable."""
    env = {**os.environ, "PYTHONPATH": REPO}
    return subprocess.run([sys.executable, "-c", code], cwd=cwd, env=env, capture_output=True,
                          text=True, timeout=240)


@dataclass
class StoreSnapshot:
    """What an MLMD SQLite file holds, as counts and per-node states."""

    executions: dict[int, tuple[int, str]]  # id -> (state, node id)
    live_outputs: dict[int, int]  # LIVE artifact id -> producing execution id
    running_runs: list[str] = field(default_factory=list)  # pipeline runs whose state is RUNNING

    @classmethod
    def read(cls, path: str, pipeline: str) -> "StoreSnapshot":
        """What the file holds; empty when it is missing or not a database at all."""
        if not os.path.exists(path):
            return cls({}, {})
        db = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
        try:
            db.execute("SELECT count(*) FROM sqlite_master").fetchone()
        except sqlite3.DatabaseError:
            db.close()
            return cls({}, {})
        try:
            nodes = {ex: node for ex, node in db.execute(
                "SELECT execution_id, string_value FROM ExecutionProperty WHERE name = 'node_id'")}
            prefix = f"{pipeline}."
            for ex, name in db.execute(
                    "SELECT a.execution_id, c.name FROM Association a JOIN Context c ON c.id = a.context_id"):
                if name.startswith(prefix) and ex not in nodes:
                    nodes[ex] = name[len(prefix):]
            executions = {ex: (state, nodes.get(ex, "?"))
                          for ex, state in db.execute("SELECT id, last_known_state FROM Execution")}
            marks = ",".join(str(t) for t in OUTPUT_EVENTS)
            live = {art: ex for art, ex in db.execute(
                "SELECT e.artifact_id, e.execution_id FROM Event e JOIN Artifact a ON a.id = e.artifact_id "
                f"WHERE a.state = {LIVE} AND e.type IN ({marks})")}
            running = [name for (name,) in db.execute(
                "SELECT c.name FROM Context c JOIN ContextProperty p ON p.context_id = c.id "
                "WHERE p.name = 'state' AND p.string_value = 'RUNNING'")]
        finally:
            db.close()
        return cls(executions, live, running)

    def new_since(self, before: "StoreSnapshot") -> "StoreSnapshot":
        return StoreSnapshot({k: v for k, v in self.executions.items() if k not in before.executions},
                             {k: v for k, v in self.live_outputs.items() if k not in before.live_outputs},
                             [r for r in self.running_runs if r not in before.running_runs])


@dataclass
class PasswordPostgres:
    host: str
    port: int
    user: str
    password: str

    def uri(self, password: str, db: str = "mlmd") -> str:
        return f"postgresql://{self.user}:{password}@{self.host}:{self.port}/{db}"


@pytest.fixture(scope="session")
def password_postgres() -> Iterator[PasswordPostgres]:
    """A PostgreSQL server that checks passwords (the shared test server trusts everyone)."""
    from tests.support.postgres import find_bin_dir, free_port

    bin_dir = find_bin_dir()
    if bin_dir is None:
        if os.environ.get("CI") == "true":
            pytest.fail("PostgreSQL binaries are missing; .ci/run should have installed them")
        pytest.skip("PostgreSQL is not installed (apt-get install postgresql)")
    as_user = "postgres" if os.geteuid() == 0 else None
    folder = tempfile.mkdtemp(prefix="beampipe-pgpw-")
    data, port, password = os.path.join(folder, "data"), free_port(), "right-Pw-7731"
    with open(os.path.join(folder, "pw"), "w") as f:
        f.write(password + "\n")
    if as_user:
        shutil.chown(folder, as_user, as_user)
        shutil.chown(os.path.join(folder, "pw"), as_user, as_user)

    def pg(*cmd: str) -> None:
        full = [os.path.join(bin_dir, cmd[0]), *cmd[1:]]
        if as_user:
            full = ["runuser", "-u", as_user, "--", *full]
        subprocess.run(full, check=True, capture_output=True, timeout=120)

    pg("initdb", "-D", data, "-U", "beampipe", "--auth=scram-sha-256",
       f"--pwfile={os.path.join(folder, 'pw')}", "-E", "UTF8")
    pg("pg_ctl", "-D", data, "-l", os.path.join(folder, "log"), "-w", "-o",
       f"-p {port} -k {folder} -h 127.0.0.1", "start")
    try:
        yield PasswordPostgres("127.0.0.1", port, "beampipe", password)
    finally:
        try:
            pg("pg_ctl", "-D", data, "-m", "immediate", "stop")
        finally:
            shutil.rmtree(folder, ignore_errors=True)
