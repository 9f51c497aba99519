"""TFX's placeholders (``tfx.dsl.placeholders``): values a container component's command
line names at authoring time and the launcher fills in at run time.

    command=["python3", "train.py", "--data", ph.input("examples")[0].uri,
             "--out", ph.output("model")[0].uri + "/model", "--steps", ph.exec_property("steps")]

A placeholder is a small expression tree. It travels in the IR as JSON (``encode``), so a
compiled pipeline carries the command as written, and it is rendered (``render``) inside the
node's task, against the artifacts the launcher resolved and the staging URIs it allocated.
Supported, as TFX 1.16 spells them: ``input(key)`` / ``output(key)`` with ``[i]``, ``.uri``,
``.split_uri(split)``, ``.value`` (inputs), ``.property(k)``, ``.custom_property(k)``;
``exec_property(key)`` with field access on structured values (``.field`` / ``["field"]``);
``execution_invocation()``; ``+`` with strings and other placeholders; ``.b64encode()``;
``.serialize(ProtoSerializationFormat.JSON)``. Comparisons (TFX's predicates) are not.
"""
from __future__ import annotations

import base64
import enum
import json
from dataclasses import dataclass, field
from typing import Any, Callable, Union

from beampipe.metadata import layout

MARKER = "__placeholder__"


class ProtoSerializationFormat(enum.Enum):
    """How a structured value renders; beampipe's values are JSON, so JSON is what renders."""

    JSON = "json"
    TEXT_FORMAT = "text_format"


class Placeholder:
    """A node of the expression tree; subclasses say how to encode and render themselves."""

    def __add__(self, other: Union[str, "Placeholder"]) -> "Placeholder":
        return _Concat([self, other])

    def __radd__(self, other: str) -> "Placeholder":
        return _Concat([other, self])

    def b64encode(self, url_safe: bool = True) -> "Placeholder":
        return _Op("b64encode", self, {"url_safe": url_safe})

    def serialize(self, serialization_format: ProtoSerializationFormat) -> "Placeholder":
        if serialization_format is not ProtoSerializationFormat.JSON:
            raise ValueError("beampipe renders structured values as JSON only: use "
                             "serialize(ProtoSerializationFormat.JSON)")
        return _Op("json", self, {})

    def __iter__(self) -> Any:
        raise TypeError("a placeholder is not iterable; it has a value only at run time")

    def __str__(self) -> str:
        raise TypeError("a placeholder has no value before the node runs: put it in the command "
                        "list as it is (or join with +), not inside an f-string or str()")

    def encode(self) -> dict[str, Any]:
        raise NotImplementedError

    def __repr__(self) -> str:
        return f"Placeholder({json.dumps(self.encode())})"


@dataclass(frozen=True, eq=False)
class _Root(Placeholder):
    kind: str  # input, output, exec_property, execution_invocation
    key: str = ""

    def encode(self) -> dict[str, Any]:
        return {MARKER: {"op": self.kind, "key": self.key}}


@dataclass(frozen=True, eq=False)
class _Op(Placeholder):
    op: str
    inner: Placeholder
    args: dict[str, Any] = field(default_factory=dict)

    def encode(self) -> dict[str, Any]:
        return {MARKER: {"op": self.op, "of": self.inner.encode(), **self.args}}


@dataclass(frozen=True, eq=False)
class _Concat(Placeholder):
    items: list[Union[str, Placeholder]]

    def __add__(self, other: Union[str, Placeholder]) -> Placeholder:
        return _Concat([*self.items, other])

    def __radd__(self, other: str) -> Placeholder:
        return _Concat([other, *self.items])

    def encode(self) -> dict[str, Any]:
        return {MARKER: {"op": "concat", "items": [encode(i) for i in self.items]}}


class ArtifactPlaceholder(_Root):
    """``input(key)`` / ``output(key)``; without ``[i]`` it means the first artifact."""

    def __getitem__(self, index: int) -> "_Indexed":
        if not isinstance(index, int):
            raise TypeError(f"{self.kind}({self.key!r})[...] takes an artifact index, got {index!r}")
        return _Indexed("index", self, {"index": index})

    @property
    def uri(self) -> Placeholder:
        return self[0].uri

    def split_uri(self, split: str) -> Placeholder:
        return self[0].split_uri(split)

    @property
    def value(self) -> Placeholder:
        return self[0].value

    def property(self, key: str) -> Placeholder:
        return self[0].property(key)

    def custom_property(self, key: str) -> Placeholder:
        return self[0].custom_property(key)


class _Indexed(_Op):
    """One artifact of an input or output key."""

    @property
    def uri(self) -> Placeholder:
        return _Op("uri", self)

    def split_uri(self, split: str) -> Placeholder:
        return _Op("uri", self, {"split": split})

    @property
    def value(self) -> Placeholder:
        if isinstance(self.inner, _Root) and self.inner.kind == "output":
            raise ValueError("Calling ph.output(..).value is not supported.")  # TFX's own message
        return _Op("value", self)

    def property(self, key: str) -> Placeholder:
        return _Op("property", self, {"key": key})

    def custom_property(self, key: str) -> Placeholder:
        return _Op("property", self, {"key": key, "custom": True})


class _FieldAccess:
    """``.name`` and ``[key]`` on a JSON value read a field, as on a proto."""

    def __getattr__(self, name: str) -> Placeholder:
        if name.startswith("_"):
            raise AttributeError(name)
        return _Field("field", self, {"name": name})

    def __getitem__(self, name: Union[str, int]) -> Placeholder:
        return _Field("field", self, {"name": name})


class _Structured(_FieldAccess, _Root):
    """``exec_property(key)`` and ``execution_invocation()``: JSON values whose fields read like
    a proto's (``.train_args.num_steps``)."""


class _Field(_FieldAccess, _Op):
    pass


def input(key: str) -> ArtifactPlaceholder:  # noqa: A001 - TFX's name
    """The input artifacts under ``key``."""
    return ArtifactPlaceholder("input", key)


def output(key: str) -> ArtifactPlaceholder:
    """The output artifacts under ``key`` (their URIs are the attempt's staging directories)."""
    return ArtifactPlaceholder("output", key)


def exec_property(key: str) -> Placeholder:
    """The node's execution property ``key`` (a parameter), after runtime parameters."""
    return _Structured("exec_property", key)


def execution_invocation() -> Placeholder:
    """Everything the executor gets, as JSON with the field names of TFX's ExecutionInvocation
    proto: ``execution_properties``, ``input_dict``, ``output_dict``, ``tmp_dir``,
    ``pipeline_info``, ``pipeline_node``, ``pipeline_run_id``."""
    return _Structured("execution_invocation")


# -- encoding and rendering ---------------------------------------------------------------

def encode(value: Any) -> Any:
    """A command element as JSON: strings stay strings, placeholders become ``{MARKER: ...}``."""
    if isinstance(value, Placeholder):
        return value.encode()
    if isinstance(value, (str, int, float)) and not isinstance(value, bool):
        return str(value)
    raise TypeError(f"a command element must be a string or a placeholder, got {value!r}")


def is_encoded(value: Any) -> bool:
    return isinstance(value, dict) and set(value) == {MARKER}


def keys_used(value: Any) -> set[tuple[str, str]]:
    """(kind, key) of every input/output/exec_property an encoded element names."""
    if not is_encoded(value):
        return set()
    node = value[MARKER]
    found = {(node["op"], node["key"])} if node["op"] in ("input", "output", "exec_property") else set()
    for child in [node.get("of"), *node.get("items", [])]:
        found |= keys_used(child)
    return found


@dataclass
class Invocation:
    """What a placeholder renders against: the executor's view of one execution."""

    inputs: dict[str, list[Any]]
    outputs: dict[str, list[Any]]
    exec_properties: dict[str, Any]
    read_value: Callable[[Any], Any]  # an input value artifact -> its value
    extra: dict[str, Any] = field(default_factory=dict)  # tmp_dir, pipeline_info, run id ...


def render(element: Any, inv: Invocation) -> str:
    """One command-line argument. Raises ValueError naming the placeholder when it cannot."""
    value = _eval(element, inv)
    return _to_text(value)


def _to_text(value: Any) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return str(value)
    if value is None:
        raise ValueError("it has no value (an optional input or parameter that is not set)")
    if hasattr(value, "uri"):
        raise ValueError("it names a whole artifact: use .uri, .value or .property(...)")
    return json.dumps(value, sort_keys=True)


def _eval(element: Any, inv: Invocation) -> Any:
    if not is_encoded(element):
        return element
    node = element[MARKER]
    op = node["op"]
    if op in ("input", "output"):
        group = inv.inputs if op == "input" else inv.outputs
        if node["key"] not in group:
            raise ValueError(f"the node has no {op} {node['key']!r}")
        return group[node["key"]]
    if op == "exec_property":
        return inv.exec_properties.get(node["key"])
    if op == "execution_invocation":
        return _invocation_json(inv)
    if op == "concat":
        return "".join(_to_text(_eval(i, inv)) for i in node["items"])
    inner = _eval(node["of"], inv)
    if op == "index":
        if not inner or node["index"] >= len(inner):
            raise ValueError(f"no artifact at index {node['index']}")
        return inner[node["index"]]
    if op == "uri":
        return layout.split_uri(inner.uri, node["split"]) if node.get("split") else inner.uri
    if op == "value":
        return inv.read_value(inner)
    if op == "property":
        props = inner.custom_properties if node.get("custom") else getattr(inner, "properties", {})
        if node["key"] not in props:
            raise ValueError(f"the artifact has no {'custom ' if node.get('custom') else ''}property "
                             f"{node['key']!r}")
        return props[node["key"]]
    if op == "field":
        return _field(inner, node["name"])
    if op == "json":
        return json.dumps(inner, sort_keys=True)
    if op == "b64encode":
        raw = _to_text(inner).encode()
        return (base64.urlsafe_b64encode if node.get("url_safe", True) else base64.b64encode)(raw).decode()
    raise ValueError(f"unknown placeholder operator {op!r} (compiled by a newer beampipe?)")


def _field(value: Any, name: Union[str, int]) -> Any:
    if isinstance(value, dict) and name in value:
        return value[name]
    if isinstance(value, list) and isinstance(name, int) and -len(value) <= name < len(value):
        return value[name]
    raise ValueError(f"the value has no field {name!r}")


def _invocation_json(inv: Invocation) -> dict[str, Any]:
    def arts(group: dict[str, list[Any]]) -> dict[str, Any]:
        return {key: {"artifacts": [{"uri": a.uri, "type": type(a).TYPE_NAME,
                                     "custom_properties": dict(a.custom_properties)} for a in items]}
                for key, items in group.items()}

    return {"execution_properties": inv.exec_properties, "input_dict": arts(inv.inputs),
            "output_dict": arts(inv.outputs), **inv.extra}


def describe(element: Any) -> str:
    """A placeholder as the user wrote it, for error messages."""
    if not is_encoded(element):
        return repr(element)
    node = element[MARKER]
    op = node["op"]
    if op in ("input", "output", "exec_property"):
        return f"{op}({node['key']!r})"
    if op == "execution_invocation":
        return "execution_invocation()"
    if op == "concat":
        return " + ".join(describe(i) for i in node["items"])
    inner = describe(node["of"])
    return {"index": f"{inner}[{node.get('index')}]", "uri": f"{inner}.uri", "value": f"{inner}.value",
            "property": f"{inner}.property({node.get('key')!r})", "field": f"{inner}.{node.get('name')}",
            "json": f"{inner}.serialize(JSON)", "b64encode": f"{inner}.b64encode()"}.get(op, f"{inner}.{op}")
