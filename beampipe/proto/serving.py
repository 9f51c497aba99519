"""Serving-side config (Pusher, InfraValidator, BulkInferrer) with TFX's proto names and fields.

Plain dataclasses so a pipeline definition needs no protobuf and loads no ML library; they
travel in the IR as dicts (``to_jsonable``) and executors read them back with ``from_dict``.
"""
from __future__ import annotations

from dataclasses import dataclass, field, fields, is_dataclass
from typing import Any


@dataclass
class PushDestination:
    """Where Pusher copies a blessed model: ``<base_directory>/<version>/``."""

    @dataclass
    class Filesystem:
        base_directory: str = ""

    filesystem: Filesystem = field(default_factory=Filesystem)


@dataclass
class ServingSpec:
    """Which server InfraValidator starts. Only the local TF SavedModel loader is built in:
    the fields exist so TFX definitions port; ``tensorflow_serving`` tags are recorded."""

    @dataclass
    class TensorFlowServing:
        tags: list[str] = field(default_factory=list)

    @dataclass
    class LocalDocker:
        pass

    tensorflow_serving: TensorFlowServing | None = None
    local_docker: LocalDocker | None = None
    model_name: str = ""


@dataclass
class ValidationSpec:
    """How long the model may take to load, and how many attempts it gets."""

    max_loading_time_seconds: int = 300
    num_tries: int = 5


@dataclass
class RequestSpec:
    """Sample requests InfraValidator sends: ``num_examples`` from split ``split_name``."""

    @dataclass
    class TensorFlowServingRequestSpec:
        signature_names: list[str] = field(default_factory=list)

    tensorflow_serving: TensorFlowServingRequestSpec | None = None
    num_examples: int = 1
    split_name: str = ""
    make_warmup: bool = False


@dataclass
class DataSpec:
    """Which splits of the Examples BulkInferrer runs on (empty: all of them)."""

    example_splits: list[str] = field(default_factory=list)


@dataclass
class ModelSpec:
    """Which SavedModel tags and signatures BulkInferrer uses (empty: serving_default)."""

    model_signature_name: list[str] = field(default_factory=list)
    tag: list[str] = field(default_factory=list)


@dataclass
class OutputColumnsSpec:
    """How one signature's outputs become features of the output examples."""

    @dataclass
    class Classify:
        label_column: str = "classify_label"
        score_column: str = "classify_score"

    @dataclass
    class Regress:
        value_column: str = "regress_value"

    @dataclass
    class Predict:
        output_columns: list[dict[str, str]] = field(default_factory=list)

    signature_name: str = ""
    classify_output: Classify | None = None
    regress_output: Regress | None = None
    predict_output: Predict | None = None


@dataclass
class OutputExampleSpec:
    """BulkInferrer writes Examples with the predictions added as features.

    Without ``output_columns_spec`` every output tensor of the signature becomes a
    feature named after the output (``<prefix><output name>``)."""

    output_columns_spec: list[OutputColumnsSpec] = field(default_factory=list)
    feature_prefix: str = ""


def from_dict(cls: type, value: Any) -> Any:
    """Rebuild a config dataclass from the dict it travelled as (None stays None)."""
    if value is None or isinstance(value, cls):
        return value
    kwargs = {}
    hints = {f.name: f for f in fields(cls)}
    for key, item in dict(value).items():
        if key not in hints:
            raise ValueError(f"{cls.__name__}: unknown field {key!r}; fields are {sorted(hints)}")
        nested = getattr(cls, _camel(key), None)
        if isinstance(item, dict) and nested is not None and is_dataclass(nested):
            item = from_dict(nested, item)
        elif key == "output_columns_spec":
            item = [from_dict(OutputColumnsSpec, v) for v in item]
        kwargs[key] = item
    return cls(**kwargs)


def _camel(name: str) -> str:
    """tensorflow_serving -> TensorFlowServing; classify_output -> Classify."""
    special = {"tensorflow_serving": "TensorFlowServing", "local_docker": "LocalDocker",
               "classify_output": "Classify", "regress_output": "Regress",
               "predict_output": "Predict"}
    return special.get(name, "".join(p.title() for p in name.split("_")))
