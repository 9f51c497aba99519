"""A real penguin model (trained once per session by the penguin pipeline, few steps) and
``beampipe serve`` started as a subprocess on a free port, driven over real HTTP."""
from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from typing import Any

import pytest
import requests

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
PENGUIN_DIR = os.path.join(REPO, "examples", "penguin")
ROW = {"bill_length_mm": 39.1, "bill_depth_mm": 18.7, "flipper_length_mm": 181, "body_mass_g": 3750,
       "island": "Torgersen", "sex": "male", "year": 2007}


@pytest.fixture(scope="session")
def penguin_model(tmp_path_factory) -> str:
    """The SavedModel Pusher pushed, after a short real penguin run (about a minute).
    ``BEAMPIPE_SERVE_TEST_MODEL=<a pushed version dir>`` reuses one (while iterating)."""
    if os.environ.get("BEAMPIPE_SERVE_TEST_MODEL"):
        return os.environ["BEAMPIPE_SERVE_TEST_MODEL"]
    from beampipe.orchestration.ir import load_module_from_file
    from beampipe.orchestration.local_runner import LocalDagRunner

    root = str(tmp_path_factory.mktemp("penguin-serve"))
    module = load_module_from_file(os.path.join(PENGUIN_DIR, "penguin_pipeline.py"), "penguin_pipeline_serving")
    pipe = module.create_pipeline(pipeline_name="penguin", pipeline_root=root, data_root=module.DATA_ROOT,
                                  module_file=module.MODULE_FILE, serving_model_dir=os.path.join(root, "serving"),
                                  accuracy_threshold=0.0)
    result = LocalDagRunner().run(pipe, params={"train_steps": 20})
    assert result.status == "COMPLETE"
    [version] = os.listdir(os.path.join(root, "serving"))
    return os.path.join(root, "serving", version)


def push(model: str, base: str, version: int) -> str:
    """Copy into ``<base>/<version>`` the way Pusher does: a hidden copy renamed into place."""
    staging = os.path.join(base, f".{version}.incomplete")
    shutil.copytree(model, staging)
    os.rename(staging, os.path.join(base, str(version)))
    return os.path.join(base, str(version))


def push_broken(base: str, version: int) -> None:
    """A version whose SavedModel does not load (a truncated upload, a wrong file)."""
    staging = os.path.join(base, f".{version}.incomplete")
    os.makedirs(staging)
    with open(os.path.join(staging, "saved_model.pb"), "wb") as f:
        f.write(b"not a SavedModel")
    os.rename(staging, os.path.join(base, str(version)))


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class Server:
    proc: subprocess.Popen
    url: str
    access_log: str
    session: requests.Session = field(default_factory=requests.Session)

    def get(self, path: str, **kw: Any) -> requests.Response:
        return self.session.get(self.url + path, timeout=30, **kw)

    def post(self, path: str, body: Any = None, data: Any = None, **kw: Any) -> requests.Response:
        return self.session.post(self.url + path, data=json.dumps(body) if data is None else data,
                                 timeout=30, **kw)

    def wait_for(self, check: Any, timeout: float = 60.0) -> Any:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise AssertionError(f"beampipe serve exited with {self.proc.returncode}")
            try:
                value = check()
            except requests.ConnectionError:
                value = None
            if value:
                return value
            time.sleep(0.1)
        raise AssertionError("timed out waiting for the server")

    def versions(self, model: str = "penguin") -> dict[str, str]:
        r = self.get(f"/v1/models/{model}")
        return {s["version"]: s["state"] for s in r.json().get("model_version_status", [])}

    def stop(self) -> None:
        self.session.close()
        self.proc.terminate()
        try:
            self.proc.wait(20)
        except subprocess.TimeoutExpired:
            self.proc.kill()


def start_server(tmp: str, *args: str, ready: Any = None, env: dict[str, str] | None = None) -> Server:
    """``beampipe serve ARGS`` on a free port; returns once every model has a version AVAILABLE."""
    port = free_port()
    log = os.path.join(tmp, f"access-{port}.jsonl")
    env = {**os.environ, **(env or {}), "PYTHONPATH": REPO + os.pathsep + os.environ.get("PYTHONPATH", ""),
           "TF_CPP_MIN_LOG_LEVEL": "2"}
    proc = subprocess.Popen([sys.executable, "-m", "beampipe", "serve", "--port", str(port), "--poll-seconds", "0.2",
                             "--access-log", log, *args], env=env, stdout=subprocess.DEVNULL,
                            stderr=open(os.path.join(tmp, f"serve-{port}.err"), "w"))
    server = Server(proc, f"http://127.0.0.1:{port}", log)
    try:
        server.wait_for((lambda: ready(server)) if ready else (lambda: "AVAILABLE" in server.versions().values()),
                        timeout=90)
    except BaseException:
        server.stop()
        raise
    return server
