"""A throwaway MariaDB server on a loopback port, for store tests.

Uses Debian's mariadb-server binaries (``.ci/run`` installs them). mariadbd
refuses to run as root, so when we are root the server runs as the ``mysql``
user, as the PostgreSQL helper runs as ``postgres``.

Why the user setup looks the way it does: ml-metadata 1.16 links MariaDB
Connector/C 3.0.8 statically with only the ``mysql_native_password`` client
auth plugin built in (no ``caching_sha2_password``, ``client_ed25519`` or
``unix_socket``). So MLMD logs in over TCP only as a user whose password uses
``mysql_native_password``, which is MariaDB's default for ``IDENTIFIED BY``
(on MySQL 8 it has to be asked for explicitly). Root stays password-less on the
socket (``--auth-root-authentication-method=normal``) so :meth:`query` can run
admin SQL without any password. The test user comes from ``--init-file`` at
every start. The server has TLS off and MLMD does not ask for it, so no SSL
options are needed. MLMD creates the database named in the URI itself
(``CREATE DATABASE IF NOT EXISTS``), hence the user gets ``ALL ON *.*``.

The server defaults to utf8mb4, like Debian's packaged config and MySQL 8: with
``--no-defaults`` MariaDB would fall back to latin1. Durability is relaxed
(no fsync per commit, no doublewrite): the data is thrown away.

MLMD-on-MySQL behaviour seen here (MariaDB 10.11, ml-metadata 1.16): it sends the
database name unquoted (``mlmd-test`` or ``order`` is a syntax error); it talks
latin1, so non-ASCII text round-trips through MLMD but is stored double-encoded;
names compare as the collation says (``_ci``: ``run-1`` finds ``RUN-1``); clients
racing on an empty database fail ("subset of tables", deadlocks) until one has
created the schema; and its ``LOCK IN SHARE MODE`` type lookup prevents duplicate
Type rows only under REPEATABLE READ (the default), not under READ COMMITTED.
"""
from __future__ import annotations

import os
import shutil
import socket
import subprocess
import tempfile
import time
from dataclasses import dataclass
from urllib.parse import quote

USER = "beampipe"
PASSWORD = "bp-t3st@pw"  # needs URL quoting on purpose: the URI parser must unquote it


@dataclass(frozen=True)
class Binaries:
    server: str      # mariadbd (or mysqld from the MariaDB packages)
    install_db: str  # mariadb-install-db / mysql_install_db
    client: str      # mariadb / mysql


def find_binaries() -> Binaries | None:
    """The MariaDB server, install-db and client binaries, or None if any is missing."""
    path = os.pathsep.join([os.environ.get("PATH", ""), "/usr/sbin", "/usr/libexec", "/usr/local/sbin"])

    def first(*names: str) -> str | None:
        return next((found for n in names if (found := shutil.which(n, path=path))), None)

    server = first("mariadbd", "mysqld")
    install_db = first("mariadb-install-db", "mysql_install_db")
    client = first("mariadb", "mysql")
    if not (server and install_db and client):
        return None
    return Binaries(server, install_db, client)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class MySQLServer:
    """``MySQLServer(find_binaries()).start()``; ``uri(db)``; ``query(sql)``; ``stop()``."""

    user = USER
    password = PASSWORD

    def __init__(self, binaries: Binaries) -> None:
        self.bin = binaries
        self.port = free_port()
        self.as_user = "mysql" if os.geteuid() == 0 else None
        # the mysql user must be able to reach the directory: /tmp, not a root-only TMPDIR
        self.dir = tempfile.mkdtemp(prefix="beampipe-my-", dir="/tmp" if self.as_user else None)
        self.data = os.path.join(self.dir, "data")
        self.socket = os.path.join(self.dir, "sock")
        self.log = os.path.join(self.dir, "error.log")
        self._proc: subprocess.Popen | None = None
        if self.as_user:
            shutil.chown(self.dir, self.as_user, self.as_user)

    def _as_user(self, cmd: list[str]) -> list[str]:
        return ["runuser", "-u", self.as_user, "--", *cmd] if self.as_user else cmd

    def start(self, timeout: float = 60) -> "MySQLServer":
        try:
            self._start(timeout)
        except BaseException:
            self.stop()
            raise
        return self

    def _start(self, timeout: float) -> None:
        subprocess.run(self._as_user([
            self.bin.install_db, "--no-defaults", f"--datadir={self.data}",
            "--auth-root-authentication-method=normal", "--skip-test-db", "--skip-name-resolve"]),
            check=True, capture_output=True, timeout=120)
        init_file = os.path.join(self.dir, "init.sql")
        with open(init_file, "w") as f:
            f.write(f"CREATE USER IF NOT EXISTS '{USER}'@'%' IDENTIFIED BY '{PASSWORD}';\n"
                    f"GRANT ALL PRIVILEGES ON *.* TO '{USER}'@'%';\n")
        if self.as_user:
            shutil.chown(init_file, self.as_user, self.as_user)
        # as root, mariadbd drops to the mysql user itself (--user): the Popen is the server
        self._proc = subprocess.Popen([
            self.bin.server, "--no-defaults", *([f"--user={self.as_user}"] if self.as_user else []),
            f"--datadir={self.data}", f"--port={self.port}",
            "--bind-address=127.0.0.1", f"--socket={self.socket}",
            f"--pid-file={os.path.join(self.dir, 'pid')}", f"--log-error={self.log}",
            f"--init-file={init_file}", "--skip-name-resolve",
            "--character-set-server=utf8mb4", "--collation-server=utf8mb4_general_ci",
            "--innodb-buffer-pool-size=32M", "--innodb-flush-log-at-trx-commit=0",
            "--innodb-doublewrite=0", "--innodb-use-native-aio=0", "--max-connections=200"],
            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.time() + timeout
        last = ""
        while time.time() < deadline:
            if self._proc.poll() is not None:
                raise RuntimeError(f"mariadbd exited with {self._proc.returncode}:\n{self._log_tail()}")
            login = subprocess.run(self._client_tcp("SELECT 1"), capture_output=True, text=True,
                                   env={**os.environ, "MYSQL_PWD": PASSWORD}, timeout=30)
            if login.returncode == 0:
                return
            last = login.stderr.strip()
            time.sleep(0.2)
        raise RuntimeError(f"mariadbd did not accept a TCP login in {timeout}s ({last}):\n{self._log_tail()}")

    def _client_tcp(self, sql: str) -> list[str]:
        return [self.bin.client, "--no-defaults", "--protocol=TCP", "-h", "127.0.0.1",
                "-P", str(self.port), "-u", USER, "-N", "-B", "-e", sql]

    def _log_tail(self) -> str:
        try:
            with open(self.log, errors="replace") as f:
                return "".join(f.readlines()[-20:])
        except OSError:
            return "(no error log)"

    def uri(self, db: str) -> str:
        """``mysql://USER:PASSWORD@127.0.0.1:PORT/DB``; MLMD creates the database on first connect."""
        return f"mysql://{USER}:{quote(PASSWORD, safe='')}@127.0.0.1:{self.port}/{db}"

    def query(self, sql: str, db: str | None = None) -> list[list[str]]:
        """Run SQL as root over the socket; rows as lists of strings (tab-separated output)."""
        cmd = [self.bin.client, "--no-defaults", "-S", self.socket, "-u", "root", "-N", "-B"]
        if db:
            cmd += ["-D", db]
        out = subprocess.run([*cmd, "-e", sql], check=True, capture_output=True, text=True,
                             timeout=60).stdout
        return [line.split("\t") for line in out.splitlines()]

    def stop(self) -> None:
        """Shut the server down (SIGTERM, then SIGKILL) and remove its directory."""
        try:
            if self._proc is not None and self._proc.poll() is None:
                self._proc.terminate()
                try:
                    self._proc.wait(timeout=30)
                except subprocess.TimeoutExpired:
                    self._proc.kill()
                    self._proc.wait(timeout=30)
        finally:
            self._proc = None
            shutil.rmtree(self.dir, ignore_errors=True)
