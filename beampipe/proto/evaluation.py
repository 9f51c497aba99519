"""TFX's evaluator.proto (FeatureSlicingSpec) and distribution_validator.proto, as dataclasses.

``FeatureSlicingSpec`` is the Evaluator's pre-``EvalConfig`` way of naming slices; TFX turns
each ``SingleSlicingSpec`` into a TFMA slice over those columns, which beampipe's Evaluator
does too (``to_slicing_specs``). ``DistributionValidatorConfig`` configures TFX's
DistributionValidator, which TFX 1.16 does not export as a v1 component (and beampipe has
none): the protos are here so definitions that build them import.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass
class SingleSlicingSpec:
    """One slicing directive: a slice per value combination of these columns (none: overall)."""

    column_for_slicing: list[str] = field(default_factory=list)


@dataclass
class FeatureSlicingSpec:
    """The slices the Evaluator reports metrics for, one ``SingleSlicingSpec`` each."""

    specs: list[SingleSlicingSpec] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.specs = [SingleSlicingSpec(**s) if isinstance(s, dict) else s for s in self.specs]

    def to_slicing_specs(self) -> list[dict[str, Any]]:
        """As ``tfma.SlicingSpec`` JSON dicts: ``{'feature_keys': [...]}`` ({} is overall)."""
        return [{"feature_keys": list(s.column_for_slicing)} if s.column_for_slicing else {}
                for s in self.specs]


def _tfmd_dict(value: Any) -> Any:
    """A tensorflow_metadata message (Path, FeatureComparator, ...) as its JSON dict."""
    if value is None or isinstance(value, dict):
        return value
    if hasattr(value, "DESCRIPTOR"):
        from google.protobuf import json_format
        return json_format.MessageToDict(value, preserving_proto_field_name=True)
    raise TypeError(f"expected a tensorflow_metadata message or its dict, got {type(value).__name__}")


@dataclass
class FeatureComparator:
    """Per feature: ``path`` (tfmd Path, e.g. ``{'step': ['age']}``) and the tfmd
    ``distribution_comparator`` (e.g. ``{'jensen_shannon_divergence': {'threshold': 0.1}}``).
    tfmd protos are accepted and kept as their JSON dicts."""

    path: dict[str, Any] | None = None
    distribution_comparator: dict[str, Any] | None = None

    def __post_init__(self) -> None:
        self.path = _tfmd_dict(self.path)
        self.distribution_comparator = _tfmd_dict(self.distribution_comparator)


@dataclass
class DistributionValidatorConfig:
    """Comparators for the default slice: per feature, and for the number of examples."""

    @dataclass
    class DatasetConfig:
        feature: list[FeatureComparator] = field(default_factory=list)
        num_examples_comparator: dict[str, Any] | None = None  # tfmd NumericValueComparator

        def __post_init__(self) -> None:
            self.feature = [FeatureComparator(**f) if isinstance(f, dict) else f for f in self.feature]
            self.num_examples_comparator = _tfmd_dict(self.num_examples_comparator)

    default_slice_config: DatasetConfig | None = None
