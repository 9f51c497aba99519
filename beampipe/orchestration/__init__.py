"""Pipelines, the IR, the launcher, caching, runners and compilers.

``LocalDagRunner``, ``Pipeline`` and ``metadata`` resolve lazily (TFX's
``tfx.orchestration`` spelling).
"""
from __future__ import annotations

from beampipe._lazy import lazy_exports

__getattr__, __dir__ = lazy_exports(__name__, {
    "LocalDagRunner": "beampipe.orchestration.local_runner",
    "Pipeline": "beampipe.orchestration.pipeline",
    "metadata": "beampipe.orchestration.metadata",
    "experimental": "beampipe.orchestration.experimental",
})
