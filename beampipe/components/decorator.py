"""``@component``: turn a typed Python function into a component, as TFX 1.16 reads it.

    @component
    def Train(examples: InputArtifact[Examples], model: OutputArtifact[Model],
              dropout: float, steps: Parameter[int] = 10) -> OutputDict(loss=float, accuracy=float):
        ...
        return {"loss": 0.1, "accuracy": 0.9}

- ``InputArtifact[T]`` / ``InputArtifact[List[T]]``: input artifact(s); optional with ``= None``
  (or ``Optional[InputArtifact[T]] = None``).
- ``OutputArtifact[T]``: an artifact whose ``uri`` is a fresh directory to write into.
- ``Parameter[T]``: an execution parameter (int, float, str, bool, JSON), recorded in MLMD.
- a bare ``int`` / ``float`` / ``str`` / ``bytes`` / ``bool`` / JSON type (``Dict``, ``List``):
  an *input* value artifact (Integer, Float, String, Bytes, Boolean, JsonValue) whose value
  the function receives; wire it to an upstream node's value output.
- ``BeamComponentParameter[beam.Pipeline] = None`` with ``@component(use_beam=True)``: a Beam
  pipeline built from the node's Beam args, with a named runner, as standard components get.
- return ``OutputDict(k=type, ...)`` or a ``TypedDict``: the returned dict's values become value
  artifact outputs (``Optional[T]`` allows ``None``).
"""
from __future__ import annotations

import functools
import inspect
import json
import typing
from typing import Any, Callable, Union, get_args, get_origin

from beampipe.components.annotations import (AsyncOutputArtifact, BeamComponentParameter, InputArtifact,
                                             OutputArtifact, OutputDict, Parameter, check_not_async,
                                             is_artifact_type, is_json_type)
from beampipe.components.base import Channel, ExecContext, In, Out, Param, WiringError
from beampipe.components.node_types import BaseBeamComponent, BaseFunctionalComponent
from beampipe.metadata.value_artifacts import PRIMITIVE_TYPES, JsonValue, ValueArtifact

__all__ = ["AsyncOutputArtifact", "BeamComponentParameter", "FunctionComponent", "InputArtifact",
           "OutputArtifact", "OutputDict", "Parameter", "component"]

# How each argument reaches the function (TFX's ArgFormats).
INPUT, LIST_INPUT, OUTPUT, VALUE, PARAMETER, BEAM = "input", "list_input", "output", "value", "parameter", "beam"
_NO_DEFAULT = inspect.Parameter.empty


class FunctionComponent(BaseFunctionalComponent):
    """A component whose executor is a plain function; made by ``@component``."""

    FUNCTION: Callable[..., Any]
    ARG_FORMATS: dict[str, str] = {}
    ARG_DEFAULTS: dict[str, Any] = {}
    RETURNED: dict[str, bool] = {}  # returned value outputs -> may be None
    TYPE_ANNOTATION: Any = None

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        if args:
            raise WiringError(f"{type(self).__name__} takes keyword arguments only")
        inputs = {k: v for k, v in kwargs.items() if k in self.INPUTS}
        for key, value in inputs.items():
            if value is not None and not isinstance(value, Channel):
                kind = self.INPUTS[key].type.TYPE_NAME
                raise WiringError(f"{type(self).__name__}: input {key!r} takes a channel of {kind} "
                                  f"(another node's output), got {value!r}; a constant goes in a "
                                  "Parameter[T] argument")
        params = {k: v for k, v in kwargs.items() if k not in self.INPUTS}
        super().__init__(inputs, params)

    @classmethod
    def execute(cls, ctx: ExecContext) -> None:
        result = cls.FUNCTION(**cls._arguments(ctx))
        cls._assign_returned(ctx, result)

    @classmethod
    def _arguments(cls, ctx: ExecContext) -> dict[str, Any]:
        kwargs: dict[str, Any] = {}
        for name, fmt in cls.ARG_FORMATS.items():
            if fmt == LIST_INPUT:
                kwargs[name] = list(ctx.inputs.get(name) or [])
            elif fmt in (INPUT, VALUE):
                arts = ctx.inputs.get(name) or []
                if len(arts) > 1:
                    raise ValueError(f"{cls.__name__}: input {name!r} expects one artifact, got {len(arts)}; "
                                     f"annotate it InputArtifact[List[T]] to receive them all")
                if arts:
                    kwargs[name] = arts[0].read() if fmt == VALUE else arts[0]
                elif name not in cls.ARG_DEFAULTS:
                    raise ValueError(f"{cls.__name__}: required input {name!r} has no artifact")
            elif fmt == OUTPUT:
                kwargs[name] = ctx.output(name)
            elif fmt == PARAMETER:
                if name in ctx.exec_properties:
                    kwargs[name] = ctx.exec_properties[name]
                elif name not in cls.ARG_DEFAULTS:
                    raise ValueError(f"{cls.__name__}: parameter {name!r} was not given")
            elif fmt == BEAM:
                kwargs[name] = ctx.beam_pipeline() if issubclass(cls, BaseBeamComponent) else None
        return kwargs

    @classmethod
    def _assign_returned(cls, ctx: ExecContext, result: Any) -> None:
        """Write the returned values into their value artifacts (TFX's _assign_returned_values)."""
        if result is None:
            result = {}
        if not isinstance(result, dict):
            raise ValueError(f"{cls.__name__} must return a dict of its declared outputs "
                             f"{sorted(cls.RETURNED)} (or None), got {type(result).__name__}")
        for name, nullable in cls.RETURNED.items():
            if name not in result:
                raise ValueError(f"{cls.__name__} did not return output {name!r}")
            if result[name] is None and not nullable:
                raise ValueError(f"{cls.__name__} returned None for output {name!r}, which is not Optional")
            artifact = ctx.output(name)
            try:
                if isinstance(artifact, JsonValue):
                    json.dumps(result[name])
                artifact.value = result[name]
            except TypeError as err:
                raise TypeError(f"{cls.__name__}: returned {name}={result[name]!r} does not fit "
                                f"output type {artifact.TYPE_NAME}: {err}") from err
        extra = sorted(set(result) - set(cls.RETURNED))
        if extra:
            ctx.log.warning("%s returned keys %s that are no declared output; they are dropped",
                            cls.__name__, extra)


def component(func: Callable[..., Any] | None = None, /, *, component_annotation: Any = None,
              use_beam: bool = False) -> Any:
    """TFX's decorator: ``@component``, ``@component(use_beam=True)``,
    ``@component(component_annotation=...)``. Returns a component class named after the
    function (a ``BaseFunctionalComponent``; also usable as a factory with ``test_call``)."""
    if func is None:
        return functools.partial(component, component_annotation=component_annotation, use_beam=use_beam)
    if not inspect.isfunction(func):
        raise WiringError(f"@component needs a typed Python function, got {func!r}")
    if component_annotation is not None and not inspect.isclass(component_annotation):
        raise WiringError(f"@component {func.__qualname__}: component_annotation must be a class "
                          f"(TFX's standard annotations), got {component_annotation!r}")
    spec = _parse(func)
    beams = [n for n, f in spec["formats"].items() if f == BEAM]
    if use_beam and len(beams) != 1:
        raise WiringError(f"@component(use_beam=True) {func.__qualname__}: the function needs exactly one "
                          "argument `name: BeamComponentParameter[beam.Pipeline] = None`")
    bases = (FunctionComponent, BaseBeamComponent) if use_beam else (FunctionComponent,)
    return type(func.__name__, bases, {
        "INPUTS": spec["inputs"], "OUTPUTS": spec["outputs"], "PARAMETERS": spec["params"],
        "ARG_FORMATS": spec["formats"], "ARG_DEFAULTS": spec["defaults"], "RETURNED": spec["returned"],
        "FUNCTION": staticmethod(func), "test_call": staticmethod(func),
        "TYPE_ANNOTATION": component_annotation, "__module__": func.__module__,
        "__qualname__": func.__qualname__, "__doc__": func.__doc__,
    })


def _parse(fn: Callable[..., Any]) -> dict[str, Any]:
    """Inputs, outputs, parameters and argument formats from the annotations (TFX's
    function_parser), with errors that name the function and the argument."""
    where = f"@component {fn.__qualname__}"
    inputs: dict[str, In] = {}
    outputs: dict[str, Out] = {}
    params: dict[str, Param] = {}
    formats: dict[str, str] = {}
    defaults: dict[str, Any] = {}
    for name, p in inspect.signature(fn).parameters.items():
        if p.kind in (p.VAR_POSITIONAL, p.VAR_KEYWORD):
            raise WiringError(f"{where}: *args and **kwargs are not supported")
        if p.annotation is _NO_DEFAULT:
            raise WiringError(f"{where}: argument {name!r} needs a type annotation")
        hint = _resolve(fn, p.annotation)
        check_not_async(name, hint)
        has_default = p.default is not _NO_DEFAULT
        if has_default:
            defaults[name] = p.default
        hint, optional = _unwrap_optional(hint)
        if isinstance(hint, InputArtifact):
            if has_default and p.default is not None:
                raise WiringError(f"{where}: optional input artifact {name!r} must default to None")
            inputs[name] = In(hint.artifact_type, optional=has_default or optional)
            formats[name] = LIST_INPUT if hint.is_list else INPUT
        elif isinstance(hint, OutputArtifact):
            if has_default:
                raise WiringError(f"{where}: output artifact {name!r} cannot have a default")
            outputs[name] = Out(hint.type)
            formats[name] = OUTPUT
        elif isinstance(hint, Parameter):
            _check_default(where, name, p.default, hint.type)
            params[name] = Param(hint.type, p.default if has_default else None, required=not has_default)
            formats[name] = PARAMETER
        elif isinstance(hint, BeamComponentParameter):
            if has_default and p.default is not None:
                raise WiringError(f"{where}: BeamComponentParameter {name!r} must default to None")
            formats[name] = BEAM
        elif hint in PRIMITIVE_TYPES or is_json_type(hint):
            value_type = PRIMITIVE_TYPES.get(hint, JsonValue)
            _check_default(where, name, p.default, hint)
            inputs[name] = In(value_type, optional=has_default or optional)
            formats[name] = VALUE
        elif is_artifact_type(hint):
            raise WiringError(f"{where}: argument {name!r} is annotated with an artifact type; say "
                              f"InputArtifact[{hint.__name__}] or OutputArtifact[{hint.__name__}]")
        else:
            raise WiringError(f"{where}: argument {name!r} has annotation {hint!r}; use InputArtifact[T], "
                              "OutputArtifact[T], Parameter[T], BeamComponentParameter[beam.Pipeline], "
                              "or int/float/str/bytes/bool/JSON for an input value")
    returned = _returned(fn, where)
    for name, (value_type, _) in returned.items():
        if name in outputs or name in inputs or name in params:
            raise WiringError(f"{where}: returned output {name!r} has the name of an argument")
        outputs[name] = Out(value_type)
    return {"inputs": inputs, "outputs": outputs, "params": params, "formats": formats,
            "defaults": defaults, "returned": {k: nullable for k, (_, nullable) in returned.items()}}


def _returned(fn: Callable[..., Any], where: str) -> dict[str, tuple[type[ValueArtifact], bool]]:
    """Returned value outputs: name -> (value artifact type, may be None)."""
    ret = inspect.signature(fn).return_annotation
    if ret in (_NO_DEFAULT, None, "None"):
        return {}
    ret = _resolve(fn, ret)
    if ret is None or ret is type(None):
        return {}
    if isinstance(ret, OutputDict):
        fields = ret.kwargs
    elif typing.is_typeddict(ret):
        fields = typing.get_type_hints(ret)
    else:
        raise WiringError(f"{where}: the return annotation must be OutputDict(...), a TypedDict or None, "
                          f"got {ret!r}")
    found = {}
    for name, hint in fields.items():
        if isinstance(hint, (OutputArtifact, InputArtifact)) or is_artifact_type(hint):
            raise WiringError(f"{where}: output artifact {name!r} goes in the arguments as "
                              f"`{name}: OutputArtifact[T]`, not in the returned dict")
        inner, nullable = _unwrap_optional(hint)
        if inner in PRIMITIVE_TYPES:
            found[name] = (PRIMITIVE_TYPES[inner], nullable)
        elif is_json_type(hint):
            found[name] = (JsonValue, nullable)
        else:
            raise WiringError(f"{where}: returned output {name!r} has type {hint!r}; use int, float, str, "
                              "bytes, bool or a JSON type (Dict, List)")
    return found


def _unwrap_optional(hint: Any) -> tuple[Any, bool]:
    """``Optional[X]`` -> (X, True); anything else -> (hint, False)."""
    if get_origin(hint) is Union:
        args = [a for a in get_args(hint) if a is not type(None)]
        if len(args) == 1 and len(get_args(hint)) == 2:
            return args[0], True
    return hint, False


def _check_default(where: str, name: str, default: Any, hint: Any) -> None:
    if default is _NO_DEFAULT or default is None or not inspect.isclass(hint):
        return
    if not isinstance(default, hint):
        raise WiringError(f"{where}: default {default!r} of {name!r} is not a {hint.__name__}")


def _resolve(fn: Callable[..., Any], annotation: Any) -> Any:
    """Evaluate a string annotation (``from __future__ import annotations``) in fn's module."""
    if not isinstance(annotation, str):
        return annotation
    names = {"InputArtifact": InputArtifact, "OutputArtifact": OutputArtifact, "Parameter": Parameter,
             "BeamComponentParameter": BeamComponentParameter, "OutputDict": OutputDict,
             "AsyncOutputArtifact": AsyncOutputArtifact, "Optional": typing.Optional, "List": typing.List,
             "Dict": typing.Dict}
    try:
        return eval(annotation, {**names, **fn.__globals__})  # noqa: S307 - the user's own annotation
    except Exception as err:
        raise WiringError(f"@component {fn.__qualname__}: cannot read annotation {annotation!r}: {err}")
