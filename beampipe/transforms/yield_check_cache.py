"""Beam's "process uses both yield and return" check, once per code object.

Every ``ParDo`` (so every ``Map``, ``FlatMap``, ``Filter``) runs
``core._check_fn_use_yield_and_return(dofn.process)``: it reads the method's source with
``inspect.getsourcelines`` (a stat of the file and a tokenize of the function) to warn about
a DoFn whose ``process`` both yields and returns. Planning penguin's Evaluator ran it 67
times (0.19-0.24 s), for a few distinct functions: ``Map`` makes a new lambda each time, all
of one code.

The answer depends only on the source inspect finds from the function's code object (file,
first line): it is remembered per code object. A ``__wrapped__`` function is not remembered
(inspect reads the wrapped one's source), nor is a check that logged a warning, so such a
DoFn warns on every ParDo as before: only silent answers are reused.
"""
from __future__ import annotations

import logging
import threading
import types
import weakref
from typing import Any, Callable

_installed = False


class _Counter(logging.Filter):
    """Counts the records its logger handles while attached; lets every one through."""

    def __init__(self) -> None:
        super().__init__()
        self.count = 0

    def filter(self, record: logging.LogRecord) -> bool:
        self.count += 1
        return True


def cached(check: Callable[[Any], bool], logger: logging.Logger) -> Callable[[Any], bool]:
    """``check`` (Beam's function), remembered per code object (``Map`` makes a new lambda
    each time, all of one code) when the call logged nothing on ``logger``."""
    answers: weakref.WeakKeyDictionary[Any, bool] = weakref.WeakKeyDictionary()
    lock = threading.Lock()

    def cached_check(fn: Any) -> bool:
        func = fn.__func__ if isinstance(fn, types.MethodType) else fn
        if not isinstance(func, types.FunctionType) or hasattr(fn, "__wrapped__"):
            return check(fn)  # inspect reads a wrapped function's source, not this code's
        code = func.__code__  # what inspect reads the source of (file, first line)
        found = answers.get(code)
        if found is not None:
            return found
        counter = _Counter()
        with lock:  # one check at a time: the counter sees only this call's records
            logger.addFilter(counter)
            try:
                result = check(fn)
            finally:
                logger.removeFilter(counter)
        if not counter.count:
            answers[code] = result
        return result

    cached_check.__wrapped_check__ = check  # type: ignore[attr-defined]
    return cached_check


def install() -> None:
    """Remember Beam's yield/return check in this process (idempotent; a Beam without it is
    left as it is)."""
    global _installed
    if _installed:
        return
    from apache_beam.transforms import core
    original = getattr(core, "_check_fn_use_yield_and_return", None)
    if original is None or not hasattr(core, "_LOGGER"):
        return
    core._check_fn_use_yield_and_return = cached(original, core._LOGGER)
    _installed = True
