"""beampipe: TFX-style ML pipelines on Apache Beam, recorded in ML Metadata.

``import beampipe as tfx`` gives a TFX user the names they know:
``tfx.components.CsvExampleGen``, ``tfx.dsl.Pipeline``, ``tfx.proto.TrainArgs``,
``tfx.orchestration.LocalDagRunner``, ``tfx.types.standard_artifacts.Model``.
Everything resolves lazily: importing beampipe loads no ML library.
"""
from __future__ import annotations

from beampipe._lazy import lazy_exports

__version__ = "0.1.0"

_EXPORTS = {
    "components": "beampipe.components",
    "proto": "beampipe.proto",
    "dsl": "beampipe.dsl",
    "extensions": "beampipe.dsl",
    "types": "beampipe.dsl",
    "orchestration": "beampipe.orchestration",
    "standard_artifacts": "beampipe.dsl",
    "Pipeline": "beampipe.orchestration.pipeline",
    "RuntimeParameter": "beampipe.components.base",
    "component": "beampipe.components.decorator",
    "LocalDagRunner": "beampipe.orchestration.local_runner",
    "utils": "beampipe.utils",
    "testing": "beampipe.testing",
}

__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)
