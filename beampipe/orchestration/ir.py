"""The one intermediate representation every backend consumes.

A plain JSON document: the pipeline's settings and runtime parameters, and per
node the component's import path, execution properties, input channels
(producer node + output key), outputs, caching policy, Beam args, resources and
condition. The local runner, the Airflow DAG and the KFP YAML all carry this
document and hand one node of it at a time to the launcher.
"""
from __future__ import annotations

import importlib
import importlib.util
import json
import os
import sys
from typing import Any

from beampipe.components.base import BaseComponent, WiringError
from beampipe.metadata.connection import without_password
from beampipe.orchestration.pipeline import Pipeline, upstream_nodes

IR_VERSION = 1


def compile_pipeline(pipeline: Pipeline, keep_secrets: bool = False, exit_handler: Any = None) -> dict[str, Any]:
    """The IR of a pipeline, as a JSON-able dict.

    The metadata URI goes in without its password: the IR is written into DAG files and KFP
    YAML, and tasks read the password from their environment (``connection.runtime_uri``).
    ``keep_secrets`` is for an IR that never leaves this process (``beampipe run``).
    ``exit_handler`` (else the pipeline's own) becomes ``ir["exit_handler"]``."""
    from beampipe.orchestration.exit_handler import check_handler

    handler = exit_handler if exit_handler is not None else getattr(pipeline, "exit_handler", None)
    if handler is not None:
        handler = check_handler(handler, [c.id for c in pipeline.components])
    uri = _abs_uri(pipeline.metadata_uri)
    params = {
        p.name: {"type": p.ptype.__name__, "default": p.default}
        for p in pipeline.runtime_parameters().values()
    }
    return {
        "ir_version": IR_VERSION,
        "pipeline": {
            "name": pipeline.pipeline_name,
            "root": root_uri(pipeline.pipeline_root),
            "metadata_uri": uri if keep_secrets else without_password(uri),
            "beam_pipeline_args": pipeline.beam_pipeline_args,
            "enable_cache": pipeline.enable_cache,
            "parameters": params,
            "source_file": pipeline.source_file,
        },
        "nodes": [_node(comp) for comp in pipeline.components],
        **({"exit_handler": _node(handler)} if handler is not None else {}),
    }


def _node(comp: BaseComponent) -> dict[str, Any]:
    # A class made at run time (a container component) names a shared class that can be
    # imported anywhere, and keeps its own name as the MLMD execution type.
    cls = getattr(type(comp), "IR_CLASS", None) or type(comp)
    extra = {"type_name": comp.execution_type_name} if hasattr(comp, "execution_type_name") else {}
    return {
        **extra,
        "id": comp.id,
        "component": component_ref(cls),
        "exec_properties": comp.exec_properties,
        "inputs": {
            key: {"producer": ch.producer.id if ch.producer else None,
                  "output_key": ch.output_key, "type": ch.type.TYPE_NAME,
                  **({"artifact_ids": ch.artifact_ids} if getattr(ch, "artifact_ids", None) else {})}
            for key, ch in comp.inputs.items()
        },
        "outputs": {key: {"type": ch.type.TYPE_NAME} for key, ch in comp.outputs.items()},
        "upstream": [n.id for n in upstream_nodes(comp)],
        "enable_cache": comp.enable_cache,
        "beam_pipeline_args": comp.beam_pipeline_args,
        "resources": comp.resources,
        "kubernetes": comp.kubernetes,
        "condition": comp.condition.to_ir() if comp.condition is not None else None,
    }


def component_ref(cls: type) -> dict[str, Any]:
    """Where to import a component class from; user files are remembered by path."""
    module = sys.modules.get(cls.__module__)
    path = getattr(module, "__file__", None)
    if cls.__module__.startswith("beampipe.") or path is None:
        path = None
    else:
        path = os.path.abspath(path)
    return {"module": cls.__module__, "name": cls.__qualname__, "file": path}


def load_component_class(ref: dict[str, Any]) -> type[BaseComponent]:
    """Import the class a node runs, from its module or, failing that, its file."""
    module = sys.modules.get(ref["module"])
    if module is None:
        try:
            module = importlib.import_module(ref["module"])
        except ImportError:
            if not ref.get("file"):
                raise
            from beampipe import io  # a shipped copy under <root>/_code/ is fetched first

            module = load_module_from_file(io.code.local_copy(ref["file"]), ref["module"])
    obj: Any = module
    for part in ref["name"].split("."):
        obj = getattr(obj, part)
    return obj


def load_module_from_file(path: str, name: str | None = None) -> Any:
    """Import a Python file as a module, with its folder on sys.path (for its siblings)."""
    if not os.path.isfile(path):
        raise FileNotFoundError(f"{path}: no such file")
    folder = os.path.dirname(os.path.abspath(path))
    if folder not in sys.path:
        sys.path.insert(0, folder)
    name = name or os.path.splitext(os.path.basename(path))[0]
    spec = importlib.util.spec_from_file_location(name, path)
    if spec is None or spec.loader is None:
        raise ImportError(f"{path}: cannot be imported as a Python module")
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    try:
        spec.loader.exec_module(module)
    except BaseException:
        sys.modules.pop(name, None)
        raise
    return module


def dumps(ir: dict[str, Any]) -> str:
    return json.dumps(ir, indent=1, sort_keys=True)


def load(path: str) -> dict[str, Any]:
    with open(path) as f:
        ir = json.load(f)
    if ir.get("ir_version") != IR_VERSION:
        raise WiringError(f"{path}: IR version {ir.get('ir_version')} is not {IR_VERSION}")
    return ir


def node(ir: dict[str, Any], node_id: str) -> dict[str, Any]:
    for n in [*ir["nodes"], *([ir["exit_handler"]] if ir.get("exit_handler") else [])]:
        if n["id"] == node_id:
            return n
    raise KeyError(f"pipeline '{ir['pipeline']['name']}' has no node '{node_id}'; "
                   f"nodes are {[n['id'] for n in ir['nodes']]}")


def root_uri(root: str) -> str:
    """A local root made absolute; an object-store root (s3://, gs://) normalized, never
    passed through ``os.path.abspath`` (which would make ``gs://b/r`` into ``<cwd>/gs:/b/r``)."""
    from beampipe import io

    return io.normalize(root) if io.is_remote(root) else os.path.abspath(root)


def _abs_uri(uri: str) -> str:
    return uri if "://" in uri else os.path.abspath(uri)
