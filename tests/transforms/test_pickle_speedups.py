"""pickle_speedups: cloudpickle's submodule scan gives the same modules, in the same order."""
from __future__ import annotations

import concurrent
import email
import sys
import types

import cloudpickle
from cloudpickle import cloudpickle as base
from cloudpickle import cloudpickle_fast as fast

from beampipe.transforms import pickle_speedups
from beampipe.transforms.pickle_speedups import find_imported_submodules


def _original():
    """The function cloudpickle defines, whether or not install() replaced it already."""
    return pickle_speedups._original or base._find_imported_submodules


def _cases():
    import concurrent.futures  # noqa: F401 - a loaded submodule the functions reach
    import email.mime.text  # noqa: F401
    import os.path

    import apache_beam as beam

    def uses_submodule():  # reaches the submodules through their packages
        return concurrent.futures.ThreadPoolExecutor, email.mime.text.MIMEText

    def uses_nothing(x):
        return x + 1

    deps = [concurrent, email, os, os.path, beam, types, 3, "text", None]
    return [(uses_submodule.__code__, deps), (uses_nothing.__code__, deps), (uses_submodule.__code__, []),
            (beam.Map.__code__, [beam, sys]), ((lambda: beam.transforms.core.ParDo).__code__, [beam])]


def test_same_modules_in_the_same_order():
    original = _original()
    for code, deps in _cases():
        expected = original(code, list(deps))
        assert find_imported_submodules(code, iter(deps)) == expected
        assert find_imported_submodules(code, list(deps)) == expected  # from the index


def test_index_follows_sys_modules():
    code = (lambda: concurrent.futures_fake_sub).__code__
    assert find_imported_submodules(code, [concurrent]) == []
    fake = types.ModuleType("concurrent.futures_fake_sub")
    sys.modules["concurrent.futures_fake_sub"] = fake
    try:
        assert find_imported_submodules(code, [concurrent]) == [fake] == _original()(code, [concurrent])
    finally:
        del sys.modules["concurrent.futures_fake_sub"]
    assert find_imported_submodules(code, [concurrent]) == []


def test_installed_pickles_are_byte_identical():
    import concurrent.futures

    def by_value(x):
        return concurrent.futures.ThreadPoolExecutor, x

    by_value.__module__ = "__main__"  # not importable by name: pickled by value
    before = cloudpickle.dumps(by_value)
    pickle_speedups.install()
    assert fast._find_imported_submodules is find_imported_submodules
    assert cloudpickle.dumps(by_value) == before
    restored = cloudpickle.loads(before)
    assert restored(1)[1] == 1
