"""What a compiled task's process loads: a cached node imports neither TensorFlow nor Beam.

Every Airflow (and Kubeflow) task starts the ML environment's python on the entry point for
one node, so what that process imports before the cache answers is paid per task. These
tests run the very command line the compiled Airflow DAG runs (IR on stdin, the task's
environment) with ``PYTHONPROFILEIMPORTTIME=1``, which lists every module the process
imports, and check what a cache hit loaded.
"""
from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from beampipe.orchestration import ir as ir_mod
from beampipe.orchestration.compilers.airflow import SKIP_EXIT_CODE, compile_dag

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
HEAVY = ("tensorflow", "apache_beam", "tensorflow_data_validation", "tensorflow_transform",
         "tensorflow_model_analysis", "tfx_bsl", "pyarrow")


def run_task(ir: dict, node_id: str, run_id: str) -> tuple[dict, set[str]]:
    """The compiled DAG's task command for one node: its result line and the modules it imported."""
    env = {**os.environ, "TF_USE_LEGACY_KERAS": "1", "BEAMPIPE_EXIT_CODE_ON_SKIP": str(SKIP_EXIT_CODE),
           "PYTHONPATH": REPO, "PYTHONPROFILEIMPORTTIME": "1"}
    cmd = [sys.executable, "-m", "beampipe.orchestration.entrypoint", "--ir", "-", "--node", node_id,
           "--run-id", run_id, "--params-json", "{}"]
    proc = subprocess.run(cmd, input=json.dumps(ir), text=True, capture_output=True, env=env,
                          timeout=600, check=False)
    assert proc.returncode == 0, proc.stderr[-3000:]
    modules = {line.rsplit("|", 1)[1].strip() for line in proc.stderr.splitlines()
               if line.startswith("import time:") and "|" in line}
    return json.loads(proc.stdout.strip().splitlines()[-1]), modules


def heavy_in(modules: set[str]) -> list[str]:
    return sorted(m for m in modules if m.split(".")[0] in HEAVY)


def test_task_command_is_the_compiled_dags():
    """The command above is the one the DAG file runs (kept in step with the compiler)."""
    module = ir_mod.load_module_from_file(os.path.join(HERE, "backend_pipeline.py"), "backend_pipeline")
    text = compile_dag(ir_mod.compile_pipeline(module.make_pipeline("/tmp/unused-root")), python="PY")
    assert ('cmd = [PYTHON, "-m", "beampipe.orchestration.entrypoint", "--ir", "-", "--node", node_id,\n'
            '           "--run-id", run_id, "--params-json", json.dumps(params)]') in text
    assert '"TF_USE_LEGACY_KERAS": "1"' in text


def test_cached_toy_node_loads_no_ml_library_and_no_grpc(tmp_path):
    module = ir_mod.load_module_from_file(os.path.join(HERE, "backend_pipeline.py"), "backend_pipeline")
    ir = ir_mod.compile_pipeline(module.make_pipeline(str(tmp_path / "root")))
    first, _ = run_task(ir, "MakeRows", "run-1")
    assert first["status"] == "COMPLETE"
    again, modules = run_task(ir, "MakeRows", "run-2")
    assert again["status"] == "CACHED"
    assert any(m.startswith("ml_metadata.") for m in modules)  # the store was opened ...
    assert heavy_in(modules) == []
    assert not any(m.startswith("grpc.") for m in modules)  # ... without MLMD's gRPC client


@pytest.mark.e2e
def test_cached_beam_nodes_import_neither_tensorflow_nor_beam(tmp_path):
    """CsvExampleGen and StatisticsGen run on Beam (and TFDV); their cache hits must not load it."""
    from beampipe.components import CsvExampleGen, StatisticsGen
    from beampipe.orchestration.local_runner import LocalDagRunner
    from beampipe.orchestration.pipeline import Pipeline

    data = tmp_path / "data"
    data.mkdir()
    (data / "rows.csv").write_text("x,y\n" + "".join(f"{i},{i % 3}\n" for i in range(40)))

    def pipeline() -> Pipeline:
        gen = CsvExampleGen(input_base=str(data))
        stats = StatisticsGen(examples=gen.outputs["examples"])
        return Pipeline("task-startup", str(tmp_path / "root"), [gen, stats])

    seeded = LocalDagRunner().run(pipeline(), run_id="seed")
    assert seeded.status == "COMPLETE", {k: v.error for k, v in seeded.nodes.items()}
    ir = ir_mod.compile_pipeline(pipeline())
    for node in ("CsvExampleGen", "StatisticsGen"):
        result, modules = run_task(ir, node, "airflow-run")
        assert result["status"] == "CACHED", result
        assert heavy_in(modules) == [], (node, heavy_in(modules)[:10])


def test_library_versions_read_from_dist_info_match_importlib_metadata():
    """The cache key's library versions come from dist-info folder names (no METADATA parse per
    task); they must be exactly importlib.metadata's, or every cache key would change."""
    import importlib.metadata

    from beampipe.orchestration import cache

    want = {}
    for name in cache.DATA_LIBRARIES:
        try:
            want[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            want[name] = "absent"
    assert cache.library_versions() == want
