"""A small reader of protobuf text format (``.pbtxt``) into plain dicts.

Why not protobuf's ``text_format``: it needs a message descriptor, and beampipe's config
classes are dataclasses with none. This reads the syntax only (``name: value``,
``name { ... }`` or ``name < ... >``, ``name: [a, b]``, ``#`` comments, quoted strings with
escapes, numbers, ``true``/``false``, enum identifiers); ``proto.utils`` then types the
values by the dataclass's fields. A repeated name becomes a list.
"""
from __future__ import annotations

import ast
import re
from typing import Any

_TOKEN = re.compile(r"""
    \s+|\#[^\n]*                                   # whitespace, comments
  | (?P<str>"(?:[^"\\\n]|\\.)*"|'(?:[^'\\\n]|\\.)*')
  | (?P<num>[-+]?(?:\d+\.?\d*(?:[eE][-+]?\d+)?|\.\d+(?:[eE][-+]?\d+)?|inf|nan)[fF]?(?![\w.]))
  | (?P<name>[A-Za-z_][\w.]*|\[[\w./]+\])
  | (?P<punct>[{}<>:\[\],;])
""", re.VERBOSE)


class ParseError(ValueError):
    """Text that is not protobuf text format; the message names the line."""


def _tokens(text: str) -> list[tuple[str, str, int]]:
    out, pos, line = [], 0, 1
    while pos < len(text):
        match = _TOKEN.match(text, pos)
        if match is None:
            raise ParseError(f"line {line}: unexpected {text[pos:pos + 20]!r}")
        if match.lastgroup:
            out.append((match.lastgroup, match.group(match.lastgroup), line))
        line += match.group(0).count("\n")
        pos = match.end()
    return out


def parse(text: str) -> dict[str, Any]:
    """The message's fields as a dict; a name given more than once maps to a list."""
    fields, _ = _message(_tokens(text), 0, None)
    return fields


def _message(tokens: list[tuple[str, str, int]], pos: int, close: str | None) -> tuple[dict[str, Any], int]:
    fields: dict[str, Any] = {}
    while pos < len(tokens):
        kind, value, line = tokens[pos]
        if close is not None and value == close and kind == "punct":
            return fields, pos + 1
        if kind != "name":
            raise ParseError(f"line {line}: expected a field name, got {value!r}")
        name, pos = value, pos + 1
        if pos < len(tokens) and tokens[pos][1] == ":":
            pos += 1
        if pos >= len(tokens):
            raise ParseError(f"line {line}: field {name!r} has no value")
        if tokens[pos][1] == "[":
            values, pos = _list(tokens, pos + 1)
            for item in values:
                _add(fields, name, item)
        else:
            item, pos = _value(tokens, pos)
            _add(fields, name, item)
        if pos < len(tokens) and tokens[pos][1] in (",", ";"):
            pos += 1
    if close is not None:
        raise ParseError(f"unclosed message: expected {close!r} before the end")
    return fields, pos


def _list(tokens: list[tuple[str, str, int]], pos: int) -> tuple[list[Any], int]:
    values: list[Any] = []
    while pos < len(tokens) and tokens[pos][1] != "]":
        item, pos = _value(tokens, pos)
        values.append(item)
        if pos < len(tokens) and tokens[pos][1] == ",":
            pos += 1
    return values, pos + 1


def _value(tokens: list[tuple[str, str, int]], pos: int) -> tuple[Any, int]:
    kind, value, line = tokens[pos]
    if value in ("{", "<") and kind == "punct":
        return _message(tokens, pos + 1, "}" if value == "{" else ">")
    if kind == "str":
        parts = [ast.literal_eval(value)]
        pos += 1
        while pos < len(tokens) and tokens[pos][0] == "str":  # "a" "b" concatenates
            parts.append(ast.literal_eval(tokens[pos][1]))
            pos += 1
        return "".join(parts), pos
    if kind == "num":
        text = value.rstrip("fF") if not value.lower().endswith(("inf", "nan")) else value
        number = float(text) if re.search(r"[.eEn]", text) else int(text)
        return number, pos + 1
    if kind == "name":
        lowered = {"true": True, "True": True, "t": True, "false": False, "False": False, "f": False}
        return lowered.get(value, value), pos + 1  # an enum value stays its name
    raise ParseError(f"line {line}: expected a value, got {value!r}")


def _add(fields: dict[str, Any], name: str, item: Any) -> None:
    if name not in fields:
        fields[name] = item
    elif isinstance(fields[name], _Repeated):
        fields[name].append(item)
    else:
        fields[name] = _Repeated([fields[name], item])


class _Repeated(list):  # type: ignore[type-arg]
    """Values of a name given more than once (told apart from one list-valued field)."""
