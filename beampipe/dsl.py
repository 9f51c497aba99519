"""TFX's public namespaces, so ``import beampipe as tfx`` ports a TFX pipeline file.

``tfx.dsl.Pipeline``, ``tfx.dsl.Cond``, ``tfx.dsl.Channel``, ``tfx.dsl.Resolver``,
``tfx.dsl.experimental.LatestBlessedModelStrategy``, ``tfx.types.standard_artifacts.Model``,
``tfx.orchestration.LocalDagRunner``, ``tfx.orchestration.metadata.sqlite_metadata_connection_config``.
Every name resolves on first use, so none of this loads an ML library.
"""
from __future__ import annotations

import importlib
from typing import Any


class _Namespace:
    """Attributes resolved lazily from ``name -> 'module:attr'`` (or a nested namespace)."""

    def __init__(self, table: dict[str, Any]) -> None:
        self._table = table

    def __getattr__(self, name: str) -> Any:
        target = self._table.get(name)
        if target is None:
            raise AttributeError(name)
        if not isinstance(target, str):
            return target
        module, _, attr = target.partition(":")
        return getattr(importlib.import_module(module), attr)

    def __dir__(self) -> list[str]:
        return sorted(self._table)


_ARTIFACTS = "beampipe.metadata.artifacts"
standard_artifacts = _Namespace({name: f"{_ARTIFACTS}:{name}" for name in (
    "Examples", "ExampleStatistics", "ExampleAnomalies", "Schema", "TransformGraph", "TransformCache",
    "Model", "ModelRun", "ModelEvaluation", "ModelBlessing", "InfraBlessing", "PushedModel",
    "HyperParameters", "InferenceResult")})

experimental = _Namespace({
    "LatestArtifactStrategy": "beampipe.components.resolver:LatestArtifactStrategy",
    "LatestBlessedModelStrategy": "beampipe.components.resolver:LatestBlessedModelStrategy",
    "RuntimeParameter": "beampipe.components.base:RuntimeParameter",
    "create_container_component": "beampipe.components.container:create_container_component",
})
placeholders = _Namespace({name: f"beampipe.components.placeholders:{name}" for name in (
    "input", "output", "exec_property", "execution_invocation", "ProtoSerializationFormat")})

def __getattr__(name: str) -> Any:
    table = {
        "Pipeline": "beampipe.orchestration.pipeline:Pipeline",
        "Cond": "beampipe.components.condition:Cond",
        "Channel": "beampipe.components.base:Channel",
        "Resolver": "beampipe.components.resolver:Resolver",
    }
    if name in table:
        module, _, attr = table[name].partition(":")
        return getattr(importlib.import_module(module), attr)
    raise AttributeError(name)


types = _Namespace({"standard_artifacts": standard_artifacts,
                    "Channel": "beampipe.components.base:Channel",
                    "Artifact": f"{_ARTIFACTS}:Artifact"})
metadata = _Namespace({name: f"beampipe.orchestration.metadata:{name}" for name in (  # MLMD ConnectionConfig protos
    "sqlite_metadata_connection_config", "mysql_metadata_connection_config",
    "postgresql_metadata_connection_config", "ConnectionConfigType")})
dsl = _Namespace({
    "Pipeline": "beampipe.orchestration.pipeline:Pipeline",
    "Cond": "beampipe.components.condition:Cond",
    "Channel": "beampipe.components.base:Channel",
    "Resolver": "beampipe.components.resolver:Resolver",
    "experimental": experimental,
    "placeholders": placeholders,
})
