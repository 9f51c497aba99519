"""Exit handlers (``tfx.orchestration.experimental.exit_handler``) on the local runner and on
compiled backends: the handler runs whatever the outcome and gets the final status as
KFP's PipelineTaskFinalStatus JSON."""
from __future__ import annotations

import json
import os
import sys

import pytest

import beampipe as tfx
from beampipe.components.base import WiringError
from beampipe.components.decorator import InputArtifact, Parameter
from beampipe.metadata.artifacts import Examples
from beampipe.metadata.store import RUN_CONTEXT, MetadataStore
from beampipe.orchestration import ir as ir_mod
from beampipe.orchestration.local_runner import LocalDagRunner
from tests.orchestration.test_airflow_compiler import airflow_home, airflow_python  # noqa: F401
from tests.support.kfp_local import isolated_kfp_local  # noqa: F401

HERE = os.path.dirname(os.path.abspath(__file__))
PIPELINE_FILE = os.path.join(HERE, "exit_handler_pipeline.py")


def _module():
    return ir_mod.load_module_from_file(PIPELINE_FILE, "exit_handler_pipeline")


def _statuses(path) -> list[dict]:
    with open(path) as f:
        return [json.loads(line) for line in f]


def test_local_runner_runs_the_handler_on_success_and_on_failure(tmp_path):
    module = _module()
    root, status_file = str(tmp_path / "root"), str(tmp_path / "status.jsonl")
    ok = LocalDagRunner().run(module.make_pipeline(root, status_file), run_id="ok")
    assert ok.status == "COMPLETE" and ok.exit_handler is not None and ok.exit_handler.status == "COMPLETE"
    assert "WriteStatus" not in ok.nodes  # not a node of the run: it never decides its outcome
    bad = LocalDagRunner().run(module.make_pipeline(root, status_file), params={"rows": 0}, run_id="bad")
    assert bad.status == "FAILED" and bad.exit_handler.status == "COMPLETE"
    again = LocalDagRunner().run(module.make_pipeline(root, status_file), run_id="again")
    assert again.exit_handler.status == "COMPLETE"  # never a cache hit
    success, failure, success_again = _statuses(status_file)
    assert success == {"state": "SUCCEEDED", "error": {}, "pipeline_job_name": "ok",
                       "pipeline_task_name": "exit-handler-test"}
    assert failure["state"] == "FAILED" and failure["pipeline_job_name"] == "bad"
    assert failure["error"]["message"] == "node 'Count' FAILED: no rows to count"
    assert success_again["state"] == "SUCCEEDED"
    from kfp.pipeline_spec import pipeline_spec_pb2
    from google.protobuf import json_format

    parsed = json_format.Parse(json.dumps(failure), pipeline_spec_pb2.PipelineTaskFinalStatus())
    assert parsed.state == "FAILED" and "Count" in parsed.error.message
    store = MetadataStore(os.path.join(root, "metadata.sqlite"))
    try:
        [handled] = [e for e in store.executions_in_context(RUN_CONTEXT, "bad") if e["node_id"] == "WriteStatus"]
        assert handled["state"] == "COMPLETE"
        assert json.loads(json.loads(handled["exec_properties"])["final_status"])["state"] == "FAILED"
        assert store.run("bad")["state"] == "FAILED"
    finally:
        store.close()


@tfx.orchestration.experimental.exit_handler
def Boom(final_status: Parameter[str]) -> None:
    raise RuntimeError("handler broke: " + json.loads(final_status)["error"]["message"])


def test_a_failing_handler_leaves_the_run_alone(tmp_path):
    module = _module()
    pipeline = module.make_pipeline(str(tmp_path / "root"), str(tmp_path / "unused"))
    runner = LocalDagRunner()
    runner.set_exit_handler(Boom(final_status=tfx.orchestration.experimental.FinalStatusStr()))
    result = runner.run(pipeline, params={"rows": 0}, run_id="r")
    assert result.status == "FAILED"
    assert result.exit_handler.node_id == "Boom" and result.exit_handler.status == "FAILED"
    assert "node 'Count' FAILED: no rows to count" in result.exit_handler.error


def test_exit_handlers_are_checked_when_attached(tmp_path):
    with pytest.raises(WiringError, match="parameters only"):
        @tfx.orchestration.experimental.exit_handler
        def Reads(examples: InputArtifact[Examples], final_status: Parameter[str]) -> None: ...
    module = _module()
    pipeline = module.make_pipeline(str(tmp_path / "root"), "x")
    pipeline.exit_handler = module.Make()
    with pytest.raises(WiringError, match="exit_handler"):
        ir_mod.compile_pipeline(pipeline)
    pipeline.exit_handler = module.WriteStatus(final_status=tfx.orchestration.experimental.FinalStatusStr(),
                                               path="x").with_id("Make")
    with pytest.raises(WiringError, match="a pipeline node has that id"):
        ir_mod.compile_pipeline(pipeline)


def _compiled_ir(tmp_path) -> tuple[dict, str]:
    status_file = str(tmp_path / "status.jsonl")
    pipeline = _module().make_pipeline(str(tmp_path / "root"), status_file)
    return ir_mod.compile_pipeline(pipeline), status_file


def test_kfp_yaml_has_an_exit_task_after_the_closing_task_and_kfp_local_runs_it(tmp_path, isolated_kfp_local):
    import yaml

    from beampipe.orchestration.compilers.kubeflow import FINISH_TASK, compile_yaml

    ir, status_file = _compiled_ir(tmp_path)
    path = tmp_path / "p.yaml"
    path.write_text(compile_yaml(ir, mounted=[str(tmp_path)], image="registry.example/beampipe:1",
                                 metadata_secret=("mlmd", "pw")))
    spec, platform = yaml.safe_load_all(path.read_text())
    task = spec["root"]["dag"]["tasks"]["writestatus"]
    assert task["dependentTasks"] == [FINISH_TASK]
    assert task["triggerPolicy"]["strategy"] == "ALL_UPSTREAM_TASKS_COMPLETED"
    assert "exec-writestatus" in platform["platforms"]["kubernetes"]["deploymentSpec"]["executors"]
    ok, run_id, tasks = isolated_kfp_local.run(str(path))
    assert ok and [t["node"] for t in tasks] == ["Make", "Count", "__finish_run__", "WriteStatus"]
    [status] = _statuses(status_file)
    assert status["state"] == "SUCCEEDED" and status["pipeline_job_name"] == run_id
    # kfp.local stops at the first failed task, so a failed run's exit task runs on a cluster only.


@pytest.mark.e2e
def test_airflow_runs_the_exit_handler_whatever_the_outcome(tmp_path, airflow_python, airflow_home):
    from beampipe.orchestration.compilers.airflow import compile_dag
    from beampipe.orchestration.entrypoint import sanitize_run_id
    from tests.orchestration.test_airflow_compiler import _RUN, _airflow

    ir, status_file = _compiled_ir(tmp_path)
    dag_file = os.path.join(airflow_home["AIRFLOW__CORE__DAGS_FOLDER"], "exit_handler_test.py")
    with open(dag_file, "w") as f:
        f.write(compile_dag(ir, python=sys.executable, retries=0))
    ok, broken = _airflow(airflow_python, airflow_home, _RUN, dag_file, json.dumps([{}, {"rows": 0}]))
    assert ok["state"].lower().endswith("success"), ok
    assert broken["state"].lower().endswith("failed"), broken  # the finish task is still a leaf
    tasks = {k: v.lower().split(".")[-1] for k, v in broken["tasks"].items()}
    assert tasks["Count"] == "failed" and tasks["beampipe_finish_run"] == "failed"
    assert tasks["WriteStatus"] == "success"
    success, failure = _statuses(status_file)
    assert success["state"] == "SUCCEEDED" and success["pipeline_job_name"] == sanitize_run_id(ok["run_id"])
    assert failure["state"] == "FAILED" and "node 'Count' FAILED: no rows to count" in failure["error"]["message"]
