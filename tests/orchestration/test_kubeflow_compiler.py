"""The KFP v2 compiler: YAML that kfp's loader and a strict proto parse accept, and whose
task commands, run as KFP's launcher would run them, give a local run's lineage."""
from __future__ import annotations

import json
import os
import re
import subprocess
import sys

import pytest
import yaml

from beampipe.orchestration import ir as ir_mod
from beampipe.orchestration.compilers.kubeflow import (FINISH_TASK, FUNCTION, IR_PARAMETER, JOB_NAME_INPUT,
                                                       JOB_UUID_INPUT, NODE_INPUT, compile_yaml, memory_gb)
from beampipe.orchestration.entrypoint import FINISH_RUN
from beampipe.orchestration.kfp_task import kfp_run_id

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
PIPELINE_FILE = os.path.join(HERE, "backend_pipeline.py")


def _module():
    return ir_mod.load_module_from_file(PIPELINE_FILE, "backend_pipeline")


def _compile(root: str, tmp_path, **options) -> tuple[dict, str]:
    pipeline = _module().make_pipeline(root)
    next(c for c in pipeline.components if c.id == "CountRows").with_resources(cpu="500m", memory="1Gi")
    ir = ir_mod.compile_pipeline(pipeline)
    path = tmp_path / "pipeline.yaml"
    path.write_text(compile_yaml(ir, mounted=[str(tmp_path)], **options))
    return ir, str(path)


def _strict_spec(path: str):
    from google.protobuf import json_format
    from kfp.pipeline_spec import pipeline_spec_pb2

    with open(path) as f:
        doc = yaml.safe_load(f)
    return json_format.ParseDict(doc, pipeline_spec_pb2.PipelineSpec(), ignore_unknown_fields=False)


def test_kfp_loads_it_and_strict_parse_succeeds(tmp_path):
    from kfp import components

    ir, path = _compile(str(tmp_path / "root"), tmp_path, image="registry.example/beampipe:1")
    spec = _strict_spec(path)
    loaded = components.load_component_from_file(path)
    assert loaded.name == "backend-test"
    assert set(loaded.component_spec.inputs) == {IR_PARAMETER, "rows", "threshold"}
    assert loaded.component_spec.inputs["rows"].default == 5

    tasks = spec.root.dag.tasks
    assert {t.task_info.name for t in tasks.values()} == {n["id"] for n in ir["nodes"]} | {FINISH_RUN}
    finish = tasks[FINISH_TASK]
    assert set(finish.dependent_tasks) == set(tasks) - {FINISH_TASK}
    assert finish.trigger_policy.strategy == finish.trigger_policy.TriggerStrategy.Value(
        "ALL_UPSTREAM_TASKS_COMPLETED")
    names = {t.task_info.name: key for key, t in tasks.items()}
    from google.protobuf import json_format

    executors = json_format.MessageToDict(spec.deployment_spec)["executors"]
    for node in [*ir["nodes"], {"id": FINISH_RUN, "upstream": [n["id"] for n in ir["nodes"]]}]:
        task = tasks[names.get(node["id"], FINISH_TASK)]
        if node["id"] != FINISH_RUN:
            assert sorted(task.dependent_tasks) == sorted(names[u] for u in node["upstream"])
        assert task.caching_options.enable_cache is False
        comp = spec.components[task.component_ref.name]
        container = executors[comp.executor_label]["container"]
        assert container["image"] == "registry.example/beampipe:1"
        # A Lightweight Python Component as kfp.dsl emits it, without the pip preamble.
        assert container["command"][:2] == ["sh", "-ec"] and len(container["command"]) == 4
        assert "_KFP_RUNTIME=true python3 -m kfp.dsl.executor_main" in container["command"][2]
        assert not re.search(r"\bpip3?\b|ensurepip", " ".join(container["command"]))
        assert f"def {FUNCTION}(" in container["command"][3]
        assert container["args"] == ["--executor_input", "{{$}}", "--function_to_execute", FUNCTION]
        inputs = task.inputs.parameters
        assert inputs[NODE_INPUT].runtime_value.constant.string_value == node["id"]
        assert inputs[JOB_NAME_INPUT].runtime_value.constant.string_value == "{{$.pipeline_job_name}}"
        assert inputs[JOB_UUID_INPUT].runtime_value.constant.string_value == "{{$.pipeline_job_uuid}}"
        assert inputs["rows"].component_input_parameter == "rows"
        assert inputs[IR_PARAMETER].component_input_parameter == IR_PARAMETER
        assert set(comp.input_definitions.parameters) == set(inputs)
        assert set(comp.output_definitions.parameters) == {"status"}
    count = executors[spec.components[tasks[names["CountRows"]].component_ref.name].executor_label]
    assert count["container"]["resources"]["resourceCpuLimit"] == "500m"
    assert count["container"]["resources"]["resourceMemoryRequest"] == "1Gi"
    assert count["container"]["resources"]["cpuLimit"] == 0.5
    assert "resources" not in executors[spec.components[tasks[names["Judge"]].component_ref.name]
                                        .executor_label]["container"]
    root_params = spec.root.input_definitions.parameters
    assert root_params["threshold"].default_value.number_value == 10
    assert memory_gb("512Mi") == pytest.approx(0.536870912)


def _order(spec) -> list[str]:
    done: list[str] = []
    tasks = dict(spec.root.dag.tasks)
    while len(done) < len(tasks):
        ready = [k for k, t in sorted(tasks.items())
                 if k not in done and all(d in done for d in t.dependent_tasks)]
        assert ready, "cycle in dependentTasks"
        done.extend(ready)
    return done


def _substitute(arg: str, executor_input) -> str:
    """What KFP's launcher (launcher_v2.go) resolves in a command line: the executor input,
    input parameters and output parameter files. Not the job placeholders: those it leaves
    as they are, so a compiled YAML must not rely on them there."""
    from google.protobuf import json_format

    def one(match: re.Match) -> str:
        expr = match.group(1)
        if expr == "$":
            return json_format.MessageToJson(executor_input)
        m = re.fullmatch(r"\$\.inputs\.parameters\['([^']+)'\]", expr)
        if m:
            value = executor_input.inputs.parameter_values[m.group(1)]
            return value.string_value if value.WhichOneof("kind") == "string_value" else \
                json.dumps(json_format.MessageToDict(value))
        m = re.fullmatch(r"\$\.outputs\.parameters\['([^']+)'\]\.output_file", expr)
        if m:
            return executor_input.outputs.parameters[m.group(1)].output_file
        raise AssertionError(f"placeholder KFP's launcher does not resolve in a command line: {expr}")

    return re.sub(r"\{\{(\$[^}]*)\}\}", one, arg)


def _driver_value(source, root_values: dict, job: dict[str, str]):
    """A task input as KFP's driver (resolve.go) resolves it: a pipeline input, or a constant,
    which is replaced only when it is exactly one of the job placeholders."""
    from google.protobuf import json_format, struct_pb2

    if source.HasField("component_input_parameter"):
        return json_format.ParseDict(root_values[source.component_input_parameter], struct_pb2.Value())
    constant = source.runtime_value.constant
    if constant.string_value in job:
        return struct_pb2.Value(string_value=job[constant.string_value])
    return constant


def _run_like_kfp(path: str, work, job_name: str, job_uuid: str, job_params: dict) -> dict[str, str]:
    """Each task in dependency order: ExecutorInput as the driver builds it, the command line
    as the launcher resolves it, run; the status from the executor output, as KFP reads it."""
    from google.protobuf import json_format
    from kfp.pipeline_spec import pipeline_spec_pb2 as pb

    spec = _strict_spec(path)
    executors = json_format.MessageToDict(spec.deployment_spec)["executors"]
    root_values = {}
    for name, p in spec.root.input_definitions.parameters.items():
        root_values[name] = job_params.get(name, json_format.MessageToDict(p.default_value))
    job = {"{{$.pipeline_job_name}}": job_name, "{{$.pipeline_job_uuid}}": job_uuid}
    statuses = {}
    env = {**os.environ, "PYTHONPATH": REPO}
    for key in _order(spec):
        task = spec.root.dag.tasks[key]
        comp = spec.components[task.component_ref.name]
        executor_input = pb.ExecutorInput()
        for name, source in task.inputs.parameters.items():
            executor_input.inputs.parameter_values[name].CopyFrom(_driver_value(source, root_values, job))
        for name in comp.output_definitions.parameters:
            executor_input.outputs.parameters[name].output_file = str(work / key / "outputs" / name)
        executor_input.outputs.output_file = str(work / key / "executor_output.json")
        container = executors[comp.executor_label]["container"]
        cmd = [_substitute(a, executor_input) for a in container["command"] + container["args"]]
        assert cmd[:2] == ["sh", "-ec"] and f"{sys.executable} -m kfp.dsl.executor_main" in cmd[2]
        proc = subprocess.run(cmd, env={**env, **{e["name"]: e["value"] for e in container["env"]}},
                              capture_output=True, text=True, timeout=300)
        assert proc.returncode == 0, (key, proc.stdout[-2000:], proc.stderr[-3000:])
        [result] = [json.loads(line) for line in proc.stdout.splitlines() if line.startswith('{"')]
        with open(executor_input.outputs.output_file) as f:
            assert json.load(f)["parameterValues"]["status"] == result["status"]
        statuses[task.task_info.name] = result["status"]
    return statuses


@pytest.mark.e2e
def test_task_commands_run_with_local_lineage(tmp_path):
    from beampipe.metadata.store import MetadataStore
    from beampipe.orchestration.local_runner import LocalDagRunner

    module = _module()
    root, reference_root = str(tmp_path / "root"), str(tmp_path / "reference")
    assert LocalDagRunner().run(module.make_pipeline(root), run_id="local-defaults").status == "COMPLETE"
    LocalDagRunner().run(module.make_pipeline(reference_root), params={"threshold": 3},
                         run_id="local-threshold-3")
    ir, path = _compile(root, tmp_path, python=sys.executable)

    # KFP job names are display names: free text, and not unique; the uuid tells runs apart.
    first = _run_like_kfp(path, tmp_path / "kfp1", "backend test: run 1", "0b7e6a1c-1", {"threshold": 3})
    assert first == {"MakeRows": "CACHED", "CountRows": "CACHED", "Judge": "COMPLETE",
                     "Push": "COMPLETE", "Announce": "COMPLETE", FINISH_RUN: "COMPLETE"}
    second = _run_like_kfp(path, tmp_path / "kfp2", "backend test: run 1", "5d2f0c3e-2", {})
    assert second == {"MakeRows": "CACHED", "CountRows": "CACHED", "Judge": "CACHED",
                      "Push": "SKIPPED", "Announce": "SKIPPED", FINISH_RUN: "COMPLETE"}

    store = MetadataStore(ir["pipeline"]["metadata_uri"])
    ref = MetadataStore(os.path.join(reference_root, "metadata.sqlite"))
    try:
        first_id, second_id = kfp_run_id("backend test: run 1", "0b7e6a1c-1"), \
            kfp_run_id("backend test: run 1", "5d2f0c3e-2")
        assert first_id == "backend_test_run_1-0b7e6a1c-1"
        got = module.lineage_summary(store, first_id)
        want = module.lineage_summary(ref, "local-threshold-3")
        for node, summary in want.items():
            for field in ("inputs", "outputs", "exec_properties"):
                assert got[node][field] == summary[field], (node, field)
        skipped = module.lineage_summary(store, second_id)
        local = module.lineage_summary(store, "local-defaults")
        assert {n: s["inputs"] for n, s in skipped.items()} == {n: s["inputs"] for n, s in local.items()}
        assert skipped["Push"]["state"] == local["Push"]["state"] == "CANCELED"
        states = {r["run_id"]: r["state"] for r in store.runs("backend-test")}
        assert states[first_id] == states[second_id] == "COMPLETE"
    finally:
        store.close()
        ref.close()


def test_parameter_names_that_are_not_python_identifiers(tmp_path, monkeypatch):
    """Component inputs are the function's arguments: a parameter whose name is no Python
    identifier, a keyword, or one of beampipe's inputs travels under a stand-in name, and kfp's
    own executor hands it to the launcher under the pipeline's name."""
    from google.protobuf import json_format
    from kfp.dsl.executor import Executor

    import beampipe.orchestration.kfp_task as kfp_task

    module = _module()
    ir = ir_mod.compile_pipeline(module.make_pipeline(str(tmp_path / "root")))
    ir["pipeline"]["parameters"].update({"train-steps": {"type": "int", "default": 7},
                                         "class": {"type": "str", "default": "a"},
                                         NODE_INPUT: {"type": "float", "default": 0.5}})
    path = tmp_path / "p.yaml"
    path.write_text(compile_yaml(ir, mounted=[str(tmp_path)]))
    spec = _strict_spec(str(path))
    assert {"train-steps", "class", NODE_INPUT} <= set(spec.root.input_definitions.parameters)
    task = spec.root.dag.tasks["judge"]
    carried = {src.component_input_parameter: arg for arg, src in task.inputs.parameters.items()
               if src.component_input_parameter}
    assert carried["rows"] == "rows" and carried["threshold"] == "threshold"
    assert all(arg.isidentifier() for arg in carried.values())
    assert len(set(carried.values())) == len(carried)

    container = json_format.MessageToDict(spec.deployment_spec)["executors"][
        spec.components[task.component_ref.name].executor_label]["container"]
    namespace: dict = {}
    # As kfp loads it: a module of its own (this file's `from __future__ import annotations` must not leak in).
    exec(compile(container["command"][3], "beampipe_task.py", "exec", dont_inherit=True), namespace)  # noqa: S102
    calls = []
    monkeypatch.setattr(kfp_task, "run_task", lambda *a: calls.append(a) or "SKIPPED")
    values = {arg: {"rows": 5, "threshold": 3, "train-steps": 9, "class": "b", NODE_INPUT: 0.25,
                    IR_PARAMETER: "b64gz:x"}[name] for name, arg in carried.items()}
    values.update({NODE_INPUT: "Judge", JOB_NAME_INPUT: "job", JOB_UUID_INPUT: "u1"})
    output = tmp_path / "executor_output.json"
    Executor({"inputs": {"parameterValues": values},
              "outputs": {"parameters": {"status": {"outputFile": str(tmp_path / "status")}},
                          "outputFile": str(output)}}, namespace[FUNCTION]).execute()
    assert calls == [("b64gz:x", "Judge", "job", "u1", {"rows": 5, "threshold": 3, "train-steps": 9,
                                                       "class": "b", NODE_INPUT: 0.25})]
    assert json.loads(output.read_text())["parameterValues"] == {"status": "SKIPPED"}


def test_parameter_types_and_name_checks(tmp_path):
    from beampipe.components.base import RuntimeParameter
    from beampipe.orchestration.pipeline import Pipeline

    module = _module()
    rows = module.MakeRows(rows=RuntimeParameter("rows", int, 5))
    ir = ir_mod.compile_pipeline(Pipeline("Typed_Params", str(tmp_path), [rows]))
    ir["pipeline"]["parameters"].update({"rate": {"type": "float", "default": 0.5},
                                         "label": {"type": "str", "default": "x"}})
    path = tmp_path / "p.yaml"
    path.write_text(compile_yaml(ir, mounted=[str(tmp_path)]))
    spec = _strict_spec(str(path))
    assert spec.pipeline_info.name == "typed-params"
    types = {k: v.parameter_type for k, v in spec.root.input_definitions.parameters.items()}
    from kfp.pipeline_spec import pipeline_spec_pb2 as pb
    enum = pb.ParameterType.ParameterTypeEnum
    assert types == {IR_PARAMETER: enum.Value("STRING"), "rows": enum.Value("NUMBER_INTEGER"),
                     "rate": enum.Value("NUMBER_DOUBLE"), "label": enum.Value("STRING")}

    ir["pipeline"]["parameters"][IR_PARAMETER] = {"type": "str", "default": ""}
    with pytest.raises(ValueError, match="reserved"):
        compile_yaml(ir, mounted=[str(tmp_path)])
    del ir["pipeline"]["parameters"][IR_PARAMETER]
    ir["nodes"].append({**ir["nodes"][0], "id": "makerows"})
    with pytest.raises(ValueError, match="both become KFP task 'makerows'"):
        compile_yaml(ir, mounted=[str(tmp_path)])


def test_kubernetes_options_become_the_platform_spec(tmp_path):
    """kfp-kubernetes' platform spec: the metadata password from a Secret (secretAsEnv) and the image
    pull secret for every executor; node selector, tolerations and PVC mounts per node; GPUs as the
    container's accelerator. The YAML holds names only."""
    from google.protobuf import json_format
    from kfp import components
    from kfp.pipeline_spec import pipeline_spec_pb2 as pb

    pipeline = _module().make_pipeline(str(tmp_path / "root"))
    (next(c for c in pipeline.components if c.id == "Judge").with_resources(gpu=2)
     .with_node_selector({"pool": "gpu"}).with_volume("shared-data", "/mnt/data")
     .with_tolerations([{"key": "gpu", "operator": "Exists", "effect": "NoSchedule"}]))
    ir = ir_mod.compile_pipeline(pipeline)
    path = tmp_path / "k8s.yaml"
    path.write_text(compile_yaml(ir, mounted=[str(tmp_path)], image="registry.example/beampipe:1",
                                 metadata_secret=("mlmd-db", "pw"),
                                 image_pull_secret="regcred"))
    with open(path) as f:
        spec_doc, platform_doc = list(yaml.safe_load_all(f))
    spec = json_format.ParseDict(spec_doc, pb.PipelineSpec())
    platform = json_format.ParseDict(platform_doc, pb.PlatformSpec())
    executors = json_format.MessageToDict(platform.platforms["kubernetes"].deployment_spec)["executors"]
    containers = json_format.MessageToDict(spec.deployment_spec)["executors"]
    assert set(executors) == set(containers)
    judge = spec.components[spec.root.dag.tasks["judge"].component_ref.name].executor_label
    for label, config in executors.items():
        assert config["secretAsEnv"] == [{"secretName": "mlmd-db",
                                          "keyToEnv": [{"secretKey": "pw", "envVar": "BEAMPIPE_METADATA_PASSWORD"}]}]
        assert config["imagePullSecret"] == [{"secretName": "regcred"}]
        assert ("nodeSelector" in config) == (label == judge)
    assert executors[judge]["nodeSelector"] == {"labels": {"pool": "gpu"}}
    assert executors[judge]["tolerations"] == [{"key": "gpu", "operator": "Exists", "effect": "NoSchedule"}]
    assert executors[judge]["pvcMount"] == [{"constant": "shared-data", "mountPath": "/mnt/data"}]
    accelerator = containers[judge]["container"]["resources"]["accelerator"]
    assert accelerator["resourceType"] == "nvidia.com/gpu" and accelerator["resourceCount"] == "2"
    assert components.load_component_from_file(str(path)).name == "backend-test"
