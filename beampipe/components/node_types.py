"""TFX's public base types (``tfx.types.BaseComponent``, ``BaseNode``, ``BaseChannel``,
``BaseBeamComponent``, ``BaseFunctionalComponent``, ``BaseFunctionalComponentFactory``) as the
bases of beampipe's own classes, so a ported file's ``isinstance`` / ``issubclass`` checks
hold for beampipe's components, channels and ``@component`` classes.

beampipe has one node class (every node, Importer and Resolver too, is a ``BaseComponent``),
so ``BaseNode`` is ``BaseComponent`` and ``BaseChannel`` is ``Channel``.
"""
from __future__ import annotations

from abc import ABCMeta
from typing import Any, ClassVar, Protocol, runtime_checkable

from beampipe.components.base import BaseComponent, Channel

BaseNode = BaseComponent
BaseChannel = Channel

# The standard components whose executors run a Beam pipeline (TFX's BaseBeamComponent
# subclasses), by import path so this module imports none of them.
_BEAM_COMPONENTS = frozenset({
    "beampipe.components.example_gen._FileBasedExampleGen",
    "beampipe.components.statistics_gen.StatisticsGen",
    "beampipe.components.transform.Transform",
    "beampipe.components.evaluator.Evaluator",
    "beampipe.components.bulk_inferrer.BulkInferrer",
})


class BaseBeamComponent(BaseComponent, metaclass=ABCMeta):
    """A component whose executor builds a Beam pipeline from the node's Beam args
    (``with_beam_pipeline_args``, the pipeline's ``beam_pipeline_args``)."""

    @classmethod
    def __subclasshook__(cls, other: type) -> Any:
        if cls is not BaseBeamComponent:
            return NotImplemented
        names = {f"{c.__module__}.{c.__qualname__}" for c in getattr(other, "__mro__", ())}
        return True if names & _BEAM_COMPONENTS else NotImplemented


class BaseFunctionalComponent(BaseComponent):
    """Base of the classes ``@component`` makes."""

    platform_classlevel_extensions: ClassVar[Any] = None


@runtime_checkable
class BaseFunctionalComponentFactory(Protocol):
    """What ``@component`` returns: called like a component's constructor, and with
    ``test_call`` to run the function directly in a unit test."""

    def __call__(self, *args: Any, **kwargs: Any) -> BaseFunctionalComponent:
        ...

    def test_call(self, *args: Any, **kwargs: Any) -> Any:
        ...
