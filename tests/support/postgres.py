"""A throwaway PostgreSQL server on a loopback port, for store tests.

Uses Debian's postgresql binaries (``.ci/run`` installs them). initdb refuses
to run as root, so when we are root the server runs as the ``postgres`` user.
"""
from __future__ import annotations

import glob
import os
import shutil
import socket
import subprocess
import tempfile
import time


def find_bin_dir() -> str | None:
    for candidate in sorted(glob.glob("/usr/lib/postgresql/*/bin"), reverse=True):
        if os.path.exists(os.path.join(candidate, "initdb")):
            return candidate
    found = shutil.which("initdb")
    return os.path.dirname(found) if found else None


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class PostgresServer:
    def __init__(self, bin_dir: str) -> None:
        self.bin_dir = bin_dir
        self.port = free_port()
        self.dir = tempfile.mkdtemp(prefix="beampipe-pg-")
        self.data = os.path.join(self.dir, "data")
        self.as_user = "postgres" if os.geteuid() == 0 else None
        if self.as_user:
            shutil.chown(self.dir, self.as_user, self.as_user)

    def _run(self, *cmd: str) -> None:
        full = list(cmd)
        if self.as_user:
            full = ["runuser", "-u", self.as_user, "--", *full]
        subprocess.run(full, check=True, capture_output=True, timeout=120)

    def start(self) -> "PostgresServer":
        self._run(os.path.join(self.bin_dir, "initdb"), "-D", self.data, "-U", "beampipe",
                  "--auth=trust", "-E", "UTF8")
        self._run(os.path.join(self.bin_dir, "pg_ctl"), "-D", self.data, "-l",
                  os.path.join(self.dir, "log"), "-w", "-o",
                  f"-p {self.port} -k {self.dir} -h 127.0.0.1", "start")
        deadline = time.time() + 30
        while time.time() < deadline:
            with socket.socket() as s:
                if s.connect_ex(("127.0.0.1", self.port)) == 0:
                    return self
            time.sleep(0.2)
        raise RuntimeError("postgres did not start")

    def uri(self, db: str) -> str:
        return f"postgresql://beampipe@127.0.0.1:{self.port}/{db}"

    def stop(self) -> None:
        try:
            self._run(os.path.join(self.bin_dir, "pg_ctl"), "-D", self.data, "-m", "immediate", "stop")
        finally:
            shutil.rmtree(self.dir, ignore_errors=True)
