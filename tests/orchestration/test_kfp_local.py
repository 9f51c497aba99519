"""The compiled KFP YAML under KFP's own local runner (kfp.local, SubprocessRunner without a
venv): every task a Lightweight Python Component that hands its node to beampipe's launcher.
Each task runs in an empty working directory and TMPDIR of its own (``tests.support.kfp_local``).
The real pipeline on an object store: ``test_kfp_penguin_s3``.
"""
from __future__ import annotations

import base64
import gzip
import json
import os
import re

import pytest
import yaml

from beampipe.metadata.ids import is_path_id
from beampipe.metadata.store import RUN_CONTEXT, MetadataStore
from beampipe.orchestration import ir as ir_mod
from beampipe.orchestration.compilers.kubeflow import compile_yaml
from beampipe.orchestration.entrypoint import FINISH_RUN
from beampipe.orchestration.kfp_task import kfp_run_id
from tests.support.kfp_local import assert_isolated as _assert_isolated, isolated_kfp_local  # noqa: F401

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
PIPELINE_FILE = os.path.join(HERE, "backend_pipeline.py")
NODES = ["MakeRows", "CountRows", "Judge", "Push", "Announce"]


def _compile_backend(tmp_path) -> tuple[dict, str, object]:
    module = ir_mod.load_module_from_file(PIPELINE_FILE, "backend_pipeline")
    pipeline = module.make_pipeline(str(tmp_path / "root"))
    pipeline.source_file = PIPELINE_FILE  # as `beampipe compile` sets it; it ships under <root>/_code/
    # The cluster options stay in the file kfp.local runs (it ignores them; a cluster does not).
    (next(c for c in pipeline.components if c.id == "CountRows").with_resources(cpu="500m", memory="1Gi")
     .with_node_selector({"pool": "cpu"}).with_volume("shared-data", "/mnt/data"))
    ir = ir_mod.compile_pipeline(pipeline)
    path = tmp_path / "compiled" / "pipeline.yaml"
    path.parent.mkdir()
    path.write_text(compile_yaml(ir, mounted=[str(tmp_path)], image="registry.example/beampipe:1",
                                 metadata_secret=("mlmd-db", "pw"), image_pull_secret="regcred"))
    return ir, str(path), module


def _statuses(store: MetadataStore, run_id: str) -> dict[str, str]:
    """Node -> state of its last execution in the run (SKIPPED nodes are CANCELED in MLMD)."""
    latest = {}
    for ex in sorted(store.executions_in_context(RUN_CONTEXT, run_id), key=lambda e: e["id"]):
        latest[ex["node_id"]] = ex["state"]
    return latest


def _run_state(store: MetadataStore, run_id: str) -> dict:
    return next(r for r in store.runs("backend-test", limit=1000) if r["run_id"] == run_id)


def test_kfp_local_runs_the_compiled_yaml(tmp_path, isolated_kfp_local):
    """Parameters reach the nodes, lineage is a local run's, the finish task closes the run,
    a second run is all CACHED, a false condition skips Push and Announce."""
    from beampipe.orchestration.local_runner import LocalDagRunner

    ir, path, module = _compile_backend(tmp_path)
    reference_root = str(tmp_path / "reference")
    assert LocalDagRunner().run(module.make_pipeline(reference_root), params={"threshold": 3},
                                run_id="local-threshold-3").status == "COMPLETE"

    ok, first, tasks = isolated_kfp_local.run(path, threshold=3)
    assert ok
    assert re.fullmatch(r"backend-test-\d{4}(-\d\d){5}-\d{6}-\d+", first) and is_path_id(first), first
    assert [t["node"] for t in tasks] == NODES + [FINISH_RUN]
    _assert_isolated(tasks)
    ok, second, again = isolated_kfp_local.run(path, threshold=3)
    assert ok and second != first
    ok, third, defaults = isolated_kfp_local.run(path)
    assert ok and third not in (first, second)
    _assert_isolated(isolated_kfp_local.tasks)
    assert os.listdir(tmp_path / "elsewhere") == []  # kfp.local's own working directory

    store = MetadataStore(ir["pipeline"]["metadata_uri"])
    ref = MetadataStore(os.path.join(reference_root, "metadata.sqlite"))
    try:
        assert _statuses(store, first) == dict.fromkeys(NODES, "COMPLETE")
        got, want = module.lineage_summary(store, first), module.lineage_summary(ref, "local-threshold-3")
        for node in NODES:
            for field in ("inputs", "outputs", "exec_properties"):
                assert got[node][field] == want[node][field], (node, field)
        assert json.loads(got["Judge"]["exec_properties"])["threshold"] == 3  # the kfp.local argument
        assert _statuses(store, second) == dict.fromkeys(NODES, "CACHED")
        assert _statuses(store, third) == {"MakeRows": "CACHED", "CountRows": "CACHED", "Judge": "COMPLETE",
                                           "Push": "CANCELED", "Announce": "CANCELED"}
        skipped = module.lineage_summary(store, third)
        assert json.loads(skipped["Judge"]["exec_properties"])["threshold"] == 10  # the default
        for number, run_id in enumerate((first, second, third)):
            run = _run_state(store, run_id)
            assert run["state"] == "COMPLETE" and "finished_at" in run, run
            assert json.loads(run["params"]) == {"rows": 5, "threshold": 10 if number == 2 else 3}
    finally:
        store.close()
        ref.close()
    assert [t["status"] for t in tasks] == ["COMPLETE"] * 6
    assert [t["status"] for t in again] == ["CACHED"] * 5 + ["COMPLETE"]
    assert [t["status"] for t in defaults] == ["CACHED", "CACHED", "COMPLETE", "SKIPPED", "SKIPPED", "COMPLETE"]


def test_a_failing_node_fails_the_kfp_local_run_and_the_mlmd_run(tmp_path, isolated_kfp_local):
    """rows=0: CountRows raises. kfp.local stops at the failed task (it never runs the finish
    task); the task itself has marked the run FAILED, and nothing of CountRows is LIVE."""
    ir, path, _ = _compile_backend(tmp_path)
    ok, run_id, tasks = isolated_kfp_local.run(path, rows=0)
    assert not ok
    assert [(t["node"], t["returncode"], t["status"]) for t in tasks] == [("MakeRows", 0, "COMPLETE"),
                                                                          ("CountRows", 1, None)]
    assert "CountRows" in tasks[-1]["output"] and "no rows" in tasks[-1]["output"]
    assert "Traceback" not in tasks[-1]["output"].split("beampipe: node 'CountRows' FAILED")[-1]
    store = MetadataStore(ir["pipeline"]["metadata_uri"])
    try:
        assert _statuses(store, run_id) == {"MakeRows": "COMPLETE", "CountRows": "FAILED"}
        [failed] = [e for e in store.executions_in_context(RUN_CONTEXT, run_id) if e["node_id"] == "CountRows"]
        assert not store.artifacts_of(failed["id"])
        assert _run_state(store, run_id)["state"] == "FAILED"
    finally:
        store.close()


def test_compiled_form_is_what_kfp_local_accepts_and_installs_nothing(tmp_path):
    """Lightweight Python Components as kfp.local's SubprocessRunner checks them, no pip at run
    time, and no path of the compiling machine but the pipeline root, the metadata store and the
    user's own component file (until code ships through the pipeline root)."""
    from kfp.local.subprocess_task_handler import SubprocessTaskHandler

    ir, path, _ = _compile_backend(tmp_path)
    with open(path) as f:
        text = f.read()
    doc, platform = list(yaml.safe_load_all(text))
    k8s = platform["platforms"]["kubernetes"]["deploymentSpec"]["executors"]
    assert set(k8s) == set(doc["deploymentSpec"]["executors"])
    assert k8s["exec-countrows"]["pvcMount"] == [{"constant": "shared-data", "mountPath": "/mnt/data"}]
    assert doc["deploymentSpec"]["executors"]["exec-countrows"]["container"]["resources"]["resourceCpuLimit"] == "500m"
    for label, executor in doc["deploymentSpec"]["executors"].items():
        container = executor["container"]
        full = container["command"] + container["args"]
        handler = SubprocessTaskHandler.__new__(SubprocessTaskHandler)
        handler.validate_not_container_component(full)
        handler.validate_not_containerized_python_component(full)
        assert container["command"][:2] == ["sh", "-ec"] and container["image"] == "registry.example/beampipe:1"
        assert not re.search(r"\bpip3?\b|ensurepip", " ".join(container["command"])), label
        assert "python3 -m kfp.dsl.executor_main" in container["command"][2]
    decoded = re.sub(r"b64gz:[A-Za-z0-9+/=]+", "", text)
    for blob in re.findall(r"b64gz:([A-Za-z0-9+/=]+)", text):
        decoded += gzip.decompress(base64.b64decode(blob)).decode()
    allowed = (ir["pipeline"]["root"], "/mnt/data")  # the component file ships under <root>/_code/
    paths = set(re.findall(r"(?<![\w.$-])/[\w.+-]+(?:/[\w.+-]+)+", decoded))
    leaks = {p for p in paths if not p.startswith(allowed)}
    assert not leaks, f"compile-machine paths in the YAML: {sorted(leaks)}"
    assert str(tmp_path / "compiled") not in decoded and REPO + "/beampipe" not in decoded


def test_run_id_from_kfp_job_placeholders(capsys):
    """One run id per KFP run, a valid path segment whatever the display name; an unresolved
    placeholder (a KFP backend before 2.5) stops the task instead of merging every run into one."""
    assert kfp_run_id("backend-test-2026-01-02-03-04-05-123456", "48213911") == \
        "backend-test-2026-01-02-03-04-05-123456-48213911"
    assert kfp_run_id("Nightly run: 2026/01/02", "9f1c") == "Nightly_run_2026_01_02-9f1c"
    long_a, long_b = kfp_run_id("x" * 200, "uuid-a"), kfp_run_id("x" * 200, "uuid-b")
    assert is_path_id(long_a) and is_path_id(long_b) and long_a != long_b and len(long_a) == 128
    assert is_path_id(kfp_run_id("..", "-"))
    with pytest.raises(SystemExit) as exit_info:
        kfp_run_id("{{$.pipeline_job_name}}", "{{$.pipeline_job_uuid}}")
    assert exit_info.value.code == 1 and "KFP 2.5 or later" in capsys.readouterr().err
