"""yield_check_cache: Beam's yield/return check answers as before, and warns as often."""
from __future__ import annotations

import logging

import apache_beam as beam
from apache_beam.transforms import core

from beampipe.transforms import yield_check_cache


class _Yields(beam.DoFn):
    def process(self, element):
        yield element


class _Both(beam.DoFn):
    def process(self, element):
        if element:
            return [element]
        yield element


class _Neither(beam.DoFn):
    def process(self, element):
        print(element)


def _original():
    check = core._check_fn_use_yield_and_return
    return getattr(check, "__wrapped_check__", check)


def test_same_answers_and_the_same_warnings(caplog):
    original = _original()
    check = yield_check_cache.cached(original, core._LOGGER)
    import functools

    @functools.wraps(_Both.process)
    def wrapped(self, element):  # inspect reads _Both.process: not remembered
        return [element]

    methods = [beam.Map(len).fn.process, beam.Map(str).fn.process, beam.FlatMap(str.split).fn.process,
               _Yields().process, _Both().process, _Neither().process, len, print, _Yields.process,
               wrapped, lambda x: x]
    for method in methods:
        caplog.clear()
        with caplog.at_level(logging.WARNING, logger=core._LOGGER.name):
            expected = original(method)
            warned = len(caplog.records)
        for _ in range(3):  # remembered or not: the same answer, the same warnings each time
            caplog.clear()
            with caplog.at_level(logging.WARNING, logger=core._LOGGER.name):
                assert check(method) == expected
            assert len(caplog.records) == warned, method
    assert check(_Both().process) is True and check(_Yields().process) is False


def test_installed_pardos_still_warn_about_yield_and_return(caplog):
    yield_check_cache.install()
    assert core._check_fn_use_yield_and_return.__wrapped_check__ is _original()
    for _ in range(2):
        caplog.clear()
        with caplog.at_level(logging.WARNING, logger=core._LOGGER.name):
            beam.ParDo(_Both())
        assert any("yield and return" in r.getMessage() for r in caplog.records)
    beam.Map(len), beam.Map(len)  # the remembered path
