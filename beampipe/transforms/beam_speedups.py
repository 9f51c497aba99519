"""Cut Beam's fixed cost per pipeline: remember function signatures.

Beam inspects the signature of every method of every DoFn each time it builds, serializes or
instantiates a stage (``userstate.get_dofn_specs`` walks ``dir(dofn)``), about 90,000 calls
of ``inspect.signature`` for one Transform pipeline, a tenth of its CPU time at 200k rows.
A function's signature does not change, so it is computed once per function here.
"""
from __future__ import annotations

import types
import weakref
from typing import Any, Callable

_installed = False


def _cached(get_signature: Callable[[Any], Any]) -> Callable[[Any], Any]:
    plain: weakref.WeakKeyDictionary[Any, Any] = weakref.WeakKeyDictionary()
    bound: weakref.WeakKeyDictionary[Any, Any] = weakref.WeakKeyDictionary()

    def cached_get_signature(func: Any) -> Any:
        # A bound method's signature is its function's without the first parameter,
        # whatever object it is bound to: cache it per function, apart from the function's own.
        if isinstance(func, types.MethodType) and isinstance(func.__func__, types.FunctionType):
            cache, key = bound, func.__func__
        elif isinstance(func, types.FunctionType):
            cache, key = plain, func
        else:
            return get_signature(func)
        found = cache.get(key)
        if found is None:
            found = cache[key] = get_signature(func)
        return found

    cached_get_signature.__wrapped_get_signature__ = get_signature  # type: ignore[attr-defined]
    return cached_get_signature


def install() -> None:
    """Make ``apache_beam.transforms.core`` look signatures up once per function (idempotent)."""
    global _installed
    if _installed:
        return
    from apache_beam.transforms import core
    core.get_signature = _cached(core.get_signature)
    _installed = True
