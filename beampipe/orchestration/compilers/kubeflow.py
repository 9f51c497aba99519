"""IR -> Kubeflow Pipelines v2 pipeline YAML (a PipelineSpec), built from kfp's own protos.

Each IR node becomes one component whose executor is a Lightweight Python Component: the
``sh -c`` program kfp's own compiler emits for ``@dsl.component`` (write the function source
to a temporary file, run ``python3 -m kfp.dsl.executor_main`` on it), with a function that
hands the node to beampipe's launcher (``beampipe.orchestration.kfp_task.run_task``). That
form, not a plain container command, is what ``kfp.local``'s SubprocessRunner accepts, so
the YAML a cluster runs is also the one a laptop can run; on a cluster both run the same
way. The program installs nothing (kfp's ``pip install kfp`` preamble is left out):
beampipe and kfp are in the image (``--image``).

KFP's own cache is switched off per task (``cachingOptions.enableCache: false``): our
launcher's cache decides. The IR is the pipeline input ``beampipe_ir`` (gzipped, base64)
with the IR as default, handed to every task; runtime parameters are pipeline inputs too.
The run id comes from the task inputs ``beampipe_job_name`` / ``beampipe_job_uuid``, whose
values are KFP's job placeholders: KFP resolves those in task inputs only (not in container
args). Conditions are evaluated by the launcher (they read MLMD artifact properties, which
KFP's CEL cannot see), so a false condition records a skipped execution exactly as a local
run does; each task returns its status as the output parameter ``status``. A last task
(trigger strategy ALL_UPSTREAM_TASKS_COMPLETED) closes the run in MLMD.
"""
from __future__ import annotations

import keyword
import re
from typing import Any, Sequence

from beampipe.components.container import IN_IMAGE_ENV
from beampipe.orchestration import shipping
from beampipe.orchestration.compilers import STORAGE_SECRET_KEYS, check_env, container_image, yaml_text
from beampipe.orchestration.entrypoint import FINISH_RUN, encode_ir
from beampipe.orchestration.kfp_task import JOB_NAME_PLACEHOLDER, JOB_UUID_PLACEHOLDER

IR_PARAMETER = "beampipe_ir"
NODE_INPUT, JOB_NAME_INPUT, JOB_UUID_INPUT = "beampipe_node", "beampipe_job_name", "beampipe_job_uuid"
FINISH_TASK = "beampipe-finish-run"
DEFAULT_IMAGE = "beampipe:latest"
DEFAULT_PYTHON = "python3"  # kfp's convention; kfp.local swaps it for its own interpreter
FUNCTION = "beampipe_task"
SCHEMA_VERSION = "2.1.0"
_KFP_TYPES = {"int": "NUMBER_INTEGER", "float": "NUMBER_DOUBLE", "str": "STRING"}
_RESERVED_INPUTS = (IR_PARAMETER, NODE_INPUT, JOB_NAME_INPUT, JOB_UUID_INPUT)

# The program kfp.dsl's compiler writes for a Lightweight Python Component, minus the pip
# preamble: $0 is the function source, "$@" the executor arguments. kfp.local recognises it
# by the executor module's name and refuses anything else (a plain container command).
_PROGRAM = """\
program_dir=$(mktemp -d)
trap 'rm -rf "$program_dir"' EXIT
printf '%s' "$0" > "$program_dir/beampipe_task.py"
_KFP_RUNTIME=true {python} -m kfp.dsl.executor_main \\
  --component_module_path "$program_dir/beampipe_task.py" "$@"
"""


def build_spec(ir: dict[str, Any], image: str | None = None, python: str = DEFAULT_PYTHON,
               env: dict[str, str] | None = None) -> Any:
    """The PipelineSpec proto; valid by construction."""
    from google.protobuf import json_format, struct_pb2
    from kfp.pipeline_spec import pipeline_spec_pb2 as pb

    from beampipe import __version__

    pipe = ir["pipeline"]
    params = pipe.get("parameters", {})
    if IR_PARAMETER in params:
        raise ValueError(f"runtime parameter name {IR_PARAMETER!r} is reserved by the Kubeflow compiler")
    args = argument_names(params)
    spec = pb.PipelineSpec(sdk_version=f"beampipe-{__version__}", schema_version=SCHEMA_VERSION)
    spec.pipeline_info.name = kfp_name(pipe["name"])
    spec.pipeline_info.description = f"beampipe pipeline {pipe['name']} (compiled from its IR)"
    spec.default_pipeline_root = pipe["root"]

    root_inputs = spec.root.input_definitions.parameters
    _parameter(root_inputs[IR_PARAMETER], "STRING", encode_ir(ir), pb)
    root_inputs[IR_PARAMETER].description = "the beampipe IR (gzipped JSON, base64); do not edit"
    for name, p in params.items():
        _parameter(root_inputs[name], _KFP_TYPES[p["type"]], p.get("default"), pb)

    deployment = pb.PipelineDeploymentConfig()
    source = function_source(params, args)
    names = task_names(ir)
    for node in ir["nodes"]:
        own_image = container_image(node)  # a container component's task runs in its own image
        _add_task(spec, deployment, names[node["id"]], node["id"], [names[u] for u in node["upstream"]],
                  node.get("resources") or {}, params, args, own_image or image, python, source, pb)
        if own_image:
            variable = deployment.executors[f"exec-{names[node['id']]}"].container.env.add()
            variable.name, variable.value = IN_IMAGE_ENV, own_image
    # Closes the run in MLMD once every task is done, whether they succeeded or not.
    finish = _add_task(spec, deployment, FINISH_TASK, FINISH_RUN, list(names.values()), {}, params,
                       args, image, python, source, pb)
    finish.trigger_policy.strategy = \
        pb.PipelineTaskSpec.TriggerPolicy.TriggerStrategy.Value("ALL_UPSTREAM_TASKS_COMPLETED")
    handler = ir.get("exit_handler")
    if handler:  # after the run is closed, whatever its outcome (KFP's dsl.ExitHandler semantics)
        exit_task = _add_task(spec, deployment, exit_task_name(ir), handler["id"], [FINISH_TASK],
                              handler.get("resources") or {}, params, args, image, python, source, pb)
        exit_task.trigger_policy.strategy = finish.trigger_policy.strategy

    for executor in deployment.executors.values():
        for name, value in sorted((env or {}).items()):
            variable = executor.container.env.add()
            variable.name, variable.value = name, value
    spec.deployment_spec.CopyFrom(json_format.ParseDict(
        json_format.MessageToDict(deployment), struct_pb2.Struct()))
    return spec


def argument_names(params: dict[str, Any]) -> dict[str, str]:
    """Runtime parameter -> the component input (and function argument) that carries it.

    The function's arguments are the component's inputs, so they must be Python identifiers
    and must not take a name beampipe uses; other names get a safe stand-in (the pipeline
    input keeps the user's name, which is what the KFP UI and ``submit`` show)."""
    names: dict[str, str] = {}
    for i, name in enumerate(params):
        ok = name.isidentifier() and not keyword.iskeyword(name) and name not in _RESERVED_INPUTS \
            and not re.match(r"param_[0-9]+_", name)
        names[name] = name if ok else f"param_{i}_{re.sub(r'[^0-9A-Za-z_]', '_', name)}"
    return names


def function_source(params: dict[str, Any], args: dict[str, str]) -> str:
    """The component function: typed arguments (kfp's executor passes inputs by argument name
    and type), one call into beampipe, the status as the ``status`` output."""
    typed = "".join(f", {args[n]}: {p['type']}" for n, p in params.items())
    values = ", ".join(f"{n!r}: {args[n]}" for n in params)
    return (
        "import typing\n\n\n"
        f"def {FUNCTION}({IR_PARAMETER}: str, {NODE_INPUT}: str, {JOB_NAME_INPUT}: str, "
        f"{JOB_UUID_INPUT}: str{typed}) -> typing.NamedTuple('Outputs', [('status', str)]):\n"
        '    """One node of a beampipe pipeline through its launcher (beampipe is in the image)."""\n'
        "    from beampipe.orchestration.kfp_task import run_task\n\n"
        f"    return (run_task({IR_PARAMETER}, {NODE_INPUT}, {JOB_NAME_INPUT}, {JOB_UUID_INPUT}, "
        f"{{{values}}}),)\n")


def _add_task(spec: Any, deployment: Any, tid: str, node_id: str, upstream: list[str],
              resources: dict[str, str], params: dict[str, Any], args: dict[str, str], image: str | None,
              python: str, source: str, pb: Any) -> Any:
    """One component, its lightweight Python executor and its task in the root DAG."""
    comp_name, exec_name = f"comp-{tid}", f"exec-{tid}"
    comp = spec.components[comp_name]
    comp.executor_label = exec_name
    for name in _RESERVED_INPUTS:
        _parameter(comp.input_definitions.parameters[name], "STRING", None, pb)
    for name, p in params.items():
        _parameter(comp.input_definitions.parameters[args[name]], _KFP_TYPES[p["type"]], None, pb)
    comp.output_definitions.parameters["status"].parameter_type = \
        pb.ParameterType.ParameterTypeEnum.Value("STRING")

    container = deployment.executors[exec_name].container
    container.image = image or DEFAULT_IMAGE
    container.command.extend(["sh", "-ec", _PROGRAM.format(python=python), source])
    container.args.extend(["--executor_input", "{{$}}", "--function_to_execute", FUNCTION])
    env = container.env.add()
    env.name, env.value = "TF_USE_LEGACY_KERAS", "1"
    _resources(container.resources, resources)

    task = spec.root.dag.tasks[tid]
    task.task_info.name = node_id
    task.component_ref.name = comp_name
    task.dependent_tasks.extend(upstream)
    task.caching_options.enable_cache = False
    inputs = task.inputs.parameters
    inputs[IR_PARAMETER].component_input_parameter = IR_PARAMETER
    inputs[NODE_INPUT].runtime_value.constant.string_value = node_id
    inputs[JOB_NAME_INPUT].runtime_value.constant.string_value = JOB_NAME_PLACEHOLDER
    inputs[JOB_UUID_INPUT].runtime_value.constant.string_value = JOB_UUID_PLACEHOLDER
    for name in params:
        inputs[args[name]].component_input_parameter = name
    return task


def compile_yaml(ir: dict[str, Any], image: str | None = None, python: str | None = None,
                 metadata_secret: tuple[str, str] | None = None, image_pull_secret: str | None = None,
                 mounted: Sequence[str] = (), storage_secret: str | None = None,
                 env: dict[str, str] | None = None, **_: Any) -> str:
    """The pipeline YAML text as `kfp.compiler` writes it: the PipelineSpec as a document, then,
    when any Kubernetes option is set, the Kubernetes platform spec as a second one.

    Pods share nothing with this machine: every path must be a remote URI or under a
    ``mounted`` path (``shipping.check_cluster_paths``), and the user's code is shipped
    through the pipeline root first (``shipping.ship_code``). ``env`` holds plain settings
    for every task (an S3 endpoint, a region); ``storage_secret`` names the Kubernetes Secret
    whose ``AWS_ACCESS_KEY_ID`` / ``AWS_SECRET_ACCESS_KEY`` keys become the pods' variables."""
    from google.protobuf import json_format

    env = check_env(env or {})
    ir = shipping.prepare(ir, cluster=True, mounted=mounted)
    spec = build_spec(ir, image=image, python=python or DEFAULT_PYTHON, env=env)
    docs = [json_format.MessageToDict(spec)]
    platform = platform_spec(ir, metadata_secret, image_pull_secret, storage_secret)
    if platform is not None:
        docs.append(platform)
    header = (f"# KFP v2 pipeline for beampipe pipeline {ir['pipeline']['name']!r}; generated by "
              "`beampipe compile --target kubeflow`.\n# Submit: beampipe submit <this file> --host URL\n"
              "# Run locally: kfp.local with SubprocessRunner(use_venv=False) (see the README)\n")
    return header + yaml_text.dump_all(docs, width=120)


def platform_spec(ir: dict[str, Any], metadata_secret: tuple[str, str] | None = None,
                  image_pull_secret: str | None = None, storage_secret: str | None = None) -> dict[str, Any] | None:
    """Per executor, what kfp-kubernetes would add: the metadata password from a Secret as
    $BEAMPIPE_METADATA_PASSWORD (use_secret_as_env), an image pull secret, and each node's node
    selector, tolerations and PVC mounts. None when there is nothing to say."""
    from google.protobuf import json_format
    from kfp.kubernetes import kubernetes_executor_config_pb2 as k8s
    from kfp.pipeline_spec import pipeline_spec_pb2 as pb

    from beampipe.metadata.connection import PASSWORD_ENV

    names = task_names(ir)
    nodes = [(names[n["id"]], n.get("kubernetes") or {}) for n in ir["nodes"]] + [(FINISH_TASK, {})]
    if ir.get("exit_handler"):
        nodes.append((exit_task_name(ir), ir["exit_handler"].get("kubernetes") or {}))
    executors = {}
    for tid, options in nodes:
        config = k8s.KubernetesExecutorConfig()
        if metadata_secret is not None:
            secret = config.secret_as_env.add(secret_name=metadata_secret[0])
            secret.key_to_env.add(secret_key=metadata_secret[1], env_var=PASSWORD_ENV)
        if storage_secret:
            secret = config.secret_as_env.add(secret_name=storage_secret)
            for key in STORAGE_SECRET_KEYS:
                secret.key_to_env.add(secret_key=key, env_var=key)
        if image_pull_secret:
            config.image_pull_secret.add(secret_name=image_pull_secret)
        if options.get("node_selector"):
            config.node_selector.labels.update(options["node_selector"])
        for t in options.get("tolerations", []):
            config.tolerations.add(**{k: v for k, v in t.items() if k != "toleration_seconds"},
                                   **({"toleration_seconds": int(t["toleration_seconds"])}
                                      if "toleration_seconds" in t else {}))
        for volume in options.get("volumes", []):
            config.pvc_mount.add(constant=volume["pvc"], mount_path=volume["mount_path"])
        if config.ByteSize():
            executors[f"exec-{tid}"] = json_format.MessageToDict(config)
    if not executors:
        return None
    doc = {"platforms": {"kubernetes": {"deploymentSpec": {"executors": executors}}}}
    json_format.ParseDict(doc, pb.PlatformSpec())  # valid by construction; fails loudly if not
    return doc


def _parameter(target: Any, type_name: str, default: Any, pb: Any) -> None:
    target.parameter_type = pb.ParameterType.ParameterTypeEnum.Value(type_name)
    if default is not None:
        if isinstance(default, str):
            target.default_value.string_value = default
        else:
            target.default_value.number_value = float(default)
        target.is_optional = True


def _resources(res: Any, wanted: dict[str, str]) -> None:
    """IR node resources (k8s quantities like '500m', '2Gi') as request and limit."""
    if wanted.get("cpu"):
        res.resource_cpu_request = res.resource_cpu_limit = str(wanted["cpu"])
        res.cpu_request = res.cpu_limit = cpu_cores(str(wanted["cpu"]))
    if wanted.get("memory"):
        res.resource_memory_request = res.resource_memory_limit = str(wanted["memory"])
        res.memory_request = res.memory_limit = memory_gb(str(wanted["memory"]))
    if wanted.get("gpu"):
        res.accelerator.resource_type = res.accelerator.type = "nvidia.com/gpu"
        res.accelerator.resource_count = str(wanted["gpu"])
        res.accelerator.count = int(wanted["gpu"])


def cpu_cores(quantity: str) -> float:
    return float(quantity[:-1]) / 1000 if quantity.endswith("m") else float(quantity)


_MEMORY_UNITS = {"": 1e-9, "K": 1e-6, "M": 1e-3, "G": 1.0, "T": 1e3,
                 "Ki": 1024 / 1e9, "Mi": 1024 ** 2 / 1e9, "Gi": 1024 ** 3 / 1e9, "Ti": 1024 ** 4 / 1e9}


def memory_gb(quantity: str) -> float:
    match = re.fullmatch(r"([0-9.]+)([KMGT]i?)?", quantity.strip())
    if not match:
        raise ValueError(f"memory {quantity!r}: expected a Kubernetes quantity such as 512Mi or 2G")
    return float(match.group(1)) * _MEMORY_UNITS[match.group(2) or ""]


def task_names(ir: dict[str, Any]) -> dict[str, str]:
    """Node id -> KFP task name, refusing two nodes that would share one."""
    names: dict[str, str] = {}
    for node in ir["nodes"]:
        name = kfp_name(node["id"])
        if name == FINISH_TASK:
            raise ValueError(f"node id {node['id']!r} is reserved by the Kubeflow compiler")
        clash = [n for n, v in names.items() if v == name]
        if clash:
            raise ValueError(f"nodes '{clash[0]}' and '{node['id']}' both become KFP task '{name}': "
                             "rename one with .with_id(...)")
        names[node["id"]] = name
    return names


def exit_task_name(ir: dict[str, Any]) -> str:
    """The exit handler's task: its node id as a KFP name, apart from every other task."""
    name = kfp_name(ir["exit_handler"]["id"])
    if name == FINISH_TASK or name in task_names(ir).values():
        raise ValueError(f"exit handler '{ir['exit_handler']['id']}' would share KFP task name '{name}' with "
                         "another task: rename it with .with_id(...)")
    return name


def kfp_name(name: str) -> str:
    """KFP pipeline names: lowercase letters, digits and '-'."""
    return re.sub(r"[^a-z0-9-]+", "-", name.lower()).strip("-") or "pipeline"
