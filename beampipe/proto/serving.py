"""Pusher's config (TFX's pusher.proto: PushDestination, Versioning); re-exports the others.

Plain dataclasses so a pipeline definition needs no protobuf and loads no ML library; they
travel in the IR as dicts (``to_jsonable``) and executors read them back with ``from_dict``.
InfraValidator's protos live in ``proto.infra_validator``, BulkInferrer's in
``proto.bulk_inferrer``; they are re-exported here, where beampipe <= 0.1 defined them.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import ClassVar

from beampipe.proto._message import Message, ProtoEnum, from_dict
from beampipe.proto.bulk_inferrer import (ClassifyOutput, DataSpec, ModelSpec, OutputColumnsSpec,
                                          OutputExampleSpec, PredictOutput, PredictOutputCol,
                                          RegressOutput)
from beampipe.proto.infra_validator import (EnvVar, EnvVarSource, KubernetesConfig, LocalDockerConfig,
                                            PodOverrides, RequestSpec, SecretKeySelector, ServingSpec,
                                            TensorFlowServing, TensorFlowServingRequestSpec,
                                            ValidationSpec)

__all__ = ["PushDestination", "Versioning", "from_dict", "ClassifyOutput", "DataSpec", "ModelSpec",
           "OutputColumnsSpec", "OutputExampleSpec", "PredictOutput", "PredictOutputCol", "RegressOutput",
           "EnvVar", "EnvVarSource", "KubernetesConfig", "LocalDockerConfig", "PodOverrides",
           "RequestSpec", "SecretKeySelector", "ServingSpec", "TensorFlowServing",
           "TensorFlowServingRequestSpec", "ValidationSpec"]


class Versioning(ProtoEnum):
    """How Pusher names a pushed version. AUTO is UNIX_TIMESTAMP on a file system (TFX's rule)."""

    AUTO = 0
    UNIX_TIMESTAMP = 1


@dataclass
class PushDestination(Message):
    """Where Pusher copies a blessed model: ``<base_directory>/<version>/``."""

    @dataclass
    class Filesystem:
        base_directory: str = ""
        versioning: Versioning = Versioning.AUTO

    _ONEOFS: ClassVar[dict[str, tuple[str, ...]]] = {"destination": ("filesystem",)}

    filesystem: Filesystem | None = field(default_factory=Filesystem)
