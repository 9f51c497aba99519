"""``state_cache_size.get_deep_size`` weighs values exactly as Beam's ``statecache.get_deep_size``.

Both are run on the same values while ``sys.modules`` changes under them: modules added and
removed, an object of another type put in ``sys.modules`` whose ``__dict__`` is replaced.
"""
from __future__ import annotations

import os
import sys
import types

import numpy as np
import pytest
from apache_beam.runners.worker import statecache

from beampipe.transforms import beam_speedups, state_cache_size

beam_speedups.install()
FAST = statecache.get_deep_size
BEAM = FAST.__wrapped_get_deep_size__


class Holder:
    def __init__(self, *items: object) -> None:
        self.items = list(items)


class LazyModule:
    """What some libraries put in sys.modules instead of a module."""

    def __init__(self) -> None:
        self.value = [1, 2, 3]


def _values() -> list[object]:
    return [b"x" * 1000, "text", 12345, 1.5, None, [1, 2, [3, 4]], {"a": (1, 2), "b": {"c": b"d"}},
            np.arange(100), Holder(b"abc", {"k": [1, 2]}), Holder(vars(os)), [vars(os), vars(sys)],
            (os.path.join, print, Holder), {"self": Holder(Holder())}]


def _assert_same(values: list[object]) -> None:
    for value in values:
        assert FAST(value) == BEAM(value), repr(value)[:80]
    assert FAST(*values) == BEAM(*values)


def test_installed_by_beam_speedups() -> None:
    assert FAST is not BEAM
    assert FAST(b"abc") == BEAM(b"abc") > 0


def test_same_weights_as_beam() -> None:
    _assert_same(_values())
    _assert_same(_values())  # the second time from the kept ids


@pytest.mark.parametrize("kind", ["module", "lazy"])
def test_same_weights_while_sys_modules_changes(kind: str) -> None:
    name = f"_beampipe_test_{kind}"
    extra = types.ModuleType(name) if kind == "module" else LazyModule()
    held = vars(extra)
    value = Holder(held, [held])
    try:
        _assert_same([value])  # not yet a loaded module: its globals count
        sys.modules[name] = extra
        _assert_same([value])  # now excluded
        assert FAST(value) < FAST(Holder(dict(held), [dict(held)]))
        if kind == "lazy":
            extra.__dict__ = {"value": [4, 5]}  # the old dict counts again, the new one does not
            _assert_same([value, Holder(vars(extra))])
    finally:
        sys.modules.pop(name, None)
    _assert_same([value])  # removed: counted again


def test_module_globals_ids_match_objsize() -> None:
    """The ids objsize's own walk finds, where they name a lasting object: for objects in
    ``sys.modules`` whose ``vars()`` is a new mapping at each call (``typing.io`` is a class,
    its ``vars()`` a new mappingproxy) both take the id of a mapping freed at once."""
    from objsize.traverse import _iter_modules_globals

    def lasting(m: object) -> bool:
        try:
            return vars(m) is vars(m)
        except TypeError:
            return False

    modules = list(sys.modules.values())
    transient = len([m for m in modules if not lasting(m) and hasattr(m, "__dict__")])
    assert transient < 10
    kept = {id(None), *(id(vars(m)) for m in modules if lasting(m))}
    for _ in range(2):  # computed, then from the kept ids
        expected = {id(None), *map(id, _iter_modules_globals())}
        found = state_cache_size.module_globals_ids()
        assert found & kept == expected & kept == kept
        assert len(found - kept) <= transient and len(expected - kept) <= transient
