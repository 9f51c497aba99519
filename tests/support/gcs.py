"""A throwaway GCS emulator on a loopback port, for gs:// storage tests.

There is no cloud here, so ``gs://`` is tested against ``gcp-storage-emulator`` (a pure
Python stub of the GCS JSON API, from PyPI, in the ``test`` extra), which gcsfs reaches
through ``STORAGE_EMULATOR_HOST``. It proves our gcsfs calls and semantics, not Google's
authentication: that part is tested by the "no credentials" error test.
"""
from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import sysconfig
import tempfile
import time

from tests.support.seaweed import free_ports


def find_emulator() -> str | None:
    for folder in (sysconfig.get_path("scripts"), os.path.dirname(sys.executable)):
        candidate = os.path.join(folder, "gcp-storage-emulator")
        if os.access(candidate, os.X_OK):
            return candidate
    return shutil.which("gcp-storage-emulator")


class GcsEmulator:
    def __init__(self, executable: str, bucket: str = "beampipe-gcs-test") -> None:
        self.executable = executable
        self.bucket = bucket
        (self.port,) = free_ports(1)
        self.endpoint = f"http://127.0.0.1:{self.port}"
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def env(self) -> dict[str, str]:
        return {"STORAGE_EMULATOR_HOST": self.endpoint, "GOOGLE_CLOUD_PROJECT": "beampipe-test"}

    def start(self, timeout: float = 30.0) -> GcsEmulator:
        self.log = tempfile.TemporaryFile()
        self.process = subprocess.Popen(
            [self.executable, "start", "--host", "127.0.0.1", "--port", str(self.port),
             "--default-bucket", self.bucket, "--in-memory", "--quiet"],
            stdout=self.log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
            start_new_session=True)
        deadline = time.time() + timeout
        while time.time() < deadline:
            if self.process.poll() is not None:
                self.log.seek(0)
                raise RuntimeError(f"gcp-storage-emulator exited: {self.log.read().decode()[-2000:]}")
            with socket.socket() as s:
                if s.connect_ex(("127.0.0.1", self.port)) == 0:
                    return self
            time.sleep(0.2)
        self.stop()
        raise RuntimeError("gcp-storage-emulator did not start")

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=5)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait(timeout=5)
