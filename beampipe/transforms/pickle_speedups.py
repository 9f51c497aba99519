"""cloudpickle's submodule scan, done against an index of ``sys.modules`` kept while it holds.

When cloudpickle pickles a function by value (a lambda, a closure: Beam plans every DoFn that
way with ``--pickle_library=cloudpickle``), ``_find_imported_submodules`` looks for the loaded
submodules of every package the function refers to by walking all of ``sys.modules`` once per
package: ~10,000 names with TensorFlow loaded. Planning penguin's Evaluator did it ~280 times
(0.2 s of its ~1 s); Transform also pays it.

:func:`find_imported_submodules` gives the same list in the same order: the names come from a
snapshot of ``sys.modules`` taken on each call, exactly as cloudpickle lists them; only the
names under each package prefix are remembered, for as long as ``sys.modules`` has exactly the
same names in the same order (compared on every call, in C). The modules themselves are
looked up on each call, as cloudpickle does.
"""
from __future__ import annotations

import sys
import threading
import types
from typing import Any, Iterable

_lock = threading.Lock()
_names: tuple[Any, ...] = ()
_under: dict[str, list[str]] = {}
_installed = False
_original: Any = None  # cloudpickle's own function, once replaced (the tests compare with it)


def _names_under(prefix: str, names: tuple[Any, ...]) -> list[str]:
    """The names of ``names`` starting with ``prefix``, in order, from the index while
    ``names`` is the snapshot it was made from."""
    global _names, _under
    with _lock:
        if names != _names:
            _names, _under = names, {}
        found = _under.get(prefix)
        if found is None:
            found = _under[prefix] = [n for n in names if n is not None and n.startswith(prefix)]
        return found


def find_imported_submodules(code: types.CodeType, top_level_dependencies: Iterable[Any]) -> list[Any]:
    """cloudpickle's ``_find_imported_submodules(code, top_level_dependencies)``, same result."""
    subimports = []
    co_names = None
    for x in top_level_dependencies:
        if isinstance(x, types.ModuleType) and hasattr(x, "__package__") and x.__package__:
            prefix = x.__name__ + "."
            for name in _names_under(prefix, tuple(sys.modules)):
                if co_names is None:
                    co_names = set(code.co_names)
                tokens = set(name[len(prefix):].split("."))
                if not tokens - co_names:
                    subimports.append(sys.modules[name])
    return subimports


def install() -> None:
    """Use :func:`find_imported_submodules` in this process's cloudpickle (idempotent; a
    cloudpickle without that function, or of another layout, is left as it is)."""
    global _installed, _original
    if _installed:
        return
    try:
        from cloudpickle import cloudpickle as base
        from cloudpickle import cloudpickle_fast as fast
    except ImportError:
        return
    if not hasattr(fast, "_find_imported_submodules") or not hasattr(base, "_find_imported_submodules"):
        return
    _original = base._find_imported_submodules
    fast._find_imported_submodules = find_imported_submodules
    base._find_imported_submodules = find_imported_submodules
    _installed = True
