"""``userstate.get_dofn_specs`` once per DoFn class, when the answer cannot depend on the instance.

Beam finds a DoFn's state and timer specs by walking ``dir(dofn)``: every attribute that is a
bound method has its parameters' defaults inspected. It does so several times per step (to
plan, serialize and run it), for every step. For a bound method of the class, the defaults
are the class's function's. So the answer is the same for two instances of one class when:

- the class's attributes bind the same way on every instance, or give no method: plain
  functions, class and static methods, data, properties annotated ``-> bool`` (DoFn's own);
  no other properties, slots or descriptors, no ``__getattr__``,
  ``__getattribute__`` or ``__dir__`` of its own; a method with an ``_inspect_<method>`` hook
  (Beam asks the hook, which may read the instance, for its parameters) must be hidden by an
  instance attribute, as ``CallableWrapperDoFn`` (``beam.Map``) hides ``process`` with its
  function;
- the instance's own attributes are no bound methods (``beam.Map(obj.method)`` stores one),
  and have the same names (a name may hide one of the class's methods).

Such instances share one cached answer, keyed by class and instance attribute names; every
other DoFn goes to Beam's function. Beam's errors (duplicate parameters) are never cached.
"""
from __future__ import annotations

import types
import weakref
from typing import Any, Callable

_BUILTIN_DESCRIPTORS = (types.FunctionType, staticmethod, classmethod, types.BuiltinFunctionType,
                        types.WrapperDescriptorType, types.MethodDescriptorType,
                        types.ClassMethodDescriptorType, types.GetSetDescriptorType)
_OWN_LOOKUP = ("__getattr__", "__getattribute__", "__dir__")

# class -> None when its instances may not share answers, else the names of its methods that
# have an ``_inspect_<name>`` hook (an instance must hide those with attributes of its own)
_CLASS_HOOKS: weakref.WeakKeyDictionary[type, frozenset[str] | None] = weakref.WeakKeyDictionary()


def _binds_plainly(value: Any) -> bool:
    """Whether a class attribute reads the same through every instance, or never as a method."""
    if isinstance(value, _BUILTIN_DESCRIPTORS):
        return True
    if type(value).__name__ == "cython_function_or_method":  # Beam's compiled modules
        return True
    if isinstance(value, property):  # DoFn's own: flags such as _process_defined
        return value.fget is not None and getattr(value.fget, "__annotations__", {}).get("return") in (bool, "bool")
    return not hasattr(type(value), "__get__")  # plain data


def class_hooks(cls: type) -> frozenset[str] | None:
    """None when instances of ``cls`` may differ in specs whatever they hold, else the
    methods with an ``_inspect_`` hook (computed once per class)."""
    if cls not in _CLASS_HOOKS:
        _CLASS_HOOKS[cls] = _class_hooks(cls)
    return _CLASS_HOOKS[cls]


def _class_hooks(cls: type) -> frozenset[str] | None:
    for name in _OWN_LOOKUP:
        if getattr(cls, name, None) is not getattr(object, name, None):
            return None
    names: set[str] = set()
    for klass in cls.__mro__:
        if klass is object:
            continue
        if klass.__dict__.get("__slots__"):
            return None
        for name, value in vars(klass).items():
            if not _binds_plainly(value):
                return None
            names.add(name)
    prefix = "_inspect_"
    return frozenset(n[len(prefix):] for n in names if n.startswith(prefix) and n[len(prefix):] in names)


def instance_key(dofn: Any) -> Any:
    """The cache key of ``dofn``, or None when its own attributes may change the answer."""
    cls = type(dofn)
    own = getattr(dofn, "__dict__", None)
    hooks = class_hooks(cls)
    if own is None or hooks is None or not hooks <= own.keys():
        return None
    for name, value in own.items():
        if isinstance(value, types.MethodType) or name.startswith("_inspect_"):
            return None
    return cls, frozenset(own)


def cached(get_dofn_specs: Callable[[Any], Any]) -> Callable[[Any], Any]:
    """``get_dofn_specs`` answering from a cache where :func:`instance_key` allows."""
    # class -> {instance attribute names -> (state specs, timer specs)}; weak: user classes go
    cache: weakref.WeakKeyDictionary[type, dict[frozenset, tuple[frozenset, frozenset]]] = \
        weakref.WeakKeyDictionary()

    def cached_get_dofn_specs(dofn: Any) -> Any:
        key = instance_key(dofn)
        if key is None:
            return get_dofn_specs(dofn)
        per_class = cache.setdefault(key[0], {})
        found = per_class.get(key[1])
        if found is None:
            states, timers = get_dofn_specs(dofn)
            found = per_class[key[1]] = (frozenset(states), frozenset(timers))
        return set(found[0]), set(found[1])  # Beam's own type: fresh sets

    cached_get_dofn_specs.__wrapped_get_dofn_specs__ = get_dofn_specs  # type: ignore[attr-defined]
    return cached_get_dofn_specs


def install() -> None:
    """Patch ``apache_beam.transforms.userstate.get_dofn_specs`` (its callers look it up there)."""
    from apache_beam.transforms import userstate
    if not hasattr(userstate.get_dofn_specs, "__wrapped_get_dofn_specs__"):
        userstate.get_dofn_specs = cached(userstate.get_dofn_specs)
