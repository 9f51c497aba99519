"""The component model: typed inputs, outputs and parameters, and an executor.

A component instance is one node of a pipeline. Its inputs are channels (the
output of another node), its outputs are channels others can read, and its
parameters are plain JSON-able values that become the node's execution
properties. The executor is the classmethod ``execute(ctx)``; it runs later,
inside the launcher, and is the only place heavy libraries get imported.
"""
from __future__ import annotations

import dataclasses
import logging
from dataclasses import dataclass, field
from typing import Any, ClassVar

from beampipe.metadata import layout
from beampipe.metadata.artifacts import Artifact
from beampipe.metadata.ids import PATH_ID_RULE, RESERVED_NODE_IDS, is_node_id, is_path_id


class WiringError(ValueError):
    """A pipeline wired wrongly: raised at build time, naming the nodes and the channel."""


@dataclass(frozen=True)
class In:
    type: type[Artifact]
    optional: bool = False


@dataclass(frozen=True)
class Out:
    type: type[Artifact]


_REQUIRED = object()


@dataclass(frozen=True)
class Param:
    type: Any = object
    default: Any = None
    required: bool = False
    path: bool = False  # names a file or folder outside the pipeline root (see data_paths)


class RuntimeParameter:
    """A value given when the pipeline runs (CLI --param, Airflow conf, KFP parameter)."""

    def __init__(self, name: str, ptype: type = str, default: Any = None) -> None:
        if ptype not in (int, float, str):
            raise TypeError(f"RuntimeParameter {name!r}: ptype must be int, float or str, not {ptype}")
        self.name, self.ptype, self.default = name, ptype, default

    def __repr__(self) -> str:
        return f"RuntimeParameter({self.name!r}, {self.ptype.__name__}, default={self.default!r})"


class Channel:
    """A typed stream of artifacts: one output of one node (or, for Resolver, a query)."""

    def __init__(self, type: type[Artifact], producer: "BaseComponent | None" = None,
                 output_key: str = "", producer_component_id: str | None = None) -> None:
        self.type = type
        self.producer = producer
        self.output_key = output_key or ""
        # TFX's ``Channel(type=..., producer_component_id=...)``: the Pipeline binds it to the
        # node of that id (``pipeline.topological_order``).
        self._producer_component_id = producer_component_id

    @property
    def producer_component_id(self) -> str | None:
        return self.producer.id if self.producer is not None else self._producer_component_id

    def future(self) -> Any:
        """The channel's artifacts at run time, for conditions (TFX's spelling)."""
        from beampipe.components.condition import ChannelFuture
        return ChannelFuture(self)

    def describe(self) -> str:
        who = self.producer.id if self.producer else (self.producer_component_id or "(unbound)")
        return f"{self.type.TYPE_NAME} from node '{who}' output '{self.output_key}'"

    def __repr__(self) -> str:
        return f"Channel({self.describe()})"


class BaseComponent:
    """Base for standard components; subclasses declare INPUTS, OUTPUTS, PARAMETERS."""

    INPUTS: ClassVar[dict[str, In]] = {}
    OUTPUTS: ClassVar[dict[str, Out]] = {}
    PARAMETERS: ClassVar[dict[str, Param]] = {}

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        tfx_style = sorted({"SPEC_CLASS", "EXECUTOR_SPEC", "DRIVER_CLASS"} & set(cls.__dict__))
        if tfx_style:
            raise TypeError(f"{cls.__name__}: TFX's ComponentSpec / executor-class components ({', '.join(tfx_style)}) "
                            "are not supported; declare INPUTS, OUTPUTS, PARAMETERS and a classmethod "
                            "execute(ctx), or write the component as a @component function")

    def __init__(self, inputs: dict[str, Channel | None] | None = None,
                 parameters: dict[str, Any] | None = None) -> None:
        self._id: str | None = None
        self.inputs: dict[str, Channel] = {}
        for key, channel in (inputs or {}).items():
            if key not in self.INPUTS:
                raise WiringError(f"{type(self).__name__}: unknown input {key!r}; "
                                  f"inputs are {sorted(self.INPUTS)}")
            if channel is not None:
                self.inputs[key] = channel
        self.exec_properties: dict[str, Any] = {}
        for key, spec in self.PARAMETERS.items():
            value = (parameters or {}).get(key)
            if value is None:
                value = spec.default
            if value is None and spec.required:
                raise WiringError(f"{type(self).__name__}: parameter {key!r} is required")
            if value is not None:
                self.exec_properties[key] = to_jsonable(value)
        self._runtime_parameters = _runtime_parameters(parameters or {})
        # Channels whose values parameters read at run time (``future()[0].value``): their
        # producers run first. Plus nodes ordered by hand (TFX's ``add_upstream_node``).
        self.placeholder_channels: list[Channel] = _placeholder_channels(parameters or {})
        self.extra_upstream: list[BaseComponent] = []
        unknown = set(parameters or {}) - set(self.PARAMETERS)
        if unknown:
            raise WiringError(f"{type(self).__name__}: unknown parameters {sorted(unknown)}")
        self.outputs: dict[str, Channel] = {k: Channel(o.type, self, k) for k, o in self.OUTPUTS.items()}
        self.enable_cache: bool | None = None
        self.beam_pipeline_args: list[str] = []
        from beampipe.components.condition import active_condition
        self.condition: Any = active_condition()
        self.resources: dict[str, str] = {}
        self.kubernetes: dict[str, Any] = {}  # node selector, tolerations, volumes

    @property
    def id(self) -> str:
        return self._id or type(self).__name__

    def with_id(self, node_id: str) -> "BaseComponent":
        """Name the node; the id becomes a directory under the pipeline root, so it must be
        one safe path segment (no '/', no '..')."""
        if not is_node_id(node_id):
            raise WiringError(f"{type(self).__name__}.with_id({node_id!r}): the node id is not allowed: "
                              f"use {PATH_ID_RULE}, other than {sorted(RESERVED_NODE_IDS)}, because it "
                              "becomes a directory name")
        self._id = node_id
        return self

    def add_upstream_node(self, node: "BaseComponent") -> "BaseComponent":
        """Run after ``node`` even without a channel between them (TFX's spelling)."""
        if node not in self.extra_upstream:
            self.extra_upstream.append(node)
        return self

    def add_downstream_node(self, node: "BaseComponent") -> "BaseComponent":
        node.add_upstream_node(self)
        return self

    def with_caching(self, enabled: bool) -> "BaseComponent":
        """Per-node cache switch; None (the default) follows the pipeline."""
        self.enable_cache = enabled
        return self

    def with_beam_pipeline_args(self, args: list[str]) -> "BaseComponent":
        """Beam args for this node only, appended after the pipeline's."""
        self.beam_pipeline_args = list(args)
        return self

    def with_resources(self, cpu: str | None = None, memory: str | None = None,
                       gpu: int | None = None) -> "BaseComponent":
        """Per-node CPU / memory (Kubernetes quantities) and GPUs (``nvidia.com/gpu``), used by the
        Kubeflow and Kubernetes backends as requests and limits."""
        if cpu:
            self.resources["cpu"] = str(cpu)
        if memory:
            self.resources["memory"] = str(memory)
        if gpu:
            if int(gpu) != gpu or gpu < 0:
                raise WiringError(f"node '{self.id}': gpu must be a whole number, got {gpu!r}")
            self.resources["gpu"] = str(int(gpu))
        return self

    def with_node_selector(self, labels: dict[str, str]) -> "BaseComponent":
        """Run this node's pod only on Kubernetes nodes with these labels."""
        self.kubernetes["node_selector"] = {str(k): str(v) for k, v in labels.items()}
        return self

    def with_tolerations(self, tolerations: list[dict[str, Any]]) -> "BaseComponent":
        """Kubernetes tolerations for this node's pod: dicts with key, operator, value, effect."""
        allowed = {"key", "operator", "value", "effect", "toleration_seconds"}
        for t in tolerations:
            if not isinstance(t, dict) or set(t) - allowed:
                raise WiringError(f"node '{self.id}': a toleration is a dict with keys {sorted(allowed)}, "
                                  f"got {t!r}")
        self.kubernetes["tolerations"] = [dict(t) for t in tolerations]
        return self

    def with_volume(self, pvc: str, mount_path: str) -> "BaseComponent":
        """Mount a PersistentVolumeClaim into this node's pod (for users who share a volume)."""
        if not pvc or not mount_path.startswith("/"):
            raise WiringError(f"node '{self.id}': with_volume needs a PVC name and an absolute mount path")
        self.kubernetes.setdefault("volumes", []).append({"pvc": pvc, "mount_path": mount_path})
        return self

    def check_wiring(self) -> None:
        """Input types and required inputs; raises WiringError naming node and channel."""
        for key, spec in self.INPUTS.items():
            channel = self.inputs.get(key)
            if channel is None:
                if not spec.optional:
                    raise WiringError(f"node '{self.id}' ({type(self).__name__}): required input "
                                      f"{key!r} ({spec.type.TYPE_NAME}) is missing")
                continue
            if channel.type.TYPE_NAME != spec.type.TYPE_NAME:
                raise WiringError(f"node '{self.id}' ({type(self).__name__}): input {key!r} expects "
                                  f"{spec.type.TYPE_NAME} but is wired to {channel.describe()}")

    @classmethod
    def prepare_inputs(cls, inputs: dict[str, list[Artifact]]) -> dict[str, list[Artifact]]:
        """The resolved inputs as the executor will use them.

        The launcher calls this before the cache check, so the cache key and the recorded
        lineage both see exactly what the executor reads. The default keeps them all.
        """
        return inputs

    @classmethod
    def data_paths(cls, exec_properties: dict[str, Any]) -> dict[str, str]:
        """The files and folders outside the pipeline root this node reads or writes, by
        property: a compiled pipeline checks that a cluster can reach them. The default
        reads the parameters declared with ``Param(path=True)``."""
        return {name: value for name, spec in cls.PARAMETERS.items()
                if spec.path and isinstance(value := exec_properties.get(name), str) and value}

    @classmethod
    def execute(cls, ctx: "ExecContext") -> None:
        raise NotImplementedError(f"{cls.__name__} has no executor")

    def __repr__(self) -> str:
        return f"{type(self).__name__}(id={self.id!r})"


@dataclass
class ExecContext:
    """Everything an executor sees. Output artifact URIs point at empty staging dirs."""

    node_id: str
    run_id: str
    pipeline_name: str
    pipeline_root: str
    inputs: dict[str, list[Artifact]]
    outputs: dict[str, list[Artifact]]
    exec_properties: dict[str, Any]
    beam_pipeline_args: list[str] = field(default_factory=list)
    temp_dir: str = ""
    log: logging.Logger = field(default_factory=lambda: logging.getLogger("beampipe.node"))
    store: Any = None  # the MetadataStore, for nodes that query it (Resolver)

    def input(self, key: str) -> Artifact:
        arts = self.inputs.get(key) or []
        if not arts:
            raise ValueError(f"node '{self.node_id}': input {key!r} has no artifact")
        return arts[0]

    def optional_input(self, key: str) -> Artifact | None:
        arts = self.inputs.get(key) or []
        return arts[0] if arts else None

    def output(self, key: str) -> Artifact:
        return self.outputs[key][0]

    def beam_pipeline(self, extra_args: tuple[str, ...] = ()) -> Any:
        """A Beam pipeline built from the node's Beam args (then ``extra_args``), always with a
        named runner. Refused for DataflowRunner when the node's artifacts are local paths (its
        workers could not read them); see ``beam_util.check_worker_paths``."""
        from beampipe.transforms.beam_util import check_worker_paths, make_pipeline
        uris = {f"{kind} {key!r}": art.uri for kind, arts in (("input", self.inputs), ("output", self.outputs))
                for key, group in arts.items() for art in group}
        check_worker_paths(self.node_id, self.beam_pipeline_args, uris)
        return make_pipeline([*self.beam_pipeline_args, *extra_args], self.temp_dir)

    def prop(self, key: str, default: Any = None) -> Any:
        value = self.exec_properties.get(key)
        return default if value is None else value

    def split_uri(self, artifact: Artifact, split: str) -> str:
        """``<uri>/Split-<split>`` of any artifact (a user type too), by the one layout rule."""
        return layout.split_uri(artifact.uri, split)

    def drop_output(self, key: str) -> None:
        """Declare that this execution does not produce output ``key`` (TFX: an output the
        component's configuration leaves out). The launcher records no artifact for it, so
        nothing empty is LIVE, and deletes its staging directory with the attempt's."""
        if key not in self.outputs:
            raise KeyError(f"node '{self.node_id}' has no output {key!r}")
        del self.outputs[key]


def _runtime_parameters(value: Any) -> list[RuntimeParameter]:
    if isinstance(value, RuntimeParameter):
        return [value]
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        value = [getattr(value, f.name) for f in dataclasses.fields(value)]
    if isinstance(value, dict):
        value = list(value.values())
    if isinstance(value, (list, tuple)):
        return [p for v in value for p in _runtime_parameters(v)]
    return []


def _placeholder_channels(value: Any) -> list[Channel]:
    if hasattr(value, "to_placeholder") and isinstance(getattr(value, "channel", None), Channel):
        return [value.channel]
    if isinstance(value, dict):
        value = list(value.values())
    if isinstance(value, (list, tuple)):
        return [c for v in value for c in _placeholder_channels(v)]
    return []


class SkipNode(Exception):
    """Raised by an executor when the node has nothing to do (a Resolver that found no inputs):
    the node is recorded as skipped, not failed, and nodes needing its outputs skip too."""


def to_jsonable(value: Any) -> Any:
    """Execution properties travel in the IR as JSON; config dataclasses become dicts."""
    if isinstance(value, RuntimeParameter):
        return {"__runtime_parameter__": value.name}
    if hasattr(value, "to_placeholder"):  # a value read from an upstream artifact at run time
        return value.to_placeholder()
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {k: to_jsonable(v) for k, v in dataclasses.asdict(value).items()}
    if isinstance(value, (list, tuple)):
        return [to_jsonable(v) for v in value]
    if isinstance(value, dict):
        return {str(k): to_jsonable(v) for k, v in value.items()}
    if callable(value) and hasattr(value, "__module__") and hasattr(value, "__qualname__"):
        return f"{value.__module__}.{value.__qualname__}"
    return value
