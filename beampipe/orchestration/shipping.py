"""Make a compiled pipeline self-contained before it leaves this machine.

Two steps, both on the IR:

- ``ship_code``: each user module file and each file that defines a user's own component is
  uploaded with the Python files beside it to ``<root>/_code/<sha256>/`` (``io.code``), and the
  IR names the shipped copy. The compiled DAG or YAML then holds no path of this machine's
  code, and tasks fetch it by digest from the pipeline root.
- ``check_cluster_paths``: on a cluster (Kubeflow, Airflow's pod operator) nothing local to the
  compile machine exists. The pipeline root, a SQLite store and every data path a component
  declares (``BaseComponent.data_paths``: ExampleGen's ``input_base``, Pusher's destination,
  ImportSchemaGen's ``schema_file``) must be ``s3://``/``gs://`` URIs or under a path the
  user declares mounted in every pod; otherwise compiling fails, naming each path.
"""
from __future__ import annotations

import os
from typing import Any, Sequence

from beampipe import io
from beampipe.orchestration import ir as ir_mod
from beampipe.orchestration.cache import MODULE_FILE_KEYS


class ClusterPathError(ValueError):
    """A compiled pipeline would name a path only the compile machine has."""


def prepare(ir: dict[str, Any], cluster: bool, mounted: Sequence[str] = ()) -> dict[str, Any]:
    """The IR as a compiled file carries it: checked for a cluster (when ``cluster``), then
    with its code shipped through the pipeline root."""
    if cluster:
        check_cluster_paths(ir, mounted)
    return ship_code(ir)


def ship_code(ir: dict[str, Any]) -> dict[str, Any]:
    """A copy of the IR whose module files, component files and pipeline file are shipped
    copies under ``<root>/_code/``. Already shipped or remote paths are left as they are."""
    root = ir["pipeline"]["root"]
    shipped: dict[str, str] = {}

    def ship(path: Any) -> Any:
        if not isinstance(path, str) or not path or io.is_remote(path) or io.code.is_shipped(path):
            return path
        if path not in shipped:
            shipped[path] = io.code.ship(path, root)
        return shipped[path]

    def shipped_node(node: dict[str, Any]) -> dict[str, Any]:
        props = {k: ship(v) if k in MODULE_FILE_KEYS else v for k, v in node["exec_properties"].items()}
        component = {**node["component"], "file": ship(node["component"].get("file"))}
        return {**node, "exec_properties": props, "component": component}

    nodes = [shipped_node(node) for node in ir["nodes"]]
    handler = {"exit_handler": shipped_node(ir["exit_handler"])} if ir.get("exit_handler") else {}
    try:  # only a record of where the pipeline came from: a folder too big to ship drops it
        source = ship(ir["pipeline"].get("source_file"))
    except io.code.CodeError:
        source = None
    pipeline = {**ir["pipeline"], "source_file": source}
    return {**ir, "pipeline": pipeline, "nodes": nodes, **handler}


def cluster_path_problems(ir: dict[str, Any], mounted: Sequence[str] = ()) -> list[str]:
    """Each local path a cluster task would need, as 'what: path'. A path is fine when it is a
    remote URI or lies under a mounted path: one given here, or a volume every pod (for the
    root and the store) or the node's own pod (for its data) mounts."""
    from beampipe.metadata.connection import sqlite_path

    volumes = [[v["mount_path"] for v in (n.get("kubernetes") or {}).get("volumes", [])] for n in ir["nodes"]]
    everywhere = [*mounted, *(set.intersection(*map(set, volumes)) if volumes else set())]
    problems = []
    pipe = ir["pipeline"]
    if not _reachable(pipe["root"], everywhere):
        problems.append(f"pipeline root {pipe['root']}")
    store_file = sqlite_path(pipe["metadata_uri"])
    if store_file is not None and not _reachable(store_file, everywhere):
        problems.append(f"metadata store {store_file} (a SQLite file)")
    for node, own in zip(ir["nodes"], volumes):
        cls = ir_mod.load_component_class(node["component"])
        for prop, path in cls.data_paths(node["exec_properties"]).items():
            if not _reachable(path, [*everywhere, *own]):
                problems.append(f"node '{node['id']}' {prop} {path}")
    return problems


def check_cluster_paths(ir: dict[str, Any], mounted: Sequence[str] = ()) -> None:
    problems = cluster_path_problems(ir, mounted)
    if problems:
        raise ClusterPathError(
            f"pipeline '{ir['pipeline']['name']}' names paths of this machine, which cluster pods cannot "
            f"see: {'; '.join(problems)}. Use s3:// or gs:// URIs (the metadata store: postgresql:// or "
            "mysql://), or declare a path every pod mounts with --mounted PATH (and .with_volume(pvc, PATH))")


def _reachable(path: str, mounted: Sequence[str]) -> bool:
    if io.is_remote(path):
        return True
    path = os.path.abspath(path)
    return any(io.is_within(path, os.path.abspath(m)) for m in mounted)
