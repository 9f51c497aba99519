"""``ResolverStrategy``: the base class a user subclasses to choose a Resolver's artifacts.

TFX 1.16's contract, kept as is so a TFX strategy ports by changing imports:
``resolve_artifacts(self, store, input_dict) -> Optional[dict[str, list[Artifact]]]``.
The Resolver builds the strategy as ``strategy_class(**config)`` and calls it once per run.

- ``input_dict``: per input key, every LIVE artifact of that channel the pipeline has recorded
  (all runs, oldest first), as beampipe ``Artifact`` objects (``id``, ``uri``, ``span``,
  ``get_int_custom_property(...)`` and the other TFX accessors).
- ``store``: an ``MlmdHandle``, which has every method of ``ml_metadata.MetadataStore``
  (``get_artifacts_by_id``, ``get_events_by_artifact_ids``, ...; MLMD protos in and out). Each
  call goes through beampipe's store lock and retries, which a raw handle would bypass while
  other nodes write. ``store.metadata`` is beampipe's ``MetadataStore``, for its helpers.
- Return the chosen artifacts per key (keep every key). ``None`` means "no inputs available";
  as in TFX 1.16 that fails the Resolver node (an input-resolution error), naming the strategy.
"""
from __future__ import annotations

import abc
import dataclasses
import importlib
import types
import typing
from typing import Any, Callable, Optional

from beampipe.metadata.artifacts import Artifact

InputDict = dict[str, list[Artifact]]


class ResolverStrategy(abc.ABC):
    """Base for Resolver strategies (``tfx.dsl.experimental.ResolverStrategy``)."""

    @abc.abstractmethod
    def resolve_artifacts(self, store: Any, input_dict: InputDict) -> Optional[InputDict]:
        """The resolved artifacts per input key, or None when the inputs are not available."""


class MlmdHandle:
    """``ml_metadata.MetadataStore``'s methods, each called under beampipe's lock with retries."""

    def __init__(self, metadata: Any) -> None:
        self.metadata = metadata  # beampipe.metadata.store.MetadataStore

    def __getattr__(self, name: str) -> Callable[..., Any]:
        if name.startswith("_"):
            raise AttributeError(name)
        mlmd = getattr(self.metadata, "_mlmd", None)
        if mlmd is None or not callable(getattr(mlmd, name, None)):
            raise AttributeError(f"ml_metadata.MetadataStore has no method {name!r}")

        def call(*args: Any, **kwargs: Any) -> Any:
            return self.metadata.call(name, *args, **kwargs)

        return call


# -- config: TFX passes config values (protos included) to the strategy as they were given ----

_MARK = "__dataclass__"


def encode_config(config: dict[str, Any]) -> dict[str, Any]:
    """JSON for the IR; a config dataclass (``RangeConfig``) remembers its class."""
    from beampipe.components.base import to_jsonable

    out: dict[str, Any] = {}
    for key, value in config.items():
        if dataclasses.is_dataclass(value) and not isinstance(value, type):
            cls = type(value)
            out[key] = {_MARK: f"{cls.__module__}:{cls.__qualname__}", "fields": to_jsonable(value)}
        else:
            out[key] = to_jsonable(value)
    return out


def decode_config(config: dict[str, Any]) -> dict[str, Any]:
    """The strategy's keyword arguments, config dataclasses rebuilt."""
    out: dict[str, Any] = {}
    for key, value in (config or {}).items():
        if isinstance(value, dict) and _MARK in value:
            module, _, name = value[_MARK].partition(":")
            obj: Any = importlib.import_module(module)
            for part in name.split("."):
                obj = getattr(obj, part)
            value = from_fields(obj, value["fields"])
        out[key] = value
    return out


def from_fields(cls: type, data: Any) -> Any:
    """Rebuild a (nested) config dataclass from the dict it travelled as."""
    if data is None or isinstance(data, cls) or not isinstance(data, dict):
        return data
    hints = typing.get_type_hints(cls)
    names = {f.name for f in dataclasses.fields(cls)}
    kwargs = {}
    for key, item in data.items():
        if key not in names:
            raise ValueError(f"{cls.__name__}: unknown field {key!r}; fields are {sorted(names)}")
        kwargs[key] = _rebuild(hints.get(key), item)
    return cls(**kwargs)


def _rebuild(hint: Any, item: Any) -> Any:
    union = typing.get_origin(hint) in (typing.Union, types.UnionType)
    candidates = typing.get_args(hint) if union else (hint,)
    for cand in candidates:
        if isinstance(item, dict) and isinstance(cand, type) and dataclasses.is_dataclass(cand):
            return from_fields(cand, item)
        if isinstance(item, list) and typing.get_origin(cand) is list:
            (inner,) = typing.get_args(cand) or (Any,)
            return [_rebuild(inner, v) for v in item]
    return item
