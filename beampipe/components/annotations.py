"""The type annotations ``@component`` reads, spelled as TFX spells them.

``InputArtifact[T]`` (or ``InputArtifact[List[T]]``), ``OutputArtifact[T]``, ``Parameter[T]``,
``BeamComponentParameter[beam.Pipeline]``, ``OutputDict(name=type, ...)`` and
``AsyncOutputArtifact``. Each ``X[T]`` is an instance holding ``.type``, checked when written,
so a wrong annotation fails where the user wrote it.
"""
from __future__ import annotations

import inspect
import types
import typing
from typing import Any, Generic, TypeVar, Union, get_args, get_origin

from beampipe.components.base import WiringError
from beampipe.metadata.artifacts import Artifact

T = TypeVar("T")
PRIMITIVES = (int, float, str, bool)


def is_artifact_type(tp: Any) -> bool:
    return inspect.isclass(tp) and issubclass(tp, Artifact) and bool(getattr(tp, "TYPE_NAME", ""))


def is_json_type(tp: Any) -> bool:
    """TFX's JSON-compatible annotations: dict / list (``Dict[str, X]``, ``List[X]``), Any,
    primitives, and unions (``Optional``) of those."""
    if tp in (*PRIMITIVES, dict, list, typing.Any, type(None)):
        return True
    origin, args = get_origin(tp), get_args(tp)
    if origin is dict:
        return not args or (args[0] is str and is_json_type(args[1]))
    if origin is list:
        return not args or is_json_type(args[0])
    if origin in (Union, types.UnionType):
        return all(is_json_type(a) for a in args)
    return False


class _GenericMeta(type):
    def __getitem__(cls, params: Any) -> Any:
        return cls._generic_getitem(params)  # type: ignore[attr-defined]


class _Annotation(metaclass=_GenericMeta):
    """``X[T]``: an instance of X that remembers T."""

    def __init__(self, type_: Any, _init_via_getitem: bool = False) -> None:
        if not _init_via_getitem:
            name = type(self).__name__
            raise ValueError(f"{name} is written {name}[T] in an annotation, not called")
        self.type = type_

    @classmethod
    def _generic_getitem(cls, params: Any) -> "_Annotation":
        return cls(params, _init_via_getitem=True)

    def __repr__(self) -> str:
        return f"{type(self).__name__}[{getattr(self.type, '__name__', self.type)}]"


class InputArtifact(_Annotation):
    """An input artifact: ``InputArtifact[Examples]``, or ``InputArtifact[List[Examples]]`` for
    every artifact of the channel. Optional with a default of ``None``."""

    @classmethod
    def _generic_getitem(cls, params: Any) -> "_Annotation":
        inner = get_args(params)[0] if get_origin(params) is list and len(get_args(params)) == 1 else params
        if not is_artifact_type(inner):
            raise ValueError(f"InputArtifact[T] needs an artifact type or List of one "
                             f"(a subclass of tfx.dsl.Artifact), got {params!r}")
        return cls(params, _init_via_getitem=True)

    @property
    def is_list(self) -> bool:
        return get_origin(self.type) is list

    @property
    def artifact_type(self) -> type[Artifact]:
        return get_args(self.type)[0] if self.is_list else self.type


class OutputArtifact(_Annotation):
    """An output artifact: the function writes into its ``uri`` (a fresh directory)."""

    @classmethod
    def _generic_getitem(cls, params: Any) -> "_Annotation":
        if not is_artifact_type(params):
            raise ValueError(f"OutputArtifact[T] needs an artifact type (a subclass of tfx.dsl.Artifact), "
                             f"got {params!r}")
        return cls(params, _init_via_getitem=True)


class Parameter(_Annotation):
    """An execution parameter known when the pipeline is built (recorded on the execution):
    ``Parameter[int]``, ``float``, ``str``, ``bool`` or a JSON type (``Dict[str, int]``)."""

    @classmethod
    def _generic_getitem(cls, params: Any) -> "_Annotation":
        if not is_json_type(params):
            raise ValueError(f"Parameter[T] needs int, float, str, bool or a JSON type (Dict[str, T], "
                             f"List[T]), got {params!r}; TFX's proto parameters are not supported here")
        return cls(params, _init_via_getitem=True)


class BeamComponentParameter(_Annotation):
    """``BeamComponentParameter[beam.Pipeline] = None``: with ``@component(use_beam=True)`` the
    function receives a Beam pipeline built from the node's Beam args."""

    @classmethod
    def _generic_getitem(cls, params: Any) -> "_Annotation":
        # Checked by name, so reading the annotation imports no Beam.
        if not (inspect.isclass(params) and params.__name__ == "Pipeline"
                and params.__module__.startswith("apache_beam")):
            raise ValueError(f"BeamComponentParameter[T] needs T = beam.Pipeline, got {params!r}")
        return cls(params, _init_via_getitem=True)


class AsyncOutputArtifact(Generic[T]):
    """TFX's intermediate outputs of asynchronously executing (ASYNC-mode) components.

    ``@component`` refuses it: beampipe runs pipelines synchronously only, so a node's outputs
    are published once, when its execution finishes (MLMD is that commit point)."""


class OutputDict:
    """Return annotation ``-> OutputDict(accuracy=float, name=str)``: the function returns a dict
    whose values become value artifacts (Float, String, ...). A ``TypedDict`` says the same."""

    def __init__(self, **kwargs: Any) -> None:
        self.kwargs = kwargs

    def __repr__(self) -> str:
        fields = ", ".join(f"{k}={getattr(v, '__name__', v)}" for k, v in self.kwargs.items())
        return f"OutputDict({fields})"


def check_not_async(name: str, hint: Any) -> None:
    if hint is AsyncOutputArtifact or get_origin(hint) is AsyncOutputArtifact:
        raise WiringError(f"argument {name!r}: AsyncOutputArtifact is not supported: beampipe runs "
                          "pipelines synchronously (ExecutionMode.SYNC), and an output is published "
                          "once, when the execution finishes; use OutputArtifact[T]")
