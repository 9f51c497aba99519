"""Conditional nodes: run a node only if a predicate over upstream artifacts holds.

TFX's spelling works unchanged:

    with Cond(evaluator.outputs['blessing'].future()[0].custom_property('blessed') == 1):
        pusher = Pusher(...)

A node whose condition is false is recorded as skipped (CANCELED, with the
reason), never as failed; nodes that read its outputs are skipped too.
"""
from __future__ import annotations

import operator
from typing import Any, Callable

from beampipe.components.base import Channel
from beampipe.metadata.value_artifacts import ValueArtifact

_OPS: dict[str, Callable[[Any, Any], bool]] = {
    "==": operator.eq, "!=": operator.ne, "<": operator.lt,
    "<=": operator.le, ">": operator.gt, ">=": operator.ge,
}
_ACTIVE: list["Predicate"] = []


class ArtifactProperty:
    """One property of the index-th artifact of a channel, to compare with a value (or, with
    ``stored_value``, a value artifact's own value: TFX's ``future().value``)."""

    def __init__(self, channel: Channel, index: int, name: str, custom: bool,
                 stored_value: bool = False) -> None:
        self.channel, self.index, self.name, self.custom = channel, index, name, custom
        self.stored_value = stored_value

    def _cmp(self, op: str, value: Any) -> "Predicate":
        return Predicate(self, op, value)

    def __eq__(self, value: Any) -> "Predicate":  # type: ignore[override]
        return self._cmp("==", value)

    def __ne__(self, value: Any) -> "Predicate":  # type: ignore[override]
        return self._cmp("!=", value)

    def __lt__(self, value: Any) -> "Predicate":
        return self._cmp("<", value)

    def __le__(self, value: Any) -> "Predicate":
        return self._cmp("<=", value)

    def __gt__(self, value: Any) -> "Predicate":
        return self._cmp(">", value)

    def __ge__(self, value: Any) -> "Predicate":
        return self._cmp(">=", value)

    __hash__ = None  # type: ignore[assignment]

    def to_placeholder(self) -> dict[str, Any]:
        """As a component parameter (TFX's ``range_config=gen.outputs['x'].future()[0].value``):
        the launcher reads the value from MLMD when the node runs (``read_placeholder``)."""
        if self.channel.producer is None:
            raise TypeError(f"{self.channel.describe()} has no producer node to read a value from")
        return {"__artifact_value__": {"producer": self.channel.producer.id, "output_key": self.channel.output_key,
                                    "index": self.index, "property": self.name, "custom": self.custom,
                                    "stored_value": self.stored_value}}


class _ArtifactRef:
    def __init__(self, channel: Channel, index: int) -> None:
        self.channel, self.index = channel, index

    @property
    def value(self) -> ArtifactProperty:
        """A value artifact's value (Integer, Float, String, Boolean, ...), read at run time."""
        return _value_of(self.channel, self.index)

    def custom_property(self, name: str) -> ArtifactProperty:
        return ArtifactProperty(self.channel, self.index, name, custom=True)

    def property(self, name: str) -> ArtifactProperty:
        return ArtifactProperty(self.channel, self.index, name, custom=False)


class ChannelFuture:
    """``channel.future()``: the channel's artifacts, known only at run time."""

    def __init__(self, channel: Channel) -> None:
        self.channel = channel

    def __getitem__(self, index: int) -> _ArtifactRef:
        return _ArtifactRef(self.channel, index)

    @property
    def value(self) -> ArtifactProperty:
        """``channel.future().value``: the value of the channel's (first) value artifact."""
        return _value_of(self.channel, 0)


def _value_of(channel: Channel, index: int) -> ArtifactProperty:
    if not issubclass(channel.type, ValueArtifact):
        raise TypeError(f".value needs a channel of a value artifact (Integer, Float, String, Boolean, "
                        f"Bytes, JsonValue), not {channel.describe()}")
    return ArtifactProperty(channel, index, "value", custom=False, stored_value=True)


class Predicate:
    """A comparison (or several joined with &) over upstream artifact properties."""

    def __init__(self, left: ArtifactProperty | None, op: str, value: Any,
                 parts: list["Predicate"] | None = None) -> None:
        self.left, self.op, self.value = left, op, value
        self.parts = parts or []

    def __and__(self, other: "Predicate") -> "Predicate":
        return Predicate(None, "and", None, [self, other])

    def channels(self) -> list[Channel]:
        if self.op == "and":
            return [c for p in self.parts for c in p.channels()]
        assert self.left is not None
        return [self.left.channel]

    def to_ir(self) -> dict[str, Any]:
        if self.op == "and":
            return {"and": [p.to_ir() for p in self.parts]}
        left = self.left
        assert left is not None
        return {"producer": left.channel.producer.id if left.channel.producer else None,
                "output_key": left.channel.output_key, "index": left.index,
                "property": left.name, "custom": left.custom, "op": self.op, "value": self.value,
                **({"stored_value": True} if left.stored_value else {})}


class Cond:
    """Context manager: nodes built inside run only when the predicate holds."""

    def __init__(self, predicate: Predicate) -> None:
        if not isinstance(predicate, Predicate):
            raise TypeError("Cond needs a predicate such as "
                            "channel.future()[0].custom_property('blessed') == 1")
        self.predicate = predicate

    def __enter__(self) -> "Cond":
        _ACTIVE.append(self.predicate)
        return self

    def __exit__(self, *exc: Any) -> None:
        _ACTIVE.pop()


def active_condition() -> Predicate | None:
    """The conjunction of the Cond blocks being built, if any."""
    if not _ACTIVE:
        return None
    combined = _ACTIVE[0]
    for pred in _ACTIVE[1:]:
        combined = combined & pred
    return combined


def read_placeholder(spec: dict[str, Any], outputs_of: Callable[[str, str], list[Any]]) -> Any:
    """The property (or stored value) a placeholder or condition names; None when absent."""
    arts = outputs_of(spec["producer"], spec["output_key"])
    if len(arts) <= spec["index"]:
        return None
    art = arts[spec["index"]]
    if spec.get("stored_value"):
        return art.read()  # the value artifact's file, through the storage layer
    return (art.custom_properties if spec["custom"] else art.properties).get(spec["property"])


def evaluate(cond: dict[str, Any], outputs_of: Callable[[str, str], list[Any]]) -> bool:
    """Evaluate a condition's IR; outputs_of(producer, output_key) gives the artifacts."""
    if "and" in cond:
        return all(evaluate(part, outputs_of) for part in cond["and"])
    value = read_placeholder(cond, outputs_of)
    if value is None:
        return False
    try:
        return bool(_OPS[cond["op"]](value, cond["value"]))
    except TypeError:
        return False
