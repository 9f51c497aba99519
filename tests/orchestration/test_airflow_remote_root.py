"""The compiled Airflow DAG on an object-store root: ``dag.test()`` in a real Airflow 3, the
pipeline root on a real S3 server (SeaweedFS), MLMD on PostgreSQL.

Credentials reach the tasks only through the worker's environment (``AWS_*`` and
``BEAMPIPE_METADATA_PASSWORD``): the DAG file holds neither the S3 secret nor the
metadata password. Every LIVE artifact is on ``s3://``, nothing of the root stays on local
disk, and a second DAG run is served from the cache.
"""
from __future__ import annotations

import json
import os
import secrets
import sys
import uuid

import pytest

from beampipe import io
from beampipe.io import backends
from beampipe.metadata.store import MetadataStore
from beampipe.orchestration import ir as ir_mod
from beampipe.orchestration.compilers.airflow import FINISH_TASK, compile_dag
from beampipe.orchestration.entrypoint import sanitize_run_id
from beampipe.orchestration.pipeline import Pipeline
from tests.orchestration.test_airflow_compiler import (  # noqa: F401  (fixtures)
    _RUN, _airflow, _pipeline_module, airflow_home, airflow_python)

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


@pytest.fixture
def s3_worker(s3_server, postgres_server, airflow_home, tmp_path, monkeypatch):
    """What an Airflow worker on S3 gets: the AWS variables and the metadata password in its
    environment, a temp dir of its own (so what is left in it can be listed), and a working
    directory of its own. Yields (env, scratch, workdir, store URI with password, password)."""
    for name, value in s3_server.env.items():  # for this test's own checks
        monkeypatch.setenv(name, value)
    backends.clear_cache()
    password = "pw-" + secrets.token_hex(8)  # the server trusts loopback: any password connects
    db = "mlmd_af_" + uuid.uuid4().hex[:8]
    uri = postgres_server.uri(db).replace("beampipe@", f"beampipe:{password}@")
    scratch, work = tmp_path / "tmp", tmp_path / "work"
    scratch.mkdir()
    work.mkdir()
    env = {**airflow_home, **s3_server.env, "BEAMPIPE_METADATA_PASSWORD": password,
           "TMPDIR": str(scratch), "PYTHONPATH": REPO}
    env.pop("BEAMPIPE_METADATA_URI", None)
    yield env, scratch, work, uri, password
    backends.clear_cache()


def _live(uri: str) -> list:
    store = MetadataStore(uri)
    try:
        return [a for a in store.call("get_artifacts") if a.state == store.pb.Artifact.LIVE]
    finally:
        store.close()


def _left_locally(*dirs) -> list[str]:
    return [os.path.join(d, f) for top in dirs for d, _, files in os.walk(top) for f in files]


def _compile(pipeline: Pipeline, env: dict[str, str], s3_server, password: str) -> tuple[dict, str]:
    ir = ir_mod.compile_pipeline(pipeline)
    text = compile_dag(ir, python=sys.executable, retries=0)
    assert s3_server.secret_key not in text and password not in text
    assert s3_server.access_key not in text
    path = os.path.join(env["AIRFLOW__CORE__DAGS_FOLDER"], f"{pipeline.name.replace('-', '_')}.py")
    with open(path, "w") as f:
        f.write(text)
    return ir, path


def _run_dag(airflow_python: str, env: dict[str, str], work, dag_file: str, confs: list) -> list:
    os.chdir(work)  # the Airflow process (and so each task) starts in an empty directory
    try:
        return _airflow(airflow_python, env, _RUN, dag_file, json.dumps(confs))
    finally:
        os.chdir(REPO)


def _states(run: dict) -> dict[str, str]:
    return {k: v.lower().split(".")[-1] for k, v in run["tasks"].items()}


def _executions(uri: str, run_id: str) -> dict[str, str]:
    store = MetadataStore(uri)
    try:
        return {e["node_id"]: e["state"] for e in store.executions_in_context("pipeline_run", run_id)}
    finally:
        store.close()


@pytest.mark.e2e
def test_backend_pipeline_dag_on_s3_root(s3_server, s3_worker, airflow_python):
    env, scratch, work, uri, password = s3_worker
    root = f"s3://{s3_server.bucket}/airflow-{uuid.uuid4().hex[:8]}/backend"
    pipeline = _pipeline_module().make_pipeline(root)
    pipeline.metadata_uri = uri
    ir, dag_file = _compile(pipeline, env, s3_server, password)
    assert ir["pipeline"]["root"] == root

    first, second = _run_dag(airflow_python, env, work, dag_file, [{"threshold": 3}, {"threshold": 3}])
    print("dag.test runs:", json.dumps([first, second]))
    assert first["state"].lower().endswith("success"), first
    assert set(_states(first).values()) == {"success"}
    assert len(first["tasks"]) == len(ir["nodes"]) + 1

    live = _live(uri)
    assert len(live) == 5, [a.uri for a in live]
    assert all(a.uri.startswith(root + "/") for a in live), [a.uri for a in live]
    pushed = next(a for a in live if "/Push/" in a.uri)
    counted = next(a for a in live if "/CountRows/" in a.uri)
    assert io.isfile(io.join(pushed.uri, "pushed.txt")) and pushed.custom_properties["pushed"].int_value == 1
    assert io.read_text(io.join(counted.uri, "count.txt")) == "5"
    logs = io.listdir(io.join(root, ".beampipe", "logs", sanitize_run_id(first["run_id"])))
    assert logs == sorted(f"{n['id']}.log" for n in ir["nodes"])

    assert second["state"].lower().endswith("success"), second
    assert set(_states(second).values()) == {"success"}
    assert _executions(uri, sanitize_run_id(second["run_id"])) == {n["id"]: "CACHED" for n in ir["nodes"]}
    assert {a.id for a in _live(uri)} == {a.id for a in live}

    assert _left_locally(scratch, work) == []
    assert not any(name.startswith("s3") for name in os.listdir(env["AIRFLOW_HOME"]))


PENGUIN_DATA = os.path.join(REPO, "examples", "penguin", "data")


def _penguin_front(root: str, data: str, uri: str) -> Pipeline:
    from beampipe.components import CsvExampleGen, SchemaGen, StatisticsGen

    example_gen = CsvExampleGen(input_base=data)
    statistics_gen = StatisticsGen(examples=example_gen.outputs["examples"])
    schema_gen = SchemaGen(statistics=statistics_gen.outputs["statistics"], infer_feature_shape=True)
    return Pipeline("penguin-front", root, [example_gen, statistics_gen, schema_gen], metadata_uri=uri)


@pytest.mark.e2e
def test_real_components_dag_on_s3_root(s3_server, s3_worker, airflow_python):
    """CsvExampleGen -> StatisticsGen -> SchemaGen, the CSV itself on S3."""
    env, scratch, work, uri, password = s3_worker
    base = f"s3://{s3_server.bucket}/airflow-{uuid.uuid4().hex[:8]}"
    root, data = f"{base}/penguin", f"{base}/data"
    io.copy(PENGUIN_DATA, data)
    ir, dag_file = _compile(_penguin_front(root, data, uri), env, s3_server, password)

    first, second = _run_dag(airflow_python, env, work, dag_file, [{}, {}])
    print("dag.test runs:", json.dumps([first, second]))
    assert first["state"].lower().endswith("success"), first
    assert _states(first) == {"CsvExampleGen": "success", "StatisticsGen": "success",
                              "SchemaGen": "success", FINISH_TASK: "success"}
    live = _live(uri)
    assert sorted(a.uri.split("/")[-3] for a in live) == ["CsvExampleGen", "SchemaGen", "StatisticsGen"]
    assert all(a.uri.startswith(root + "/") for a in live), [a.uri for a in live]
    schema = next(a for a in live if "/SchemaGen/" in a.uri)
    assert "species" in io.read_text(io.join(schema.uri, "schema.pbtxt"))
    examples = next(a for a in live if "/CsvExampleGen/" in a.uri)
    assert io.glob(io.join(examples.uri, "Split-train", "*.gz")), io.listdir(examples.uri)

    assert second["state"].lower().endswith("success"), second
    assert _executions(uri, sanitize_run_id(second["run_id"])) == {
        "CsvExampleGen": "CACHED", "StatisticsGen": "CACHED", "SchemaGen": "CACHED"}
    # TF's autograph leaves its generated files in $TMPDIR with a local root too: not root data
    ours = [p for p in _left_locally(scratch, work)
            if not os.path.basename(p).startswith("__autograph_generated_file")]
    assert ours == []
