"""Port a TFX pipeline or module file to beampipe by rewriting its import lines only.

The rules (one import statement at a time; every other line is left as it is):

=====================================================  ==========================================
TFX                                                    beampipe
=====================================================  ==========================================
``from tfx import v1 as tfx`` / ``import tfx.v1 as tfx``  ``import beampipe as tfx``
``from tfx.v1 import proto``                           ``from beampipe import proto``
``from tfx.v1.dsl.io import fileio``                   ``from beampipe.dsl.io import fileio``
``from tfx.utils import proto_utils``                  ``from beampipe.utils import proto_utils``
``from tfx.<pkg> import sibling as base``              ``import sibling as base``
=====================================================  ==========================================

The last rule is for a module a file imports from its own TFX package (``from
tfx.examples.penguin import penguin_utils_base as base``): when ``sibling.py`` is one of
``siblings`` (the files ported beside it), the import names the file beside it instead;
beampipe puts a module file's folder on ``sys.path``. Other imports (``tensorflow``,
``tensorflow_transform``, ``tfx_bsl``, ``keras_tuner``, ``absl``) are kept: beampipe runs on
the same libraries. An import of ``tfx`` that no rule covers is kept and listed by
:func:`unported_imports`, so a port says what it could not do.

    from beampipe.utils.tfx_port import port_file
    port_file("penguin_pipeline_local.py", "ported/penguin_pipeline_local.py",
              siblings=["penguin_utils_base", "penguin_utils_keras"])
"""
from __future__ import annotations

import os
import re
from typing import Iterable

_FROM = re.compile(r"^(?P<indent>\s*)from\s+(?P<module>tfx(?:\.[\w.]+)?)\s+import\s+(?P<names>.+?)\s*$")
_IMPORT = re.compile(r"^(?P<indent>\s*)import\s+(?P<module>tfx(?:\.[\w.]+)?)(?P<alias>\s+as\s+\w+)?\s*$")
_SUBPACKAGE_MAP = {"tfx.v1": "beampipe", "tfx.utils": "beampipe.utils"}


def _beampipe_module(module: str) -> str | None:
    """The beampipe module for a ``tfx`` module path, or None when no rule covers it."""
    for prefix, target in _SUBPACKAGE_MAP.items():
        if module == prefix or module.startswith(prefix + "."):
            return target + module[len(prefix):]
    return None


def rewrite_line(line: str, siblings: Iterable[str] = ()) -> str:
    """One source line with its TFX import rewritten (the line itself when no rule applies)."""
    siblings = set(siblings)
    match = _IMPORT.match(line)
    if match:
        target = "beampipe" if match["module"] == "tfx.v1" else _beampipe_module(match["module"])
        if target is None:
            return line
        return f"{match['indent']}import {target}{match['alias'] or ''}\n"
    match = _FROM.match(line)
    if not match:
        return line
    module, names, indent = match["module"], match["names"], match["indent"]
    if module == "tfx" and re.fullmatch(r"v1\s+as\s+(\w+)", names):
        return f"{indent}import beampipe as {names.split()[-1]}\n"
    target = _beampipe_module(module)
    if target is not None:
        return f"{indent}from {target} import {names}\n"
    sibling = re.fullmatch(r"(\w+)(\s+as\s+\w+)?", names)
    if sibling and sibling[1] in siblings:
        return f"{indent}import {sibling[1]}{sibling[2] or ''}\n"
    return line


def rewrite_tfx_imports(source: str, siblings: Iterable[str] = ()) -> str:
    """A file's source with every TFX import line rewritten for beampipe (see the module doc)."""
    siblings = list(siblings)
    return "".join(rewrite_line(line, siblings) for line in source.splitlines(keepends=True))


def unported_imports(source: str) -> list[str]:
    """The import lines that still import ``tfx`` (no rule covered them)."""
    return [line.strip() for line in source.splitlines()
            if _FROM.match(line) or _IMPORT.match(line)]


def port_file(src: str, dst: str, siblings: Iterable[str] = ()) -> list[str]:
    """Write ``src`` ported to ``dst``; returns the TFX import lines left unported."""
    with open(src, encoding="utf-8") as f:
        ported = rewrite_tfx_imports(f.read(), siblings)
    os.makedirs(os.path.dirname(os.path.abspath(dst)), exist_ok=True)
    with open(dst, "w", encoding="utf-8") as f:
        f.write(ported)
    return unported_imports(ported)
