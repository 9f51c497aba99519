"""Pipeline: the components of one ML workflow, checked at build time."""
from __future__ import annotations

import enum
import os
from typing import Any, Sequence

from beampipe.components.base import BaseComponent, RuntimeParameter, WiringError
from beampipe.metadata.ids import PATH_ID_RULE, RESERVED_NODE_IDS, is_node_id, is_path_id


class ExecutionMode(enum.Enum):
    """TFX's pipeline execution modes. beampipe runs SYNC only: each node runs once per run,
    after its producers, and publishes when it finishes; ASYNC (nodes looping on new inputs,
    intermediate outputs) has no launcher here."""

    SYNC = 1
    ASYNC = 2


class Pipeline:
    """A DAG of components plus where its data and metadata live.

    Wiring is checked here, so mistakes surface when the pipeline is built,
    not half-way through a run.
    """

    def __init__(self, pipeline_name: str, pipeline_root: str, components: Sequence[BaseComponent],
                 metadata_uri: str | None = None, beam_pipeline_args: Sequence[str] | None = None,
                 enable_cache: bool = True, metadata_connection_config: Any = None,
                 execution_mode: ExecutionMode = ExecutionMode.SYNC,
                 exit_handler: BaseComponent | None = None) -> None:
        if execution_mode is not ExecutionMode.SYNC:
            raise WiringError(f"pipeline {pipeline_name!r}: execution_mode={execution_mode} is not supported: "
                              "beampipe runs pipelines synchronously (ExecutionMode.SYNC): every node "
                              "runs once per run and publishes its outputs when it finishes")
        if not is_path_id(pipeline_name):
            raise WiringError(f"pipeline name {pipeline_name!r} is not allowed: use {PATH_ID_RULE}")
        self.pipeline_name = pipeline_name
        self.pipeline_root = pipeline_root
        self.metadata_uri = metadata_uri or _uri_from_config(metadata_connection_config) or \
            os.path.join(pipeline_root, "metadata.sqlite")
        self.beam_pipeline_args = list(beam_pipeline_args or [])
        self.enable_cache = enable_cache
        self.components = topological_order(list(components))
        self.source_file: str | None = None
        self.execution_mode = execution_mode
        # Runs after every node, whatever the outcome (orchestration.exit_handler); TFX sets it
        # on the runner instead (``set_exit_handler``), which beampipe's runners also accept.
        self.exit_handler = exit_handler

    @property
    def name(self) -> str:
        return self.pipeline_name

    def runtime_parameters(self) -> dict[str, RuntimeParameter]:
        """Every RuntimeParameter used in any node's execution properties."""
        found: dict[str, RuntimeParameter] = {}
        for comp in self.components:
            for param in getattr(comp, "_runtime_parameters", []):
                found[param.name] = param
        return found


def topological_order(components: list[BaseComponent]) -> list[BaseComponent]:
    """Check the wiring, then order nodes so each comes after its producers."""
    by_id: dict[str, BaseComponent] = {}
    for comp in components:
        if not isinstance(comp, BaseComponent):
            raise WiringError(f"pipeline components must be components, got {comp!r}")
        if comp.id in by_id and by_id[comp.id] is not comp:
            raise WiringError(f"two nodes have the id '{comp.id}' ({type(by_id[comp.id]).__name__} "
                              f"and {type(comp).__name__}): give one of them .with_id('...')")
        by_id[comp.id] = comp
        if not is_node_id(comp.id):
            raise WiringError(f"node id {comp.id!r} is not allowed: use {PATH_ID_RULE}, other than "
                              f"{sorted(RESERVED_NODE_IDS)}")
        for key in comp.outputs:
            if not is_path_id(key):
                raise WiringError(f"node '{comp.id}': output key {key!r} is not allowed: use {PATH_ID_RULE}")
    for comp in components:
        comp.check_wiring()
        for key, channel in comp.inputs.items():
            if channel.producer is None and getattr(channel, "producer_component_id", None):
                _bind(comp, key, channel, by_id)
            producer = channel.producer
            if producer is not None and by_id.get(producer.id) is not producer:
                raise WiringError(f"node '{comp.id}' input {key!r} reads {channel.describe()}, "
                                  f"but node '{producer.id}' is not in the pipeline's components")
    ordered: list[BaseComponent] = []
    state: dict[str, str] = {}

    def visit(comp: BaseComponent, path: list[str]) -> None:
        if state.get(comp.id) == "done":
            return
        if state.get(comp.id) == "visiting":
            cycle = " -> ".join(path[path.index(comp.id):] + [comp.id])
            raise WiringError(f"the pipeline has a cycle: {cycle}")
        state[comp.id] = "visiting"
        for upstream in upstream_nodes(comp):
            visit(upstream, path + [comp.id])
        state[comp.id] = "done"
        ordered.append(comp)

    for comp in components:
        visit(comp, [])
    return ordered


def _bind(comp: BaseComponent, key: str, channel: Any, by_id: dict[str, BaseComponent]) -> None:
    """``Channel(type=T, producer_component_id=ID)``: the output of node ID of type T (or the
    given ``output_key``), so the node runs after ID."""
    producer = by_id.get(channel.producer_component_id)
    if producer is None:
        raise WiringError(f"node '{comp.id}' input {key!r} reads producer_component_id "
                          f"{channel.producer_component_id!r}, which is not in the pipeline's components")
    keys = [channel.output_key] if channel.output_key else \
        [k for k, out in producer.outputs.items() if out.type.TYPE_NAME == channel.type.TYPE_NAME]
    if len(keys) != 1 or keys[0] not in producer.outputs:
        raise WiringError(f"node '{comp.id}' input {key!r}: node '{producer.id}' has "
                          f"{'no' if not keys else 'several'} {channel.type.TYPE_NAME} outputs "
                          f"({sorted(producer.outputs)}): give output_key=")
    channel.producer, channel.output_key = producer, keys[0]


def upstream_nodes(comp: BaseComponent) -> list[BaseComponent]:
    """Producers of the node's inputs, nodes its condition and parameters read, and nodes
    ordered before it by hand (``add_upstream_node``)."""
    found = [ch.producer for ch in comp.inputs.values() if ch.producer is not None]
    found += [ch.producer for ch in comp.placeholder_channels if ch.producer is not None]
    found += comp.extra_upstream
    condition = comp.condition
    if condition is not None:
        found.extend(ch.producer for ch in condition.channels() if ch.producer is not None)
    unique: dict[str, BaseComponent] = {}
    for node in found:
        unique.setdefault(node.id, node)
    return list(unique.values())


def _uri_from_config(config: Any) -> str | None:
    """TFX passes an MLMD ConnectionConfig; beampipe's setting is a URI (``connection``)."""
    if config is None:
        return None
    from beampipe.metadata.connection import MetadataConfigError, uri_from_config

    try:
        return uri_from_config(config)
    except MetadataConfigError as err:
        raise WiringError(str(err)) from None
