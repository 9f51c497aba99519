"""Issue 9's Kubeflow test: penguin compiled with an s3:// root (SeaweedFS) and MLMD on PostgreSQL,
the example directory moved away, then the YAML run by kfp.local from elsewhere, each task in an
empty working directory and TMPDIR. A task killed with SIGKILL mid-publish leaves nothing LIVE,
and the next run cleans up what it uploaded.
"""
from __future__ import annotations

import base64
import gzip
import os
import re
import shutil
import subprocess
import sys
import time
import uuid

import pytest

from beampipe import io
from beampipe.io import backends
from beampipe.metadata.store import NODE_CONTEXT, RUN_CONTEXT, MetadataStore
from tests.support.kfp_local import assert_isolated, isolated_kfp_local  # noqa: F401

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
PENGUIN = os.path.join(REPO, "examples", "penguin")
NODES = ["CsvExampleGen", "StatisticsGen", "SchemaGen", "ExampleValidator", "Transform", "Trainer",
         "latest_blessed_model_resolver", "Evaluator", "Pusher", "BulkInferrer"]


def _latest_states(store: MetadataStore, run_id: str) -> dict[str, str]:
    latest = {}
    for ex in sorted(store.executions_in_context(RUN_CONTEXT, run_id), key=lambda e: e["id"]):
        latest[ex["node_id"]] = ex["state"]
    return latest


def _attempt_prefixes(root: str, node: str) -> set[str]:
    base = io.join(root, node)
    if not io.exists(base):
        return set()
    return {io.join(base, key, attempt) for key in io.listdir(base) for attempt in io.listdir(io.join(base, key))}


def _live_uris(store: MetadataStore, node: str) -> set[str]:
    uris = set()
    for ex in store.executions_in_context(NODE_CONTEXT, f"penguin.{node}"):
        for artifacts in store.artifacts_of(ex["id"]).values():
            uris.update(a.uri for a in artifacts if a.state == "LIVE")
    return uris


@pytest.mark.e2e
def test_penguin_yaml_on_s3_and_postgres_under_kfp_local(s3_server, postgres_server, tmp_path, monkeypatch,
                                                         isolated_kfp_local):
    for name, value in s3_server.env.items():  # kfp.local hands the test's environment to every task
        monkeypatch.setenv(name, value)
    backends.clear_cache()
    prefix = f"s3://{s3_server.bucket}/kfp-{uuid.uuid4().hex[:8]}"
    root, data = f"{prefix}/penguin", f"{prefix}/data"
    io.copy(os.path.join(PENGUIN, "data"), data)
    uri = postgres_server.uri("mlmd_kfp_penguin_" + uuid.uuid4().hex[:6])

    # Compile from a copy of the example, as a user compiles from their checkout; then remove it.
    checkout = tmp_path / "checkout"
    shutil.copytree(PENGUIN, checkout, ignore=shutil.ignore_patterns("data", "__pycache__"))
    compiled = tmp_path / "penguin.yaml"
    proc = subprocess.run(
        [sys.executable, "-m", "beampipe", "compile", str(checkout / "penguin_pipeline.py"), "--target", "kubeflow",
         "-o", str(compiled), "--image", "registry.example/beampipe:1", "--metadata-uri", uri,
         "--storage-secret", "s3-creds", "--env", f"AWS_ENDPOINT_URL={s3_server.endpoint}"],
        env={**os.environ, "PYTHONPATH": REPO, "PENGUIN_ROOT": root, "PENGUIN_DATA": data},
        capture_output=True, text=True, timeout=300, cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    shutil.rmtree(checkout)
    text = compiled.read_text()
    decoded = text + "".join(gzip.decompress(base64.b64decode(b)).decode()
                             for b in re.findall(r"b64gz:([A-Za-z0-9+/=]+)", text))
    for local in (str(tmp_path), REPO, os.path.expanduser("~")):
        assert local not in decoded, local
    assert s3_server.secret_key not in decoded and s3_server.access_key not in decoded

    started = time.perf_counter()
    ok, first, tasks = isolated_kfp_local.run(str(compiled))
    print(f"penguin under kfp.local on s3: {time.perf_counter() - started:.1f}s")
    assert ok, tasks[-1]["output"][-3000:]
    assert_isolated(tasks, tmp_too=False)  # TF's autograph leaves files in TMPDIR; pods' /tmp is private
    store = MetadataStore(uri)
    try:
        assert _latest_states(store, first) == dict.fromkeys(NODES, "COMPLETE")
        live = [a for a in store.call("get_artifacts") if a.state == 2]
        assert live and all(a.uri.startswith(root + "/") for a in live), sorted(a.uri for a in live)
        executions = store.executions_in_context(RUN_CONTEXT, first)
        shipped = {ex["node_id"]: ex["exec_properties"] for ex in executions if ex["node_id"] in ("Transform", "Trainer")}
        assert all(f"{root}/_code/" in props for props in shipped.values()), shipped
    finally:
        store.close()

    # SIGKILL in Trainer after its outputs are uploaded, before MLMD records them: the run fails,
    # nothing of the attempt is LIVE, and its uploaded prefix is there, unrecorded.
    monkeypatch.setenv("BEAMPIPE_FAULT_KILL", "Trainer:renamed")
    ok, killed, tasks = isolated_kfp_local.run(str(compiled), train_steps=150)
    monkeypatch.delenv("BEAMPIPE_FAULT_KILL")
    assert not ok and tasks[-1]["node"] == "Trainer" and tasks[-1]["returncode"] == 128 + 9  # sh reports its child's SIGKILL
    store = MetadataStore(uri)
    try:
        assert _latest_states(store, killed)["Trainer"] == "RUNNING"  # its owner is dead; reclaimed next time
        assert _attempt_prefixes(root, "Trainer") - _live_uris(store, "Trainer")
    finally:
        store.close()

    ok, rerun, tasks = isolated_kfp_local.run(str(compiled), train_steps=150)
    assert ok, tasks[-1]["output"][-3000:]
    store = MetadataStore(uri)
    try:
        states = _latest_states(store, rerun)
        assert states["Transform"] == "CACHED" and states["Trainer"] == "COMPLETE", states
        [dead] = [e for e in store.executions_in_context(RUN_CONTEXT, killed) if e["node_id"] == "Trainer"]
        assert dead["state"] == "FAILED" and "abandoned" in dead, dead
        # kfp.local never ran the killed run's closing task: the reclaim ended that run too.
        assert store.run(killed)["state"] == "FAILED" and "Trainer" in store.run(killed)["abandoned"]
        # Every Trainer prefix on S3 is a LIVE artifact: the killed attempt's upload is gone.
        assert _attempt_prefixes(root, "Trainer") == _live_uris(store, "Trainer")
    finally:
        store.close()
