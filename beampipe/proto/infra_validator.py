"""InfraValidator's config: TFX's infra_validator.proto with its fields and oneofs.

``ServingSpec`` has two oneofs, as in TFX: ``serving_binary`` (``tensorflow_serving``) and
``serving_platform`` (``local_docker`` or ``kubernetes``). beampipe validates on its own
TF Serving-compatible server (``beampipe serve``, started as a subprocess on this machine); it
starts no containers, so the platforms are accepted here and refused, with the reason, by the
component.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import ClassVar

from beampipe.proto._message import Message


@dataclass
class TensorFlowServing:
    """TF Serving image (``tensorflow/serving`` by default) at these ``tags`` or ``digests``."""

    image_name: str = ""
    tags: list[str] = field(default_factory=list)
    digests: list[str] = field(default_factory=list)


@dataclass
class LocalDockerConfig:
    """The Docker daemon of this machine runs the serving binary."""

    client_base_url: str = ""
    client_api_version: str = ""
    client_timeout_seconds: int = 0
    host_ip_address: str = ""


@dataclass
class SecretKeySelector:
    """One key of a Kubernetes Secret."""

    name: str = ""
    key: str = ""


@dataclass
class EnvVarSource:
    """Where an environment variable's value comes from (a Secret key)."""

    secret_key_ref: SecretKeySelector | None = None


@dataclass
class EnvVar:
    """An environment variable of the serving container: a value, or ``value_from`` a Secret."""

    name: str = ""
    value: str = ""
    value_from: EnvVarSource | None = None


@dataclass
class Resources:
    """Compute resources of the serving container (Kubernetes quantities, e.g. ``'500m'``)."""

    requests: dict[str, str] = field(default_factory=dict)
    limits: dict[str, str] = field(default_factory=dict)
    claims: dict[str, str] = field(default_factory=dict)


@dataclass
class PodOverrides:
    """What of the serving Pod a pipeline may set: annotations, env, resources."""

    annotations: dict[str, str] = field(default_factory=dict)
    env: list[EnvVar] = field(default_factory=list)
    resources: Resources | None = None


@dataclass
class KubernetesConfig:
    """The serving Pod runs in the cluster, next to the pipeline's own Pod."""

    service_account_name: str = ""
    active_deadline_seconds: int = 0
    serving_pod_overrides: PodOverrides | None = None


@dataclass
class ServingSpec(Message):
    """Which serving binary to validate the model with, and on which platform."""

    _ONEOFS: ClassVar[dict[str, tuple[str, ...]]] = {
        "serving_binary": ("tensorflow_serving",),
        "serving_platform": ("local_docker", "kubernetes")}

    tensorflow_serving: TensorFlowServing | None = None
    local_docker: LocalDockerConfig | None = None
    kubernetes: KubernetesConfig | None = None
    model_name: str = ""  # empty: 'infra-validation-model', as TFX

    # beampipe <= 0.1 spelled these as nested classes
    TensorFlowServing: ClassVar[type] = TensorFlowServing
    LocalDocker: ClassVar[type] = LocalDockerConfig


@dataclass
class ValidationSpec:
    """How long the model may take to load, and how many attempts it gets (0: TFX's 300 s, 5)."""

    max_loading_time_seconds: int = 300
    num_tries: int = 5


@dataclass
class TensorFlowServingRequestSpec:
    """Which meta graph (``tag_set``, empty: serve) and signatures (empty: serving_default) the
    requests go to."""

    tag_set: list[str] = field(default_factory=list)
    signature_names: list[str] = field(default_factory=list)


@dataclass
class RequestSpec(Message):
    """Sample requests: ``num_examples`` (0: 1) examples of split ``split_name`` (empty: eval if
    there is one, else the first split; TFX takes the first). ``make_warmup`` also writes them,
    as TF Serving warmup requests, into a copy of the model in the blessing."""

    _ONEOFS: ClassVar[dict[str, tuple[str, ...]]] = {"kind": ("tensorflow_serving",)}

    tensorflow_serving: TensorFlowServingRequestSpec | None = None
    split_name: str = ""
    num_examples: int = 1
    make_warmup: bool = False

    TensorFlowServingRequestSpec: ClassVar[type] = TensorFlowServingRequestSpec
