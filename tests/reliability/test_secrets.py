"""The metadata password is never compiled: tasks read it from their environment.

Against a PostgreSQL server that checks passwords: an IR compiled from a URI with a
password holds none; the task fails with one clear line without it, and completes with
$BEAMPIPE_METADATA_PASSWORD or $BEAMPIPE_METADATA_URI; the password appears in no file
the run wrote (IR, node logs) and in no MLMD property.
"""
from __future__ import annotations

import json
import os
import subprocess
import sys

from beampipe.metadata.connection import runtime_uri, without_password
from beampipe.metadata.store import MetadataStore
from beampipe.orchestration import ir as ir_mod
from beampipe.orchestration.pipeline import Pipeline
from tests.support.toy import Consume, Produce

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def test_without_password_and_runtime_uri(monkeypatch):
    assert without_password("postgresql://ann:s%40cret@db:5433/m") == "postgresql://ann@db:5433/m"
    assert without_password("/data/m.sqlite") == "/data/m.sqlite"
    monkeypatch.delenv("BEAMPIPE_METADATA_URI", raising=False)
    monkeypatch.setenv("BEAMPIPE_METADATA_PASSWORD", "p@ss:word")
    assert runtime_uri("postgresql://ann@db:5433/m") == "postgresql://ann:p%40ss%3Aword@db:5433/m"
    assert runtime_uri("postgresql://ann:given@db/m") == "postgresql://ann:given@db/m"
    monkeypatch.setenv("BEAMPIPE_METADATA_URI", "mysql://other:pw@h/db")
    assert runtime_uri("postgresql://ann@db:5433/m") == "mysql://other:pw@h/db"


def _task(ir_path: str, node: str, env: dict[str, str]) -> subprocess.CompletedProcess:
    full = {**os.environ, "PYTHONPATH": REPO, **env}
    for name in ("BEAMPIPE_METADATA_URI", "BEAMPIPE_METADATA_PASSWORD"):
        if name not in env:
            full.pop(name, None)
    return subprocess.run([sys.executable, "-m", "beampipe", "run-node", "--ir", ir_path, "--node", node,
                           "--run-id", "r1"], capture_output=True, text=True, env=full, timeout=300)


def test_compiled_ir_holds_no_password_and_tasks_take_it_from_the_environment(tmp_path, password_postgres):
    pg = password_postgres
    secret_uri = pg.uri(pg.password, "secrets")
    produce = Produce(text="hi")
    pipeline = Pipeline("secrets", str(tmp_path / "root"), [produce, Consume(examples=produce.outputs["examples"])],
                        metadata_uri=secret_uri)
    ir = ir_mod.compile_pipeline(pipeline)
    ir_path = tmp_path / "ir.json"
    ir_path.write_text(json.dumps(ir))
    assert pg.password not in ir_path.read_text()
    assert ir_mod.compile_pipeline(pipeline, keep_secrets=True)["pipeline"]["metadata_uri"] == secret_uri

    bare = _task(str(ir_path), "Produce", {})
    assert bare.returncode == 2
    assert "cannot connect to the metadata store" in bare.stderr and f"{pg.host}:{pg.port}" in bare.stderr
    assert "set $BEAMPIPE_METADATA_PASSWORD" in bare.stderr
    assert "Traceback" not in bare.stderr and pg.password not in bare.stdout + bare.stderr

    produced = _task(str(ir_path), "Produce", {"BEAMPIPE_METADATA_PASSWORD": pg.password})
    assert produced.returncode == 0, produced.stderr
    consumed = _task(str(ir_path), "Consume", {"BEAMPIPE_METADATA_URI": secret_uri})
    assert consumed.returncode == 0, consumed.stderr
    for proc in (produced, consumed):
        assert pg.password not in proc.stdout + proc.stderr

    for folder, _, files in os.walk(tmp_path / "root"):
        for name in files:
            with open(os.path.join(folder, name), "rb") as f:
                assert pg.password.encode() not in f.read(), os.path.join(folder, name)
    store = MetadataStore(secret_uri)
    try:
        recorded = [str(e) for e in store.call("get_executions")] + [str(c) for c in store.call("get_contexts")]
        recorded += [str(a) for a in store.call("get_artifacts")]
    finally:
        store.close()
    assert len(recorded) > 3 and not any(pg.password in text for text in recorded)
