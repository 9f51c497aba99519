"""The run-node entrypoint: one node through the launcher, one JSON line, clear exit codes."""
from __future__ import annotations

import io
import json
import os
import subprocess
import sys
import textwrap

import pytest

from beampipe.metadata.store import RUN_CONTEXT, MetadataStore
from beampipe.orchestration import entrypoint, ir as ir_mod

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
PIPELINE_FILE = os.path.join(HERE, "backend_pipeline.py")
ORDER = ["MakeRows", "CountRows", "Judge", "Push", "Announce"]


@pytest.fixture
def ir_file(tmp_path) -> tuple[dict, str]:
    module = ir_mod.load_module_from_file(PIPELINE_FILE, "backend_pipeline")
    ir = ir_mod.compile_pipeline(module.make_pipeline(str(tmp_path / "root")))
    path = tmp_path / "ir.json"
    path.write_text(ir_mod.dumps(ir))
    return ir, str(path)


def _main(capsys, *argv: str) -> tuple[int, dict]:
    code = entrypoint.main(list(argv))
    out = capsys.readouterr().out.strip().splitlines()
    return code, json.loads(out[-1])


def test_runs_nodes_caches_skips_and_records_parameters(ir_file, capsys):
    ir, path = ir_file
    statuses = {}
    for node in ORDER:
        code, result = _main(capsys, "--ir", path, "--node", node, "--run-id", "r1",
                             "--param", "threshold=3")
        assert code == 0
        statuses[node] = result["status"]
        assert result["run_id"] == "r1" and result["parameters"] == {"rows": 5, "threshold": 3}
    assert statuses == dict.fromkeys(ORDER, "COMPLETE")
    code, result = _main(capsys, "--ir", path, "--node", entrypoint.FINISH_RUN, "--run-id", "r1")
    assert (code, result["status"], result["failed"]) == (0, "COMPLETE", [])

    # Same node again, other run, IR given inline: a cache hit.
    code, result = _main(capsys, "--ir", json.dumps(ir), "--node", "MakeRows", "--run-id", "r2")
    assert (code, result["status"]) == (0, "CACHED")
    # Default threshold (10): Judge does not bless; Push is skipped, and that is not a failure.
    encoded = entrypoint.encode_ir(ir)
    for node in ORDER[1:]:
        code, result = _main(capsys, "--ir", encoded, "--node", node, "--run-id", "r2")
        assert code == 0
        statuses[node] = result["status"]
    assert statuses["Push"] == statuses["Announce"] == "SKIPPED"
    assert "condition is false" in _skip_reason(ir, "r2", "Push")

    store = MetadataStore(ir["pipeline"]["metadata_uri"])
    try:
        by_node = {e["node_id"]: e for e in store.executions_in_context(RUN_CONTEXT, "r1")}
        assert json.loads(by_node["Judge"]["exec_properties"]) == {"threshold": 3}
        assert json.loads(by_node["MakeRows"]["exec_properties"]) == {"rows": 5}
    finally:
        store.close()


def _skip_reason(ir: dict, run_id: str, node: str) -> str:
    store = MetadataStore(ir["pipeline"]["metadata_uri"])
    try:
        [ex] = [e for e in store.executions_in_context(RUN_CONTEXT, run_id) if e["node_id"] == node]
        return ex["skipped"]
    finally:
        store.close()


def test_stdin_ir_params_json_and_sanitized_run_id(ir_file, capsys, monkeypatch, tmp_path):
    ir, _ = ir_file
    monkeypatch.setattr(sys, "stdin", io.StringIO(json.dumps(ir)))
    status_file = tmp_path / "out" / "status"
    code, result = _main(capsys, "--ir", "-", "--node", "MakeRows",
                         "--run-id", "manual__2025-01-01T00:00:00+00:00", "--sanitize-run-id",
                         "--params-json", '{"rows": "7.0", "other": 1}', "--ignore-unknown-params",
                         "--status-file", str(status_file))
    assert code == 0, result
    assert result["run_id"] == "manual__2025-01-01T00_00_00_00_00"
    assert result["parameters"]["rows"] == 7
    assert status_file.read_text() == "COMPLETE"


def test_user_errors_exit_nonzero_with_a_clear_message(ir_file, capsys):
    _, path = ir_file
    code, result = _main(capsys, "--ir", path, "--node", "MakeRows", "--run-id", "r",
                         "--param", "rows=many")
    assert code == entrypoint.EXIT_USAGE and "'rows' must be int" in result["error"]
    code, result = _main(capsys, "--ir", path, "--node", "MakeRows", "--run-id", "r", "--param", "nope=1")
    assert code == entrypoint.EXIT_USAGE and "unknown runtime parameter" in result["error"]
    code, result = _main(capsys, "--ir", path, "--node", "Nope", "--run-id", "r")
    assert code == entrypoint.EXIT_USAGE and "has no such node" in result["error"]
    code, result = _main(capsys, "--ir", "/no/such/ir.json", "--node", "MakeRows", "--run-id", "r")
    assert code == entrypoint.EXIT_USAGE and "/no/such/ir.json" in result["error"]
    # An upstream node that never ran: the message says what to do.
    code, result = _main(capsys, "--ir", path, "--node", "CountRows", "--run-id", "r")
    assert code == entrypoint.EXIT_FAILED and "run the pipeline from the start" in result["error"]


def test_failed_node_via_cli_exits_1_and_names_the_problem(tmp_path):
    pipeline_file = tmp_path / "broken_pipeline.py"
    pipeline_file.write_text(textwrap.dedent(f"""
        from beampipe.components.decorator import OutputArtifact, component
        from beampipe.metadata.artifacts import Examples
        from beampipe.orchestration.pipeline import Pipeline

        @component
        def Broken(examples: OutputArtifact[Examples]) -> None:
            raise ValueError("data.csv: line 3 has 2 columns, expected 4")

        pipeline = Pipeline("broken", {str(tmp_path / 'root')!r}, [Broken()])
    """))
    env = {**os.environ, "PYTHONPATH": REPO}
    out = tmp_path / "dag.py"
    proc = subprocess.run([sys.executable, "-m", "beampipe", "compile", str(pipeline_file),
                           "--target", "airflow", "--output", str(out)],
                          env=env, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert "imports only Airflow" in out.read_text()
    ir = ir_mod.compile_pipeline(ir_mod.load_module_from_file(str(pipeline_file)).pipeline)
    ir_path = tmp_path / "ir.json"
    ir_path.write_text(json.dumps(ir))
    proc = subprocess.run([sys.executable, "-m", "beampipe", "run-node", "--ir", str(ir_path),
                           "--node", "Broken", "--run-id", "r1"],
                          env=env, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 1
    result = json.loads(proc.stdout.strip().splitlines()[-1])
    assert result["status"] == "FAILED"
    assert "data.csv: line 3 has 2 columns" in result["error"]
    assert "node 'Broken' FAILED: data.csv: line 3" in proc.stderr
    proc = subprocess.run([sys.executable, "-m", "beampipe", "run-node", "--ir", str(ir_path),
                           "--node", entrypoint.FINISH_RUN, "--run-id", "r1"],
                          env=env, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 1 and json.loads(proc.stdout.strip().splitlines()[-1])["failed"] == ["Broken"]
    store = MetadataStore(ir["pipeline"]["metadata_uri"])
    try:
        [ex] = store.executions_in_context(RUN_CONTEXT, "r1")
        assert ex["state"] == "FAILED" and not store.artifacts_of(ex["id"])
        assert {r["run_id"]: r["state"] for r in store.runs("broken")} == {"r1": "FAILED"}
    finally:
        store.close()


def test_compile_cli_writes_both_targets(tmp_path):
    env = {**os.environ, "PYTHONPATH": REPO, "BEAMPIPE_TEST_ROOT": str(tmp_path / "root")}
    for target, name in (("kubeflow", "p.yaml"), ("airflow", "dag.py")):
        proc = subprocess.run([sys.executable, "-m", "beampipe", "compile", PIPELINE_FILE,
                               "--target", target, "--output", str(tmp_path / name),
                               "--image", "registry.example/beampipe:1", "--mounted", str(tmp_path)],
                              env=env, capture_output=True, text=True, timeout=120)
        assert proc.returncode == 0, proc.stderr
        assert "5 nodes" in proc.stdout
    assert "registry.example/beampipe:1" in (tmp_path / "p.yaml").read_text()
    assert "KubernetesPodOperator(" in (tmp_path / "dag.py").read_text()
    proc = subprocess.run([sys.executable, "-m", "beampipe", "compile", PIPELINE_FILE, "--target", "nomad",
                           "--output", str(tmp_path / "x")], env=env, capture_output=True, text=True)
    assert proc.returncode == 2 and "invalid choice" in proc.stderr


def test_submit_types_parameters_from_the_pipeline_yaml(tmp_path):
    from beampipe.cli.submit import typed_arguments
    from beampipe.orchestration.compilers.kubeflow import compile_yaml

    module = ir_mod.load_module_from_file(PIPELINE_FILE, "backend_pipeline")
    path = tmp_path / "p.yaml"
    path.write_text(compile_yaml(ir_mod.compile_pipeline(module.make_pipeline(str(tmp_path))),
                                 mounted=[str(tmp_path)]))
    assert typed_arguments(str(path), {"threshold": "3"}) == {"threshold": 3}
    with pytest.raises(ValueError, match="no pipeline parameter 'nope'"):
        typed_arguments(str(path), {"nope": "1"})
    with pytest.raises(ValueError, match="threshold is NUMBER_INTEGER"):
        typed_arguments(str(path), {"threshold": "high"})
