"""Cut Beam's fixed cost per pipeline: work that depends only on code or flags is done once.

Lookups Beam repeats for every step, with the same answer each time:

- ``inspect.signature`` of every method of every DoFn, each time Beam builds, serializes or
  instantiates a stage: about 90,000 calls for one Transform pipeline, a tenth of its CPU
  time at 200k rows; and of every function given to ``Map``, ``FlatMap``, ... when Beam
  infers its type hints. A function's signature does not change: computed once per function.
- ``userstate.get_dofn_specs`` (the state and timer specs of a DoFn, by walking ``dir(dofn)``
  and every method's defaults), ~1,750 calls for penguin's Transform on 342 rows. The answer
  is the class's whenever the instance adds no methods of its own: computed once per class
  and set of instance attribute names (:mod:`beampipe.transforms.dofn_specs`).
- ``PipelineOptions.view_as``, ~850 calls a pipeline (twice for every applied transform),
  each building an argparse parser of every option class and parsing the flags again: the
  parse is remembered per options class and flags (:mod:`beampipe.transforms.options_cache`).
- the ids of every loaded module's globals, which objsize lists again each time Beam's state
  cache weighs a side input (:mod:`beampipe.transforms.state_cache_size`).
- cloudpickle's scan of every loaded module for each function it pickles by value
  (:mod:`beampipe.transforms.pickle_speedups`), and Beam's re-reading of each ParDo's source
  to check for ``yield`` with ``return`` (:mod:`beampipe.transforms.yield_check_cache`).

:func:`install` patches Beam in this process; ``beam_util.make_pipeline`` calls it for
every Beam node. Tests check each cached answer equals Beam's own.
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
    """Patch those lookups in Beam, in this process (idempotent)."""
    global _installed
    if _installed:
        return
    from apache_beam.transforms import core, ptransform, util
    from apache_beam.typehints import decorators

    from beampipe.transforms import dofn_specs, options_cache, pickle_speedups, state_cache_size, yield_check_cache
    cached = _cached(decorators.get_signature)  # also the type hints of every Map, FlatMap, ...
    for module in (core, decorators, ptransform, util):
        module.get_signature = cached
    dofn_specs.install()
    options_cache.install()
    state_cache_size.install()
    pickle_speedups.install()
    yield_check_cache.install()
    _installed = True
