"""Resolver: pick already-recorded artifacts out of MLMD (latest model, latest blessed model).

It makes no new artifacts: its executor replaces ``ctx.outputs[key]`` with artifacts that
already have an MLMD id, and the launcher records them as this execution's OUTPUT events
without moving anything. An empty list (nothing to resolve yet) is a valid result. Never
cached: the answer depends on what the store holds now.
"""
from __future__ import annotations

from typing import Any

from beampipe.components.base import BaseComponent, Channel, ExecContext, In, Out, Param, WiringError
from beampipe.metadata.artifacts import Artifact, Model, ModelBlessing


class ResolverStrategy:
    """Turn candidate artifacts (per input key, oldest first) into the resolved ones."""

    @classmethod
    def resolve(cls, ctx: ExecContext, candidates: dict[str, list[Artifact]]) -> dict[str, list[Artifact]]:
        raise NotImplementedError


class LatestArtifactStrategy(ResolverStrategy):
    """The newest LIVE artifact of each input (TFX: ``desired_num_of_artifacts=1``)."""

    desired_num_of_artifacts = 1

    @classmethod
    def resolve(cls, ctx: ExecContext, candidates: dict[str, list[Artifact]]) -> dict[str, list[Artifact]]:
        n = cls.desired_num_of_artifacts
        return {key: sorted(arts, key=_age)[-n:] for key, arts in candidates.items()}


class LatestBlessedModelStrategy(ResolverStrategy):
    """The newest Model that a ModelBlessing with ``blessed == 1`` was made for, and that blessing.

    "Made for" is lineage: the blessing's producing execution read the model as its input
    ``model`` (the Evaluator's candidate), exactly as TFX matches them.
    """

    @classmethod
    def resolve(cls, ctx: ExecContext, candidates: dict[str, list[Artifact]]) -> dict[str, list[Artifact]]:
        model_key = _key_of_type(candidates, ctx, Model)
        blessing_key = _key_of_type(candidates, ctx, ModelBlessing)
        models = {m.id: m for m in candidates[model_key]}
        blessed = [b for b in candidates[blessing_key]
                   if int(b.custom_properties.get(ModelBlessing.BLESSED_KEY, 0) or 0) == 1]
        pairs = []
        for blessing in blessed:
            model_id = _blessed_model_id(ctx, blessing)
            if model_id in models:
                pairs.append((models[model_id], blessing))
        if not pairs:
            return {model_key: [], blessing_key: []}
        model, blessing = max(pairs, key=lambda p: (_age(p[0]), _age(p[1])))
        return {model_key: [model], blessing_key: [blessing]}


class Resolver(BaseComponent):
    """``Resolver(strategy_class=..., model=Channel(type=Model), ...)``: outputs keyed like inputs.

    ``config`` is accepted for TFX parity; the two built-in strategies take no options.
    """

    INPUTS: dict[str, In] = {}
    OUTPUTS: dict[str, Out] = {}
    PARAMETERS = {"strategy_class": Param(str, required=True),
                  "input_types": Param(dict, default={})}

    def __init__(self, strategy_class: type[ResolverStrategy] | None = None,
                 config: dict[str, Any] | None = None, **channels: Channel) -> None:
        if strategy_class is None or not (isinstance(strategy_class, type)
                                          and issubclass(strategy_class, ResolverStrategy)):
            raise WiringError("Resolver: strategy_class must be LatestArtifactStrategy or "
                              f"LatestBlessedModelStrategy (from beampipe.components.resolver), "
                              f"got {strategy_class!r}")
        if not channels:
            raise WiringError("Resolver: give at least one input channel, e.g. model=Channel(type=Model)")
        for key, channel in channels.items():
            if not isinstance(channel, Channel):
                raise WiringError(f"Resolver: input {key!r} must be a Channel, got {channel!r}")
        # Per-instance declarations: a Resolver's keys are whatever the user names.
        self.INPUTS = {k: In(c.type, optional=True) for k, c in channels.items()}
        self.OUTPUTS = {k: Out(c.type) for k, c in channels.items()}
        super().__init__(channels, {"strategy_class": strategy_class,
                                    "input_types": {k: c.type.TYPE_NAME for k, c in channels.items()}})
        self.enable_cache = False

    @classmethod
    def execute(cls, ctx: ExecContext) -> None:
        if ctx.store is None:
            raise ValueError(f"node '{ctx.node_id}': Resolver needs the metadata store")
        strategy = _strategy(ctx.prop("strategy_class"))
        types = ctx.prop("input_types", {})
        candidates = {key: _live(ctx.inputs.get(key) or _by_type(ctx, type_name))
                      for key, type_name in types.items()}
        resolved = strategy.resolve(ctx, candidates)
        for key in types:
            ctx.outputs[key] = list(resolved.get(key, []))
            ctx.log.info("resolved %s: %s", key, [a.id for a in ctx.outputs[key]])


def _strategy(path: str) -> type[ResolverStrategy]:
    import importlib
    module, _, name = path.rpartition(".")
    found = getattr(importlib.import_module(module), name, None)
    if not (isinstance(found, type) and issubclass(found, ResolverStrategy)):
        raise ValueError(f"Resolver strategy {path!r} is not a ResolverStrategy")
    return found


def _by_type(ctx: ExecContext, type_name: str) -> list[Artifact]:
    """Every artifact of a type recorded in this pipeline."""
    return ctx.store.artifacts_of_type(ctx.pipeline_name, type_name)


def _live(arts: list[Artifact]) -> list[Artifact]:
    return [a for a in arts if a.id is not None and a.state == "LIVE"]


def _age(art: Artifact) -> int:
    return int(art.id or 0)


def _key_of_type(candidates: dict[str, list[Artifact]], ctx: ExecContext, cls: type[Artifact]) -> str:
    types = ctx.prop("input_types", {})
    for key, type_name in types.items():
        if type_name == cls.TYPE_NAME:
            return key
    raise ValueError(f"node '{ctx.node_id}': LatestBlessedModelStrategy needs a {cls.TYPE_NAME} "
                     f"input channel; inputs are {types}")


def _blessed_model_id(ctx: ExecContext, blessing: Artifact) -> int | None:
    """The candidate model id the Evaluator execution that made this blessing read."""
    store = ctx.store
    wanted = store.pb.Event.OUTPUT
    events = [e for e in store.call("get_events_by_artifact_ids", [blessing.id]) if e.type == wanted]
    for event in sorted(events, key=lambda e: e.execution_id):
        model = store.artifacts_of(event.execution_id, kind="INPUT").get("model") or []
        if model:
            return model[0].id
    return None
