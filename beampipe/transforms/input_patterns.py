"""Resolve ExampleGen input patterns with {SPAN}, {VERSION} and {YYYY}{MM}{DD} placeholders.

A pattern like ``span-{SPAN}/v{VERSION}/*.csv`` is matched against the files under
``input_base``. By default (or with a rolling range of one span) the latest span is read,
and within it the latest version; a static range picks one span. Date placeholders map a
date to a span number (days since 1970-01-01), as TFX does. Also: a content fingerprint of
the resolved files, so an edited input (even with the same size) changes the cache key.

``input_base`` may be an ``s3://`` or ``gs://`` URI: listing, matching and fingerprints then
go through ``beampipe.io`` (the executor localizes the matched files before reading them).
"""
from __future__ import annotations

import datetime
import glob
import hashlib
import os
import re
from dataclasses import dataclass, field
from typing import Any

from beampipe import io

_TOKEN = re.compile(r"\{(SPAN|VERSION|YYYY|MM|DD)(?::(\d+))?\}")
_DATE_WIDTH = {"YYYY": 4, "MM": 2, "DD": 2}


@dataclass
class ResolvedInput:
    """The files ExampleGen reads, per split, and the span/version they belong to."""

    span: int = 0
    version: int | None = None
    files: dict[str, list[str]] = field(default_factory=dict)


def _pattern_regex(pattern: str) -> tuple[str, re.Pattern[str], set[str]]:
    """A glob for the file system and a regex that captures the placeholders."""
    names = {m.group(1) for m in _TOKEN.finditer(pattern)}
    if "SPAN" in names and names & set(_DATE_WIDTH):
        raise ValueError(f"input pattern {pattern!r}: use either {{SPAN}} or {{YYYY}}{{MM}}{{DD}}, not both")
    if names & set(_DATE_WIDTH) and not set(_DATE_WIDTH) <= names:
        raise ValueError(f"input pattern {pattern!r}: a date needs all of {{YYYY}}, {{MM}} and {{DD}}")
    if "VERSION" in names and not names - {"VERSION"}:
        raise ValueError(f"input pattern {pattern!r}: {{VERSION}} needs {{SPAN}} or a date")
    globbed, regex, pos, seen = "", "", 0, set()
    for m in _TOKEN.finditer(pattern):
        literal = pattern[pos:m.start()]
        globbed += literal
        regex += _glob_to_regex(literal)
        name, width = m.group(1), m.group(2) or _DATE_WIDTH.get(m.group(1))
        if name in seen:
            raise ValueError(f"input pattern {pattern!r}: {{{name}}} appears twice")
        seen.add(name)
        globbed += "[0-9]" * int(width) if width else "*"
        regex += f"(?P<{name}>\\d{{{width}}})" if width else f"(?P<{name}>\\d+)"
        pos = m.end()
    globbed += pattern[pos:]
    regex += _glob_to_regex(pattern[pos:])
    return globbed, re.compile(regex + r"\Z"), names


def _glob_to_regex(text: str) -> str:
    out = ""
    for ch in text:
        out += "[^/]*" if ch == "*" else "[^/]" if ch == "?" else re.escape(ch)
    return out


def _span_of(match: re.Match[str], names: set[str], path: str) -> tuple[int, int | None]:
    if "SPAN" in names:
        span = int(match.group("SPAN"))
    elif "YYYY" in names:
        try:
            day = datetime.date(int(match.group("YYYY")), int(match.group("MM")), int(match.group("DD")))
        except ValueError as err:
            raise ValueError(f"input file {path}: bad date in its name ({err})") from None
        span = (day - datetime.date(1970, 1, 1)).days
    else:
        span = 0
    version = int(match.group("VERSION")) if "VERSION" in names else None
    return span, version


def _wanted_span(range_config: dict[str, Any] | None) -> int | None:
    """The span a static range names; None for the latest (no range, or a rolling range of 1).

    As TFX 1.16's ExampleGen: it reads one span. Several spans (a retraining window) are a
    Resolver's job: ``SpanRangeStrategy`` over the Examples of several runs."""
    if not range_config:
        return None
    static, rolling = range_config.get("static_range"), range_config.get("rolling_range")
    if static:
        start, end = int(static.get("start_span_number", 0)), int(static.get("end_span_number", 0))
        if start != end:
            raise ValueError(f"range_config.static_range: for ExampleGen, start_span_number and "
                             f"end_span_number must be equal (one span), got {start}..{end}; to read "
                             "several spans, use a Resolver with SpanRangeStrategy on the Examples")
        return start
    if rolling:
        if int(rolling.get("num_spans", 1)) != 1:
            raise ValueError(f"range_config.rolling_range: ExampleGen reads a single span (num_spans=1), "
                             f"got num_spans={rolling.get('num_spans')}; to read the latest several, use "
                             "a Resolver with SpanRangeStrategy on the Examples")
        if int(rolling.get("start_span_number", 0)) > 0:
            raise ValueError("range_config.rolling_range.start_span_number is not supported by ExampleGen")
        return None
    raise ValueError("range_config: give static_range or rolling_range")


def resolve(input_base: str, splits: list[dict[str, Any]],
            range_config: dict[str, Any] | None = None) -> ResolvedInput:
    """The files of each input split for the chosen (or latest) span and its latest version."""
    remote = io.is_remote(input_base)
    if not (io.isdir(input_base) if remote else os.path.isdir(input_base)):
        raise ValueError(f"input_base {input_base} does not exist or is not a directory")
    wanted = _wanted_span(range_config)
    ranged = bool(range_config) and bool(range_config.get("static_range") or range_config.get("rolling_range"))
    found: dict[str, dict[tuple[int, int | None], list[str]]] = {}
    for split in splits:
        name, pattern = split.get("name", ""), split.get("pattern", "")
        globbed, regex, names = _pattern_regex(pattern)
        if ranged and not names - {"VERSION"}:
            raise ValueError(f"range_config is set but input pattern {pattern!r} has no {{SPAN}} or date")
        groups: dict[tuple[int, int | None], list[str]] = {}
        matches = io.glob(io.join(input_base, globbed)) if remote else glob.glob(os.path.join(input_base, globbed))
        for path in sorted(matches):
            rel = io.relative(path, input_base) if remote else os.path.relpath(path, input_base).replace(os.sep, "/")
            m = regex.match(rel)
            if m and (io.isfile(path) if remote else os.path.isfile(path)):
                groups.setdefault(_span_of(m, names, path), []).append(path)
        if not groups:
            raise ValueError(f"no input file matches pattern {pattern!r} (split {name!r}) under {input_base}")
        found[name] = groups
    first = next(iter(found.values()))
    span = wanted if wanted is not None else max(s for s, _ in first)
    result = ResolvedInput(span=span)
    for name, groups in found.items():
        versions = [v for s, v in groups if s == span]
        if not versions:
            have = sorted({s for s, _ in groups})
            raise ValueError(f"split {name!r}: no input for span {span} under {input_base} "
                             f"(spans found: {have})")
        version = None if None in versions else max(v for v in versions if v is not None)
        if name != next(iter(found)) and version != result.version:
            raise ValueError(f"splits disagree on the version of span {span}: "
                             f"{result.version} vs {version} (split {name!r})")
        result.version = version
        result.files[name] = groups[(span, version)]
    return result


def fingerprint_files(paths: list[str]) -> str:
    """sha256 over each file's name and content: an edit of the same size still changes it."""
    digest = hashlib.sha256()
    for path in sorted(paths):
        digest.update(io.basename(path).encode() + b"\0")
        with io.open(path, "rb") as f:
            for chunk in iter(lambda: f.read(1 << 20), b""):
                digest.update(chunk)
        digest.update(b"\0")
    return digest.hexdigest()
