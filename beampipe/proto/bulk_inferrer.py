"""BulkInferrer's config: TFX's bulk_inferrer.proto (DataSpec, ModelSpec, OutputExampleSpec, ...).

Same names, fields and oneof as TFX 1.16, as plain dataclasses (a pipeline definition loads no
protobuf). ``OutputColumnsSpec.output_type`` is one of classify / regress / predict output:
which columns of the output examples receive a signature's results.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, ClassVar

from beampipe.proto._message import Message


@dataclass
class DataSpec:
    """Which splits of the Examples BulkInferrer runs on (empty: all of them)."""

    example_splits: list[str] = field(default_factory=list)


@dataclass
class ModelSpec:
    """Which SavedModel tags and signatures BulkInferrer uses (empty: serve / serving_default).

    Several signatures mean one multi-head inference (classify and regress signatures only)."""

    model_signature_name: list[str] = field(default_factory=list)
    tag: list[str] = field(default_factory=list)


@dataclass
class ClassifyOutput:
    """Columns for a classify signature's labels and scores (an empty name: not written)."""

    label_column: str = ""
    score_column: str = ""


@dataclass
class RegressOutput:
    """Column for a regress signature's value."""

    value_column: str = ""


@dataclass
class PredictOutputCol:
    """One predict output (``output_key``) written as feature ``output_column``."""

    output_key: str = ""
    output_column: str = ""


@dataclass
class PredictOutput:
    """The predict outputs to write; outputs not listed are left out."""

    output_columns: list[PredictOutputCol] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.output_columns = [PredictOutputCol(**c) if isinstance(c, dict) else c for c in self.output_columns]


@dataclass
class OutputColumnsSpec(Message):
    """How one signature's results become features; ``signature_name`` may stay empty when the
    model runs one signature."""

    _ONEOFS: ClassVar[dict[str, tuple[str, ...]]] = {
        "output_type": ("classify_output", "regress_output", "predict_output")}

    signature_name: str = ""
    classify_output: ClassifyOutput | None = None
    regress_output: RegressOutput | None = None
    predict_output: PredictOutput | None = None

    # beampipe <= 0.1 spelled the output types as nested classes
    Classify: ClassVar[type] = ClassifyOutput
    Regress: ClassVar[type] = RegressOutput
    Predict: ClassVar[type] = PredictOutput


@dataclass
class OutputExampleSpec:
    """BulkInferrer writes Examples (the inputs plus result columns) instead of prediction logs.

    ``feature_prefix`` is beampipe's, not TFX's: with no ``output_columns_spec`` every output of a
    predict signature becomes a feature ``<feature_prefix><output name>`` (TFX requires a spec)."""

    output_columns_spec: list[OutputColumnsSpec] = field(default_factory=list)
    feature_prefix: str = ""

    def __post_init__(self) -> None:
        self.output_columns_spec = [_columns(c) for c in self.output_columns_spec]


def _columns(value: Any) -> OutputColumnsSpec:
    from beampipe.proto._message import from_dict
    return from_dict(OutputColumnsSpec, value)
