"""TFX's proto round trip (``tfx.utils.proto_utils``) for beampipe's config dataclasses and real protos.

TFX pipelines and module files write configs as JSON (``proto_utils.proto_to_json``, e.g. a
``custom_config``) and read them back (``json_to_proto``), and load text-format files
(``io_utils.parse_pbtxt_file``, e.g. a TFDV Schema or a TFMA EvalConfig). beampipe's
``tfx.proto`` classes are dataclasses, so these functions accept both:

- a real protobuf message (TFDV, TFMA, tf.Example, ...): protobuf's ``json_format`` /
  ``text_format`` do the work, with TFX's options;
- a beampipe config dataclass (``beampipe.proto.TrainArgs``, ``ExampleDiffConfig``, ...):
  the same JSON as ``json_format`` would write for the TFX proto of that name, in TFX's form:
  snake_case field names (``preserving_proto_field_name=True``), keys sorted, indent 2,
  fields at their default left out. Reading accepts snake_case and camelCase and ignores
  unknown fields, as TFX's ``json_to_proto`` does.

One difference: ``json_format`` writes 64-bit integers as JSON strings; a dataclass field
does not say its width, so integers are written as numbers (both forms are read back).
"""
from __future__ import annotations

import dataclasses
import json
import re
import types
import typing
from typing import Any, Mapping, Sequence, TypeVar, Union

T = TypeVar("T")

JsonableType = Union[None, bool, int, float, str, Sequence[Any], Mapping[str, Any]]
"""What TFX's ``json_utils`` turns into JSON (``tfx.utils.JsonableType``): JSON values,
lists and dicts of them (and, through ``proto_to_json``, config messages)."""


def _is_message(value: Any) -> bool:
    """A real protobuf message (instance), without importing protobuf for dataclasses."""
    return hasattr(value, "DESCRIPTOR") and hasattr(value, "SerializeToString")


def _is_config(value: Any) -> bool:
    return dataclasses.is_dataclass(value) and not isinstance(value, type)


def proto_to_dict(message: Any, preserving_proto_field_name: bool = True) -> dict[str, Any]:
    """A message or config dataclass as a JSON-able dict (fields at their default left out)."""
    if _is_message(message):
        from google.protobuf import json_format
        return json_format.MessageToDict(message, preserving_proto_field_name=preserving_proto_field_name)
    if not _is_config(message):
        raise TypeError(f"proto_to_dict takes a protobuf message or a beampipe config dataclass, "
                        f"not {type(message).__name__}")
    out: dict[str, Any] = {}
    for f in dataclasses.fields(message):
        value = getattr(message, f.name)
        if value is None or value == _default(f):
            continue
        key = f.name if preserving_proto_field_name else _camel(f.name)
        out[key] = _to_json(value, preserving_proto_field_name)
    return out


def _to_json(value: Any, snake: bool) -> Any:
    if _is_config(value) or _is_message(value):
        return proto_to_dict(value, snake)
    if isinstance(value, (list, tuple)):
        return [_to_json(v, snake) for v in value]
    if isinstance(value, dict):
        return {str(k): _to_json(v, snake) for k, v in value.items()}
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    raise TypeError(f"{type(value).__name__} {value!r} has no JSON form (a RuntimeParameter is resolved "
                    "only when the pipeline runs)")


def proto_to_json(message: Any, preserving_proto_field_name: bool = True) -> str:
    """JSON text as TFX's ``proto_utils.proto_to_json`` writes it (sorted keys, indent 2)."""
    if _is_message(message):
        from google.protobuf import json_format
        return json_format.MessageToJson(message, sort_keys=True,
                                         preserving_proto_field_name=preserving_proto_field_name)
    return json.dumps(proto_to_dict(message, preserving_proto_field_name), indent=2, sort_keys=True)


def dict_to_proto(value: Mapping[str, Any], message: T | type[T]) -> T:
    """Fill ``message`` (an instance, merged into and returned, or a class) from a dict."""
    if isinstance(message, type):
        message = message()  # type: ignore[assignment]
    if _is_message(message):
        from google.protobuf import json_format
        return json_format.ParseDict(dict(value), message, ignore_unknown_fields=True)  # type: ignore[return-value]
    if not _is_config(message):
        raise TypeError(f"dict_to_proto fills a protobuf message or a beampipe config dataclass, "
                        f"not {type(message).__name__}")
    for name, item in _typed_fields(type(message), value, strict=False).items():
        setattr(message, name, item)
    return message  # type: ignore[return-value]


def json_to_proto(json_str: str, message: T | type[T]) -> T:
    """Parse JSON (snake_case or camelCase keys; unknown keys ignored) into ``message``."""
    return dict_to_proto(json.loads(json_str), message)


def parse_pbtxt_file(file_name: str, message: T | type[T]) -> T:
    """Parse a text-format proto file (local, ``s3://`` or ``gs://``) into ``message`` and return it.

    ``message`` is a protobuf message (``schema_pb2.Schema()``, ``tfma.EvalConfig()``) as in
    TFX, or a beampipe config dataclass (instance or class). Unknown fields are an error,
    as with protobuf's ``text_format``.
    """
    from beampipe.io import fileio
    with fileio.open(file_name, "r") as f:
        text = f.read()
    return parse_pbtxt(text, message)


def parse_pbtxt(text: str, message: T | type[T]) -> T:
    """``parse_pbtxt_file`` on text in memory."""
    if isinstance(message, type):
        message = message()  # type: ignore[assignment]
    if _is_message(message):
        from google.protobuf import text_format
        return text_format.Parse(text, message)  # type: ignore[return-value]
    from beampipe.proto import pbtxt
    for name, item in _typed_fields(type(message), pbtxt.parse(text), strict=True).items():
        setattr(message, name, item)
    return message  # type: ignore[return-value]


def _typed_fields(cls: type, value: Mapping[str, Any], strict: bool) -> dict[str, Any]:
    """Field name -> value typed by the dataclass's annotations (nested configs rebuilt)."""
    hints = typing.get_type_hints(cls)
    names = {f.name for f in dataclasses.fields(cls)}
    out: dict[str, Any] = {}
    for key, item in value.items():
        name = key if key in names else _snake(key)
        if name not in names:
            if strict:
                raise ValueError(f"{cls.__qualname__} has no field {key!r}; fields are {sorted(names)}")
            continue
        out[name] = _typed(hints.get(name, Any), item, f"{cls.__qualname__}.{name}", strict)
    return out


def _typed(hint: Any, item: Any, where: str, strict: bool) -> Any:
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    if origin in (Union, types.UnionType):
        options = [a for a in args if a is not type(None)]
        return None if item is None else _typed(options[0] if len(options) == 1 else Any, item, where, strict)
    if origin in (list, Sequence, tuple):
        inner = args[0] if args else Any
        items = item if isinstance(item, list) else [item]  # pbtxt: one value of a repeated field
        return [_typed(inner, v, where, strict) for v in items]
    if isinstance(hint, type) and dataclasses.is_dataclass(hint) and isinstance(item, Mapping):
        return hint(**_typed_fields(hint, item, strict))
    if isinstance(item, list) and hint is not Any and origin is None:
        raise ValueError(f"{where} is not repeated but is given more than once")  # as text_format.Parse
    if hint is bool and isinstance(item, str):
        return item.lower() == "true"
    if hint in (int, float) and isinstance(item, (str, int, float)) and not isinstance(item, bool):
        try:
            return hint(item)
        except ValueError:
            raise ValueError(f"{where}: {item!r} is not a number") from None
    return item


def _default(f: dataclasses.Field) -> Any:  # type: ignore[type-arg]
    if f.default is not dataclasses.MISSING:
        return f.default
    if f.default_factory is not dataclasses.MISSING:
        return f.default_factory()
    return dataclasses.MISSING


def _camel(name: str) -> str:
    head, *rest = name.split("_")
    return head + "".join(p[:1].upper() + p[1:] for p in rest)


def _snake(name: str) -> str:
    return re.sub(r"(?<!^)([A-Z])", r"_\1", name).lower()
