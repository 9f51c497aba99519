"""TFX's orchestration names through ``import beampipe as tfx``: metadata connection configs,
KubeflowV2DagRunner, and container components in compiled files."""
from __future__ import annotations

import os
import subprocess
import sys

import pytest
import yaml

import beampipe as tfx
from beampipe.components.base import WiringError
from beampipe.components.container import IN_IMAGE_ENV
from beampipe.orchestration import ir as ir_mod
from beampipe.orchestration.local_runner import LocalDagRunner
from tests.components.test_container import _pipeline as container_pipeline
from tests.support.kfp_local import isolated_kfp_local  # noqa: F401
from tests.support.toy import chain

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def test_sqlite_config_is_mlmd_s_proto_and_a_pipeline_runs_on_it(tmp_path):
    from ml_metadata import metadata_store
    from ml_metadata.proto import metadata_store_pb2

    db = str(tmp_path / "tfx_root" / "metadata" / "metadata.db")
    config = tfx.orchestration.metadata.sqlite_metadata_connection_config(db)
    assert isinstance(config, metadata_store_pb2.ConnectionConfig) and os.path.isdir(os.path.dirname(db))
    pipeline = chain(str(tmp_path / "root"), n=2)
    pipeline = tfx.dsl.Pipeline(pipeline_name="toy", pipeline_root=str(tmp_path / "root"),
                                components=pipeline.components, metadata_connection_config=config)
    assert pipeline.metadata_uri == db
    assert tfx.orchestration.LocalDagRunner().run(pipeline).status == "COMPLETE"
    store = metadata_store.MetadataStore(config)  # as TFX's examples read it back
    assert len(store.get_executions()) == 3


def test_server_configs_become_uris_whose_password_is_never_compiled(tmp_path):
    meta = tfx.orchestration.metadata
    mysql = meta.mysql_metadata_connection_config("db.example", 3306, "mlmd", "ml", "s3cr@t/")
    pg = meta.postgresql_metadata_connection_config("pg.example", 5433, "mlmd", "ml", "pw")
    nodes = chain(str(tmp_path), n=1).components
    for config, uri in ((mysql, "mysql://ml:s3cr%40t%2F@db.example:3306/mlmd"),
                        (pg, "postgresql://ml:pw@pg.example:5433/mlmd")):
        pipeline = tfx.dsl.Pipeline("p", str(tmp_path), nodes, metadata_connection_config=config)
        assert pipeline.metadata_uri == uri
        compiled = ir_mod.dumps(ir_mod.compile_pipeline(pipeline))
        assert "s3cr" not in compiled and ":pw@" not in compiled
    assert meta.ConnectionConfigType.__args__[0] is type(mysql)


def test_unsupported_configs_are_refused_without_their_password(tmp_path):
    from ml_metadata.proto import metadata_store_pb2 as pb

    nodes = chain(str(tmp_path), n=1).components
    client = pb.MetadataStoreClientConfig(host="mlmd", port=8080)
    with pytest.raises(WiringError, match="gRPC server"):
        tfx.dsl.Pipeline("p", str(tmp_path), nodes, metadata_connection_config=client)
    ssl = tfx.orchestration.metadata.mysql_metadata_connection_config("h", 1, "mlmd", "u", "hunter2")
    ssl.mysql.ssl_options.cert = "/c.pem"
    with pytest.raises(WiringError, match="ssl_options") as err:
        tfx.dsl.Pipeline("p", str(tmp_path), nodes, metadata_connection_config=ssl)
    assert "hunter2" not in str(err.value)
    bad_db = tfx.orchestration.metadata.mysql_metadata_connection_config("h", 1, "ml-md", "u", "hunter2")
    with pytest.raises(WiringError, match="database name") as err:
        tfx.dsl.Pipeline("p", str(tmp_path), nodes, metadata_connection_config=bad_db)
    assert "hunter2" not in str(err.value)


def test_kubeflow_v2_dag_runner_writes_beampipe_s_yaml_with_the_exit_handler(tmp_path):
    from tests.orchestration.test_exit_handler import _module

    module = _module()
    pipeline = module.make_pipeline(str(tmp_path / "root"), str(tmp_path / "status"))
    handler, pipeline.exit_handler = pipeline.exit_handler, None
    runner = tfx.orchestration.experimental.KubeflowV2DagRunner(
        config=tfx.orchestration.experimental.KubeflowV2DagRunnerConfig(
            default_image="registry.example/beampipe:1", mounted=[str(tmp_path)]),
        output_dir=str(tmp_path / "out"), output_filename="p.yaml")
    runner.set_exit_handler([handler])
    spec = runner.run(pipeline, parameter_values={"rows": 7})
    written = next(yaml.safe_load_all(open(tmp_path / "out" / "p.yaml")))
    assert written == spec
    assert set(spec["root"]["dag"]["tasks"]) == {"make", "count", "beampipe-finish-run", "writestatus"}
    assert spec["root"]["inputDefinitions"]["parameters"]["rows"]["defaultValue"] == 7
    assert {e["image"] for e in (x["container"] for x in spec["deploymentSpec"]["executors"].values())} == \
        {"registry.example/beampipe:1"}
    with pytest.raises(TypeError, match="KubeflowV2DagRunnerConfig"):
        tfx.orchestration.experimental.KubeflowV2DagRunner(config=None)


def test_container_nodes_compile_to_tasks_in_their_own_image(tmp_path):
    from beampipe.orchestration.compilers.airflow import compile_dag
    from beampipe.orchestration.compilers.kubeflow import compile_yaml

    ir = ir_mod.compile_pipeline(container_pipeline(str(tmp_path / "root")))
    spec = next(yaml.safe_load_all(compile_yaml(ir, image="registry.example/beampipe:1", mounted=[str(tmp_path)])))
    executors = spec["deploymentSpec"]["executors"]
    assert executors["exec-writegreeting"]["container"]["image"] == "busybox:1.36"
    assert {"name": IN_IMAGE_ENV, "value": "busybox:1.36"} in executors["exec-writegreeting"]["container"]["env"]
    assert executors["exec-shout"]["container"]["image"] == "python:3.11-slim"
    assert executors["exec-beampipe-finish-run"]["container"]["image"] == "registry.example/beampipe:1"
    dag = compile_dag(ir, image="registry.example/beampipe:1", mounted=[str(tmp_path)])
    assert "image='busybox:1.36'" in dag and f"'{IN_IMAGE_ENV}': 'busybox:1.36'" in dag
    assert "image=IMAGE" in dag  # the finish task
    compile(dag, "dag.py", "exec")


def test_container_pipeline_runs_under_kfp_local_in_host_mode(tmp_path, isolated_kfp_local, monkeypatch):
    """kfp.local ignores images and env: with the host flag in the caller's environment the
    container nodes run their commands here, through the same launcher."""
    from beampipe.orchestration.compilers.kubeflow import compile_yaml

    monkeypatch.setenv("BEAMPIPE_CONTAINER_ON_HOST", "1")
    ir = ir_mod.compile_pipeline(container_pipeline(str(tmp_path / "root")))
    path = tmp_path / "p.yaml"
    path.write_text(compile_yaml(ir, image="registry.example/beampipe:1", mounted=[str(tmp_path)]))
    ok, _, tasks = isolated_kfp_local.run(str(path))
    assert ok and [t["status"] for t in tasks] == ["COMPLETE", "COMPLETE", "COMPLETE"]
    ok, _, again = isolated_kfp_local.run(str(path))
    assert ok and [t["status"] for t in again] == ["CACHED", "CACHED", "COMPLETE"]


def test_the_new_names_resolve_lazily():
    code = ("import sys, beampipe as tfx\n"
            "names = [tfx.dsl.placeholders.input, tfx.dsl.placeholders.output, tfx.dsl.placeholders.exec_property,\n"
            "         tfx.dsl.placeholders.execution_invocation, tfx.dsl.experimental.create_container_component,\n"
            "         tfx.orchestration.experimental.exit_handler, tfx.orchestration.experimental.FinalStatusStr,\n"
            "         tfx.orchestration.experimental.KubeflowV2DagRunner,\n"
            "         tfx.orchestration.experimental.KubeflowV2DagRunnerConfig,\n"
            "         tfx.orchestration.metadata.sqlite_metadata_connection_config,\n"
            "         tfx.orchestration.metadata.mysql_metadata_connection_config, tfx.orchestration.LocalDagRunner]\n"
            "heavy = [m for m in ('tensorflow', 'apache_beam', 'kfp', 'ml_metadata', 'tfx_bsl') if m in sys.modules]\n"
            "print(heavy)\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                         env={**os.environ, "PYTHONPATH": REPO}).stdout
    assert out.strip() == "[]"


def test_tfx_run_signature_and_run_options(tmp_path):
    class RunOptions:  # TFX's tfx.orchestration.pipeline.RunOptions, by duck typing
        from_nodes = ["Consume1"]
        to_nodes: list[str] = []

    root = str(tmp_path / "root")
    assert LocalDagRunner().run(chain(root, n=2)).status == "COMPLETE"
    partial = LocalDagRunner().run(chain(root, n=2), run_options=RunOptions())
    assert list(partial.nodes) == ["Consume1"]
