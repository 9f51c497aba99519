"""Compiled pipelines ship their code through the pipeline root and name no path of this machine."""
from __future__ import annotations

import base64
import gzip
import json
import os
import re
import subprocess
import sys
import uuid

import pytest
import yaml

from beampipe import io
from beampipe.components.base import WiringError
from beampipe.metadata.ids import InvalidIdError, check_node_id
from beampipe.orchestration import ir as ir_mod, shipping
from beampipe.orchestration.compilers.airflow import compile_dag
from beampipe.orchestration.compilers.kubeflow import compile_yaml

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
PENGUIN = os.path.join(REPO, "examples", "penguin")
BACKEND_PIPELINE = os.path.join(HERE, "backend_pipeline.py")


@pytest.fixture
def s3_root(s3_server, monkeypatch) -> str:
    from beampipe.io import backends

    for name, value in s3_server.env.items():
        monkeypatch.setenv(name, value)
    backends.clear_cache()
    yield f"s3://{s3_server.bucket}/ship-{uuid.uuid4().hex[:10]}"
    backends.clear_cache()


def _penguin(root: str, data: str, serving: str):
    module = ir_mod.load_module_from_file(os.path.join(PENGUIN, "penguin_pipeline.py"), "penguin_for_shipping")
    return module.create_pipeline(pipeline_name="penguin", pipeline_root=root, data_root=data,
                                  module_file=module.MODULE_FILE, serving_model_dir=serving,
                                  metadata_uri="postgresql://mlmd@db.example:5432/mlmd")


def _ir_in_yaml(text: str) -> dict:
    [blob] = set(re.findall(r"b64gz:([A-Za-z0-9+/=]+)", text))
    return json.loads(gzip.decompress(base64.b64decode(blob)))


def test_kubeflow_yaml_names_shipped_code_and_no_local_path(tmp_path, s3_root):
    pipeline = _penguin(s3_root, f"{s3_root}/data", f"{s3_root}/serving")
    text = compile_yaml(ir_mod.compile_pipeline(pipeline), image="registry.example/beampipe:1")
    ir = _ir_in_yaml(text)
    module_files = {n["id"]: n["exec_properties"]["module_file"] for n in ir["nodes"]
                    if "module_file" in n["exec_properties"]}
    assert set(module_files) == {"Transform", "Trainer"}
    [shipped] = set(module_files.values())
    digest = io.code.bundle_of(os.path.join(PENGUIN, "penguin_utils.py")).digest
    assert shipped == f"{s3_root}/_code/{digest}/penguin_utils.py"
    assert {"penguin_utils.py", "penguin_pipeline.py", "MANIFEST.json"} <= set(io.listdir(io.dirname(shipped)))
    assert ir["pipeline"]["source_file"] is None  # set by the CLI only
    decoded = text + json.dumps(ir)
    for local in (REPO, str(tmp_path), os.getcwd(), os.path.expanduser("~")):
        assert local not in decoded, local
    assert not re.search(r"(?<![\w:/.-])/(?:work|tmp|home|root)/", decoded)


def test_local_data_paths_are_a_compile_error_naming_each(tmp_path):
    pipeline = _penguin(str(tmp_path / "root"), str(tmp_path / "data"), str(tmp_path / "serving"))
    ir = ir_mod.compile_pipeline(pipeline)
    with pytest.raises(shipping.ClusterPathError) as err:
        compile_yaml(ir)
    message = str(err.value)
    assert f"pipeline root {tmp_path / 'root'}" in message
    assert f"node 'CsvExampleGen' input_base {tmp_path / 'data'}" in message
    assert f"node 'Pusher' push_destination {tmp_path / 'serving'}" in message
    assert "--mounted PATH" in message and "\n" not in message
    assert not (tmp_path / "root").exists()  # nothing shipped before the check
    with pytest.raises(shipping.ClusterPathError, match="input_base"):
        compile_dag(ir, image="registry.example/beampipe:1")
    # Declared mounted: fine, and the code is shipped under the (mounted) root.
    text = compile_yaml(ir, mounted=[str(tmp_path)])
    assert "/_code/" in json.dumps(_ir_in_yaml(text))
    # A path mounted in one node's pod only covers that node's data.
    pipeline = _penguin("s3://bucket-x/root", str(tmp_path / "data"), "s3://bucket-x/serving")
    next(c for c in pipeline.components if c.id == "CsvExampleGen").with_volume("data", str(tmp_path))
    problems = shipping.cluster_path_problems(ir_mod.compile_pipeline(pipeline))
    assert problems == []
    # The local Airflow flavour runs on this machine: local paths are fine there, code still ships.
    dag = compile_dag(ir, python=sys.executable)
    assert os.path.join(PENGUIN, "penguin_utils.py") not in dag and "/_code/" in dag


def test_cli_compile_refuses_local_data_for_kubeflow_in_one_line(tmp_path):
    env = {**os.environ, "PYTHONPATH": REPO, "PENGUIN_ROOT": "s3://bucket-x/penguin"}
    proc = subprocess.run([sys.executable, "-m", "beampipe", "compile", os.path.join(PENGUIN, "penguin_pipeline.py"),
                           "--target", "kubeflow", "-o", str(tmp_path / "p.yaml"),
                           "--metadata-uri", "postgresql://u:hunter2@db:5432/m"],
                          env=env, capture_output=True, text=True, timeout=120, cwd=tmp_path)
    assert proc.returncode == 2, proc.stderr
    [line] = proc.stderr.strip().splitlines()
    assert "input_base" in line and os.path.join(PENGUIN, "data") in line and "Traceback" not in line
    assert "hunter2" not in proc.stderr + proc.stdout
    assert not (tmp_path / "p.yaml").exists()


def test_run_on_an_s3_root_records_shipped_component_code(tmp_path, s3_root):
    from beampipe.orchestration.local_runner import LocalDagRunner

    module = ir_mod.load_module_from_file(BACKEND_PIPELINE, "backend_pipeline")
    pipeline = module.make_pipeline(s3_root)
    pipeline.metadata_uri = str(tmp_path / "md.sqlite")
    result = LocalDagRunner().run(pipeline, params={"threshold": 3})
    assert result.status == "COMPLETE", result.nodes
    [digest] = io.listdir(io.join(s3_root, "_code"))
    assert "backend_pipeline.py" in io.listdir(io.join(s3_root, "_code", digest))


def test_shipped_code_missing_fails_the_node_with_advice(tmp_path):
    """Someone deleted <root>/_code: the task says what is missing and how to fix it."""
    from beampipe.metadata.store import MetadataStore
    from beampipe.orchestration import launcher

    module = ir_mod.load_module_from_file(BACKEND_PIPELINE, "backend_pipeline")
    root = str(tmp_path / "root")
    ir = shipping.ship_code(ir_mod.compile_pipeline(module.make_pipeline(root)))
    ir["nodes"][0]["component"]["module"] = "not_importable_" + uuid.uuid4().hex  # force the file path
    io.rmtree(io.join(root, "_code"), root=root)
    store = launcher.open_store(ir)
    try:
        with pytest.raises(io.code.CodeError, match="missing or incomplete.*recompile"):
            launcher.run_node(ir, ir["nodes"][0]["id"], "r1", {"rows": 5, "threshold": 3}, store)
    finally:
        store.close()


def test_code_is_a_reserved_node_id():
    module = ir_mod.load_module_from_file(BACKEND_PIPELINE, "backend_pipeline")
    with pytest.raises(WiringError, match="_code"):
        module.MakeRows().with_id("_code")
    with pytest.raises(InvalidIdError, match="reserved"):
        check_node_id("_code")
    assert check_node_id("code_") == "code_"


def test_yaml_documents_parse(tmp_path, s3_root):
    pipeline = _penguin(s3_root, f"{s3_root}/data", f"{s3_root}/serving")
    docs = list(yaml.safe_load_all(compile_yaml(ir_mod.compile_pipeline(pipeline))))
    assert docs[0]["defaultPipelineRoot"] == s3_root


def test_storage_credentials_come_from_a_secret_and_settings_from_env(s3_root):
    from kfp.pipeline_spec import pipeline_spec_pb2 as pb
    from google.protobuf import json_format

    ir = ir_mod.compile_pipeline(_penguin(s3_root, f"{s3_root}/data", f"{s3_root}/serving"))
    text = compile_yaml(ir, storage_secret="s3-creds", env={"AWS_ENDPOINT_URL": "http://seaweed:8333"})
    spec_doc, platform_doc = list(yaml.safe_load_all(text))
    json_format.ParseDict(platform_doc, pb.PlatformSpec())
    executors = platform_doc["platforms"]["kubernetes"]["deploymentSpec"]["executors"]
    assert len(executors) == len(ir["nodes"]) + 1  # and the task that closes the run
    for config in executors.values():
        assert config["secretAsEnv"] == [{"secretName": "s3-creds", "keyToEnv": [
            {"secretKey": "AWS_ACCESS_KEY_ID", "envVar": "AWS_ACCESS_KEY_ID"},
            {"secretKey": "AWS_SECRET_ACCESS_KEY", "envVar": "AWS_SECRET_ACCESS_KEY"}]}]
    for executor in spec_doc["deploymentSpec"]["executors"].values():
        assert {"name": "AWS_ENDPOINT_URL", "value": "http://seaweed:8333"} in executor["container"]["env"]
    assert os.environ["AWS_SECRET_ACCESS_KEY"] not in text and os.environ["AWS_ACCESS_KEY_ID"] not in text

    dag = compile_dag(ir, image="registry.example/beampipe:1", storage_secret="s3-creds",
                      env={"AWS_REGION": "us-east-1"})
    assert "Secret(\"env\", 'AWS_SECRET_ACCESS_KEY', 's3-creds', 'AWS_SECRET_ACCESS_KEY')" in dag
    assert "ENV = {'AWS_REGION': 'us-east-1'}" in dag
    for bad in ({"AWS_SECRET_ACCESS_KEY": "x"}, {"MY_DB_PASSWORD": "x"}, {"1BAD": "x"}):
        with pytest.raises(ValueError, match="--env"):
            compile_yaml(ir, env=bad)
    with pytest.raises(ValueError, match="need --image"):
        compile_dag(ir, storage_secret="s3-creds")
