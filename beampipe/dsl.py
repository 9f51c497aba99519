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
    "HyperParameters", "InferenceResult", "TunerResults")})
standard_artifacts._table["ExamplesDiff"] = f"{_ARTIFACTS}:ExamplesDiff"
standard_artifacts._table.update({name: f"beampipe.metadata.value_artifacts:{name}" for name in (
    "String", "Integer", "Float", "Boolean", "Bytes", "JsonValue")})

experimental = _Namespace({
    "LatestArtifactStrategy": "beampipe.components.resolver:LatestArtifactStrategy",
    "LatestBlessedModelStrategy": "beampipe.components.resolver:LatestBlessedModelStrategy",
    "ResolverStrategy": "beampipe.components.resolver_strategy:ResolverStrategy",
    "SpanRangeStrategy": "beampipe.components.resolver_strategies:SpanRangeStrategy",
    "RuntimeParameter": "beampipe.components.base:RuntimeParameter",
    "create_container_component": "beampipe.components.container:create_container_component",
})
placeholders = _Namespace({name: f"beampipe.components.placeholders:{name}" for name in (
    "input", "output", "exec_property", "execution_invocation", "ProtoSerializationFormat")})

_DECORATOR = "beampipe.components.decorator"
components = _Namespace({  # tfx.dsl.components: writing your own component
    "component": f"{_DECORATOR}:component",
    "InputArtifact": f"{_DECORATOR}:InputArtifact",
    "OutputArtifact": f"{_DECORATOR}:OutputArtifact",
    "Parameter": f"{_DECORATOR}:Parameter",
    "BeamComponentParameter": f"{_DECORATOR}:BeamComponentParameter",
    "OutputDict": f"{_DECORATOR}:OutputDict",
    "AsyncOutputArtifact": f"{_DECORATOR}:AsyncOutputArtifact",
})


def __getattr__(name: str) -> Any:
    """``beampipe.dsl`` the module stands for ``tfx.dsl`` too: once anything imports it as a
    submodule, ``import beampipe as tfx; tfx.dsl`` is this module, not the ``dsl`` namespace."""
    return getattr(dsl, name)


types = _Namespace({"standard_artifacts": standard_artifacts,
                    "Channel": "beampipe.components.base:Channel",
                    "Artifact": f"{_ARTIFACTS}:Artifact",
                    "BaseComponent": "beampipe.components.base:BaseComponent",
                    "BaseNode": "beampipe.components.node_types:BaseNode",
                    "BaseChannel": "beampipe.components.node_types:BaseChannel",
                    "BaseBeamComponent": "beampipe.components.node_types:BaseBeamComponent",
                    "BaseFunctionalComponent": "beampipe.components.node_types:BaseFunctionalComponent",
                    "BaseFunctionalComponentFactory": "beampipe.components.node_types:BaseFunctionalComponentFactory",
                    })
metadata = _Namespace({name: f"beampipe.orchestration.metadata:{name}" for name in (  # MLMD ConnectionConfig protos
    "sqlite_metadata_connection_config", "mysql_metadata_connection_config",
    "postgresql_metadata_connection_config", "ConnectionConfigType")})


class _Extensions(_Namespace):
    """``tfx.extensions``: TFX's are Google Cloud integrations (BigQuery ExampleGen, AI Platform
    and Vertex trainers and pushers), which need Google's services; say so instead of a bare
    AttributeError."""

    def __getattr__(self, name: str) -> Any:
        if name.startswith("_"):
            raise AttributeError(name)
        raise AttributeError(f"tfx.extensions.{name} is not supported by beampipe: TFX's extensions are "
                             "Google Cloud integrations (BigQuery, AI Platform, Vertex AI) that need Google's "
                             "services; use CsvExampleGen/ImportExampleGen on gs:// data, and the Kubeflow "
                             "target for cluster training")


extensions = _Extensions({})
dsl = _Namespace({
    "Pipeline": "beampipe.orchestration.pipeline:Pipeline",
    "Cond": "beampipe.components.condition:Cond",
    "Channel": "beampipe.components.base:Channel",
    "Resolver": "beampipe.components.resolver:Resolver",
    "experimental": experimental,
    "io": _Namespace({"fileio": "beampipe.io:fileio"}),
    "components": components,
    "Importer": "beampipe.components.importer:Importer",
    "Artifact": f"{_ARTIFACTS}:Artifact",
    "ExecutionMode": "beampipe.orchestration.pipeline:ExecutionMode",
    "placeholders": placeholders,
})
