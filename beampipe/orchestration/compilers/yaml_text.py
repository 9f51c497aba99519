"""YAML text of plain data (dicts, lists, str, int, float, bool, None), written through libyaml's emitter.

PyYAML's representer decides per scalar, in Python, whether a string needs quotes (it runs
its implicit-tag resolver on every value): for a 200-node KFP pipeline that is most of the
compile time. Here the decision is one regular expression: a string is written plain only
when it cannot be read back as anything but that string (it starts with a letter or ``_``,
holds only ``[A-Za-z0-9_./-]`` and inner spaces, and is not one of YAML 1.1's boolean or null words);
every other string is handed to the emitter as "must be quoted", and libyaml picks the
quoting. Loading the text gives back exactly the data (tests compare with PyYAML's dump).
"""
from __future__ import annotations

import re
from typing import Any

_PLAIN = re.compile(r"[A-Za-z_](?:[A-Za-z0-9_./ -]*[A-Za-z0-9_./-])?\Z")
_WORDS = {"y", "n", "yes", "no", "true", "false", "on", "off", "null"}  # YAML 1.1, any case


def _scalar(value: Any) -> tuple[str, str, tuple[bool, bool]]:
    """(tag, text, implicit) of one scalar; implicit (True, False) means "plain is safe"."""
    import yaml
    if value is None:
        return "tag:yaml.org,2002:null", "null", (True, False)
    if value is True or value is False:
        return "tag:yaml.org,2002:bool", "true" if value else "false", (True, False)
    if isinstance(value, int):
        return "tag:yaml.org,2002:int", str(value), (True, False)
    if isinstance(value, float):  # PyYAML's own spelling (.inf, .nan, 1.0e-05) reads back as a float
        node = yaml.SafeDumper.represent_float(yaml.SafeDumper(None), value)
        return "tag:yaml.org,2002:float", node.value, (True, False)
    if isinstance(value, str):
        plain = bool(_PLAIN.match(value)) and value.lower() not in _WORDS
        return "tag:yaml.org,2002:str", value, (plain, True)
    raise TypeError(f"cannot write {type(value).__name__} as YAML: {value!r}")


def _events(value: Any, out: list[Any]) -> None:
    import yaml
    if isinstance(value, dict):
        out.append(yaml.MappingStartEvent(None, None, True, flow_style=False))
        for key in sorted(value):
            _events(key, out)
            _events(value[key], out)
        out.append(yaml.MappingEndEvent())
    elif isinstance(value, (list, tuple)):
        out.append(yaml.SequenceStartEvent(None, None, True, flow_style=False))
        for item in value:
            _events(item, out)
        out.append(yaml.SequenceEndEvent())
    else:
        tag, text, implicit = _scalar(value)
        out.append(yaml.ScalarEvent(None, tag, implicit, text))


def dump_all(documents: list[Any], width: int = 120) -> str:
    """The documents as one YAML stream, keys sorted, block style (what ``yaml.dump_all`` with
    ``sort_keys=True`` writes, up to quoting choices)."""
    import yaml
    events: list[Any] = [yaml.StreamStartEvent()]
    for document in documents:
        events.append(yaml.DocumentStartEvent(explicit=len(documents) > 1 and len(events) > 1))
        _events(document, events)
        events.append(yaml.DocumentEndEvent(explicit=False))
    events.append(yaml.StreamEndEvent())
    dumper = getattr(yaml, "CSafeDumper", yaml.SafeDumper)
    return yaml.emit(events, Dumper=dumper, width=width, allow_unicode=True)
