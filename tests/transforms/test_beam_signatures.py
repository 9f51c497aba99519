"""Beam's ``get_signature``, cached by ``beam_speedups`` in every module that calls it, gives
the signatures Beam's own function gives: functions, lambdas, bound methods of two instances,
builtins, method descriptors (Beam hints their first argument), classes, partials."""
from __future__ import annotations

import functools

import pytest
from apache_beam.transforms import core, ptransform, util
from apache_beam.typehints import decorators

from beampipe.transforms import beam_speedups

beam_speedups.install()
CACHED = decorators.get_signature
BEAM = CACHED.__wrapped_get_signature__


class Thing:
    def __init__(self, size: int) -> None:
        self.size = size

    def method(self, element: str, times: int = 2) -> list[str]:
        return [element] * times


def plain(a: int, *rest: str, key: bytes = b"", **more: float) -> None:
    return None


CALLABLES = [plain, lambda x, y=1: x, Thing(1).method, Thing(2).method, Thing, len, str.strip,
             dict.get, functools.partial(plain, 1), print, int]


def test_every_module_shares_the_cached_function() -> None:
    assert CACHED is not BEAM
    for module in (core, ptransform, util):
        assert module.get_signature is CACHED


@pytest.mark.parametrize("fn", CALLABLES, ids=lambda f: getattr(f, "__name__", type(f).__name__))
def test_same_signature_as_beam(fn) -> None:
    for _ in range(2):  # computed, then cached
        assert CACHED(fn) == BEAM(fn)
        assert str(CACHED(fn)) == str(BEAM(fn))
