"""Resolver: pick already-recorded artifacts out of MLMD with a ``ResolverStrategy``.

``Resolver(strategy_class=..., config={...}, model=Channel(type=Model), ...)``, as in TFX. Each
input key's candidates are every LIVE artifact of that channel in the pipeline's history (all
runs): for a wired channel (``example_gen.outputs["examples"]`` or ``Channel(type=Examples,
producer_component_id=...)``) what its producer output under that key; for a bare
``Channel(type=Model)`` every artifact of the type. The strategy, built as
``strategy_class(**config)``, chooses among them (``resolver_strategy`` says how).

It makes no new artifacts: its executor replaces ``ctx.outputs[key]`` with artifacts that
already have an MLMD id, and the launcher records them as this execution's OUTPUT events
without moving anything. Never cached: the answer depends on what the store holds now.

A strategy of the user's own is named in the IR by import path plus, when it is not a beampipe
class, its file (exec property ``module_file``): a compiled pipeline ships that file through the
pipeline root like a module file, and the task imports it there.
"""
from __future__ import annotations

import inspect
import sys
from typing import Any

from beampipe.components.base import BaseComponent, Channel, ExecContext, In, Out, Param, SkipNode, WiringError
from beampipe.components.resolver_strategies import (  # re-exported: the old import path
    LatestArtifactStrategy, LatestBlessedModelStrategy, SpanRangeStrategy)
from beampipe.components.resolver_strategy import (
    MlmdHandle, ResolverStrategy, decode_config, encode_config)
from beampipe.metadata.artifacts import Artifact

__all__ = ["Resolver", "ResolverStrategy", "LatestArtifactStrategy", "LatestBlessedModelStrategy",
           "SpanRangeStrategy", "load_strategy"]

DONE = ("COMPLETE", "CACHED")


class Resolver(BaseComponent):
    """``Resolver(strategy_class=..., config=..., **channels)``: outputs keyed like inputs."""

    INPUTS: dict[str, In] = {}
    OUTPUTS: dict[str, Out] = {}
    PARAMETERS = {"strategy_class": Param(str), "config": Param(dict), "module_file": Param(str),
                  "input_types": Param(dict, default={}), "input_channels": Param(dict)}

    def __init__(self, strategy_class: type[ResolverStrategy] | None = None,
                 config: dict[str, Any] | None = None, **channels: Channel) -> None:
        if strategy_class is not None and not (isinstance(strategy_class, type)
                                               and issubclass(strategy_class, ResolverStrategy)):
            raise WiringError("Resolver: strategy_class must be a ResolverStrategy subclass "
                              "(tfx.dsl.experimental.LatestArtifactStrategy, LatestBlessedModelStrategy, "
                              f"SpanRangeStrategy or your own), got {strategy_class!r}")
        if strategy_class is None and config is not None:
            raise WiringError("Resolver: config needs a strategy_class")
        if not channels:
            raise WiringError("Resolver: give at least one input channel, e.g. model=Channel(type=Model)")
        for key, channel in channels.items():
            if not isinstance(channel, Channel):
                raise WiringError(f"Resolver: input {key!r} must be a Channel, got {channel!r}")
        config = dict(config or {})
        if strategy_class is not None:
            _check_config(strategy_class, config)
        # Per-instance declarations: a Resolver's keys are whatever the user names.
        self.INPUTS = {k: In(c.type, optional=True) for k, c in channels.items()}
        self.OUTPUTS = {k: Out(c.type) for k, c in channels.items()}
        super().__init__(channels, {
            "strategy_class": _class_path(strategy_class) if strategy_class else None,
            "config": encode_config(config) if strategy_class else None,
            "module_file": _defining_file(strategy_class) if strategy_class else None,
            "input_types": {k: c.type.TYPE_NAME for k, c in channels.items()}})
        self.enable_cache = False

    # The producers are read when the IR is compiled, not here: ``with_id`` may rename a
    # producer after wiring, and ``producer_component_id`` channels are bound by the Pipeline.
    @property  # type: ignore[override]
    def exec_properties(self) -> dict[str, Any]:
        props = self._props
        props["input_channels"] = {
            key: {"producer": ch.producer.id if ch.producer else getattr(ch, "producer_component_id", None),
                  "output_key": ch.output_key}
            for key, ch in getattr(self, "inputs", {}).items()}
        return props

    @exec_properties.setter
    def exec_properties(self, value: dict[str, Any]) -> None:
        self._props = value

    @classmethod
    def execute(cls, ctx: ExecContext) -> None:
        if ctx.store is None:
            raise ValueError(f"node '{ctx.node_id}': Resolver needs the metadata store")
        types: dict[str, str] = ctx.prop("input_types", {})
        channels: dict[str, dict[str, Any]] = ctx.prop("input_channels", {})
        candidates = {key: _candidates(ctx, type_name, channels.get(key) or {})
                      for key, type_name in types.items()}
        path = ctx.prop("strategy_class")
        if not path:
            resolved: dict[str, list[Artifact]] | None = candidates
            name = "no strategy"
        else:
            strategy_cls = load_strategy(path, ctx.prop("module_file"))
            name = strategy_cls.__name__
            try:
                strategy = strategy_cls(**decode_config(ctx.prop("config", {})))
            except TypeError as err:
                raise ValueError(f"node '{ctx.node_id}': {name}(**config) failed: {err}") from err
            resolved = strategy.resolve_artifacts(MlmdHandle(ctx.store), candidates)
        if resolved is None:  # "no inputs available": nodes that need them skip; optional readers run
            raise SkipNode(f"{name}.resolve_artifacts returned None (no inputs available); candidates were "
                           f"{_ids(candidates)}")
        for key in types:
            arts = list(resolved.get(key) or [])
            bad = [a for a in arts if not isinstance(a, Artifact) or a.id is None]
            if bad:
                raise ValueError(f"node '{ctx.node_id}': {name} returned {bad!r} for {key!r}: a strategy "
                                 "returns artifacts from its input_dict (recorded ones, with an MLMD id)")
            ctx.outputs[key] = arts
            ctx.log.info("resolved %s: %s", key, [a.id for a in arts])


def load_strategy(path: str, module_file: str | None = None) -> type[ResolverStrategy]:
    """The strategy class at ``module:qualname`` (or ``module.name``), imported from its module
    or, failing that (a pipeline file run as ``__main__``, another machine), from its file."""
    import importlib

    module_name, _, qualname = path.partition(":") if ":" in path else path.rpartition(".")
    found: Any = None
    try:
        found = _attr(sys.modules.get(module_name) or importlib.import_module(module_name), qualname)
    except (ImportError, AttributeError):
        if not module_file:
            raise ValueError(f"Resolver strategy {path!r} cannot be imported") from None
    if found is None:
        from beampipe.components.fn_args import _load_module_file

        try:
            found = _attr(_load_module_file(module_file, "strategy_class"), qualname)
        except AttributeError:
            raise ValueError(f"Resolver strategy {qualname!r} is not defined in {module_file}") from None
    if not (isinstance(found, type) and issubclass(found, ResolverStrategy)):
        raise ValueError(f"Resolver strategy {path!r} is not a ResolverStrategy")
    return found


def _attr(module: Any, qualname: str) -> Any:
    obj = module
    for part in qualname.split("."):
        obj = getattr(obj, part)
    return obj


def _class_path(cls: type) -> str:
    return f"{cls.__module__}:{cls.__qualname__}"


def _defining_file(cls: type) -> str | None:
    """The user's file that defines the class; None for beampipe's own strategies."""
    if cls.__module__.startswith("beampipe."):
        return None
    path = getattr(sys.modules.get(cls.__module__), "__file__", None)
    import os

    return os.path.abspath(path) if path else None


def _check_config(strategy_class: type, config: dict[str, Any]) -> None:
    """A config the strategy's ``__init__`` cannot take fails at build time, not mid-run."""
    try:
        inspect.signature(strategy_class).bind(**config)
    except TypeError as err:
        raise WiringError(f"Resolver: config {sorted(config)} does not fit "
                          f"{strategy_class.__name__}{inspect.signature(strategy_class)}: {err}") from None


def _candidates(ctx: ExecContext, type_name: str, channel: dict[str, Any]) -> list[Artifact]:
    """Every LIVE artifact of the channel in the pipeline's history, oldest first."""
    producer = channel.get("producer")
    if producer:
        arts = _history(ctx, producer, channel.get("output_key") or "", type_name)
    else:
        arts = ctx.store.artifacts_of_type(ctx.pipeline_name, type_name)
    unique = {a.id: a for a in arts if a.id is not None and a.state == "LIVE" and a.TYPE_NAME == type_name}
    return sorted(unique.values(), key=lambda a: int(a.id))


def _history(ctx: ExecContext, producer: str, output_key: str, type_name: str) -> list[Artifact]:
    """What ``producer`` output under ``output_key`` (any key, if none) in its finished runs."""
    from beampipe.metadata.store import NODE_CONTEXT

    found: list[Artifact] = []
    for execution in ctx.store.executions_in_context(NODE_CONTEXT, f"{ctx.pipeline_name}.{producer}"):
        if execution["state"] not in DONE:
            continue
        for key, arts in ctx.store.artifacts_of(execution["id"]).items():
            if key == output_key or (not output_key and any(a.TYPE_NAME == type_name for a in arts)):
                found.extend(arts)
    return found


def _ids(candidates: dict[str, list[Artifact]]) -> dict[str, list[int | None]]:
    return {key: [a.id for a in arts] for key, arts in candidates.items()}
