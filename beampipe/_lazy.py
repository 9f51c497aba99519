"""Lazy re-exports, so ``import beampipe`` stays fast and loads no ML library."""
from __future__ import annotations

import importlib
from typing import Any


def lazy_exports(package: str, table: dict[str, str]) -> tuple[Any, Any]:
    """Module-level __getattr__/__dir__ that import ``name`` from ``table[name]`` on first use."""

    def __getattr__(name: str) -> Any:
        target = table.get(name)
        if target is None:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        module = importlib.import_module(target)
        return module if target.endswith("." + name) and not hasattr(module, name) else getattr(module, name)

    def __dir__() -> list[str]:
        return sorted(table)

    return __getattr__, __dir__
