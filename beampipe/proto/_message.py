"""What beampipe's config dataclasses share with protobuf messages: oneofs, enums, dict round trip.

TFX code asks its protos ``spec.WhichOneof('serving_platform')`` and ``HasField(...)``, and
uses enums as ``Versioning.AUTO`` / ``Versioning.Name(0)``; these helpers give the plain
dataclasses the same spelling. ``from_dict`` rebuilds a config from the JSON dict it travelled
as in the IR, recursively, from the dataclass's own type hints.
"""
from __future__ import annotations

import dataclasses
import enum
import sys
import types
import typing
from typing import Any, ClassVar


class Message:
    """Mixin: protobuf-style oneof checks for a config dataclass.

    ``_ONEOFS`` maps a oneof's name to its member fields. Naming two members of one oneof is
    refused (protobuf would silently keep the last one set, hiding the mistake)."""

    _ONEOFS: ClassVar[dict[str, tuple[str, ...]]] = {}

    def __post_init__(self) -> None:
        for group in self._ONEOFS:
            self.WhichOneof(group)

    def WhichOneof(self, group: str) -> str | None:  # noqa: N802 - protobuf's spelling
        """The member of oneof ``group`` that is set, else None."""
        if group not in self._ONEOFS:
            raise ValueError(f"{type(self).__name__} has no oneof {group!r}; it has {sorted(self._ONEOFS)}")
        chosen = [name for name in self._ONEOFS[group] if getattr(self, name) is not None]
        if len(chosen) > 1:
            raise ValueError(f"{type(self).__name__}: set one of oneof {group!r} {list(self._ONEOFS[group])}, "
                             f"not {chosen}")
        return chosen[0] if chosen else None

    def HasField(self, name: str) -> bool:  # noqa: N802
        """Is the message field (or oneof) ``name`` set?"""
        if name in self._ONEOFS:
            return self.WhichOneof(name) is not None
        return getattr(self, name) is not None


class ProtoEnum(enum.IntEnum):
    """A protobuf enum: members are ints (JSON-safe), with EnumTypeWrapper's Name/Value."""

    @classmethod
    def Name(cls, number: int) -> str:  # noqa: N802
        return cls(number).name

    @classmethod
    def Value(cls, name: str) -> int:  # noqa: N802
        try:
            return int(cls[name])
        except KeyError:
            raise ValueError(f"enum {cls.__name__} has no value named {name!r}; it has {cls.keys()}") from None

    @classmethod
    def keys(cls) -> list[str]:
        return [m.name for m in cls]

    @classmethod
    def values(cls) -> list[int]:
        return [int(m) for m in cls]

    @classmethod
    def items(cls) -> list[tuple[str, int]]:
        return [(m.name, int(m)) for m in cls]


def from_dict(cls: type, value: Any) -> Any:
    """Rebuild config dataclass ``cls`` from the dict it travelled as (None stays None)."""
    if value is None or isinstance(value, cls):
        return value
    if not isinstance(value, dict):
        raise ValueError(f"{cls.__name__}: expected a dict, got {type(value).__name__}")
    hints = _hints(cls)
    names = {f.name for f in dataclasses.fields(cls)}
    kwargs = {}
    for key, item in value.items():
        if key not in names:
            raise ValueError(f"{cls.__name__}: unknown field {key!r}; fields are {sorted(names)}")
        kwargs[key] = _convert(hints.get(key, Any), item)
    return cls(**kwargs)


def _hints(cls: type) -> dict[str, Any]:
    module = sys.modules[cls.__module__]
    return typing.get_type_hints(cls, globalns=vars(module), localns=dict(vars(cls)))


def _convert(hint: Any, item: Any) -> Any:
    if item is None:
        return None
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    if origin in (typing.Union, types.UnionType):
        inner = [a for a in args if a is not type(None)]
        return _convert(inner[0], item) if len(inner) == 1 else item
    if origin is list and args and isinstance(item, list):
        return [_convert(args[0], v) for v in item]
    if origin is dict and len(args) == 2 and isinstance(item, dict):
        return {k: _convert(args[1], v) for k, v in item.items()}
    if isinstance(hint, type) and dataclasses.is_dataclass(hint) and isinstance(item, dict):
        return from_dict(hint, item)
    if isinstance(hint, type) and issubclass(hint, enum.Enum):
        return hint[item] if isinstance(item, str) else hint(item)
    return item
