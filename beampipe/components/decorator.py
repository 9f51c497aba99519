"""``@component``: turn a typed Python function into a component.

    @component
    def CountRows(examples: InputArtifact[Examples], report: OutputArtifact[Model],
                  limit: Parameter[int] = 10) -> None: ...

Input artifacts arrive as Artifact objects, output artifacts as Artifact objects
whose ``uri`` is a directory to write into, parameters as plain values. Plain
``int``/``float``/``str``/``bool`` annotations are parameters too.
"""
from __future__ import annotations

import inspect
from typing import Any, Callable

from beampipe.components.base import BaseComponent, ExecContext, In, Out, Param, WiringError
from beampipe.metadata.artifacts import Artifact


class _Marker:
    kind = ""

    def __init__(self, inner: Any) -> None:
        self.inner = inner


class _InputMarker(_Marker):
    kind = "input"


class _OutputMarker(_Marker):
    kind = "output"


class _ParamMarker(_Marker):
    kind = "param"


class InputArtifact:
    def __class_getitem__(cls, item: type[Artifact]) -> _InputMarker:
        return _InputMarker(item)


class OutputArtifact:
    def __class_getitem__(cls, item: type[Artifact]) -> _OutputMarker:
        return _OutputMarker(item)


class Parameter:
    def __class_getitem__(cls, item: type) -> _ParamMarker:
        return _ParamMarker(item)


class FunctionComponent(BaseComponent):
    """A component whose executor is a plain function; made by @component."""

    FUNCTION: Callable[..., Any]

    def __init__(self, **kwargs: Any) -> None:
        inputs = {k: v for k, v in kwargs.items() if k in self.INPUTS}
        params = {k: v for k, v in kwargs.items() if k not in self.INPUTS}
        super().__init__(inputs, params)

    @classmethod
    def execute(cls, ctx: ExecContext) -> None:
        kwargs: dict[str, Any] = {}
        for key, spec in cls.INPUTS.items():
            kwargs[key] = ctx.optional_input(key) if spec.optional else ctx.input(key)
        for key in cls.OUTPUTS:
            kwargs[key] = ctx.output(key)
        for key in cls.PARAMETERS:
            if key in ctx.exec_properties:
                kwargs[key] = ctx.exec_properties[key]
        cls.FUNCTION(**kwargs)


def component(fn: Callable[..., Any]) -> type[FunctionComponent]:
    """Build a component class named after the function, from its annotations."""
    signature = inspect.signature(fn)
    inputs: dict[str, In] = {}
    outputs: dict[str, Out] = {}
    params: dict[str, Param] = {}
    for name, p in signature.parameters.items():
        hint = _resolve(fn, p.annotation)
        has_default = p.default is not inspect.Parameter.empty
        default = p.default if has_default else None
        if isinstance(hint, _InputMarker):
            inputs[name] = In(hint.inner, optional=has_default)
        elif isinstance(hint, _OutputMarker):
            outputs[name] = Out(hint.inner)
        elif isinstance(hint, _ParamMarker) or hint in (int, float, str, bool):
            ptype = hint.inner if isinstance(hint, _ParamMarker) else hint
            params[name] = Param(ptype, default, required=not has_default)
        else:
            raise WiringError(f"@component {fn.__qualname__}: argument {name!r} needs an annotation "
                              "InputArtifact[T], OutputArtifact[T], Parameter[T] or int/float/str/bool")
    return type(fn.__name__, (FunctionComponent,), {
        "INPUTS": inputs, "OUTPUTS": outputs, "PARAMETERS": params,
        "FUNCTION": staticmethod(fn), "__module__": fn.__module__,
        "__qualname__": fn.__qualname__, "__doc__": fn.__doc__,
    })


def _resolve(fn: Callable[..., Any], annotation: Any) -> Any:
    """Evaluate a string annotation (``from __future__ import annotations``) in fn's module."""
    if not isinstance(annotation, str):
        return annotation
    names = {"InputArtifact": InputArtifact, "OutputArtifact": OutputArtifact, "Parameter": Parameter}
    try:
        return eval(annotation, {**names, **fn.__globals__})  # noqa: S307 - the user's own annotation
    except Exception as err:
        raise WiringError(f"@component {fn.__qualname__}: cannot read annotation {annotation!r}: {err}")
