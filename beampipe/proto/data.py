"""Dataclass stand-ins for TFX's data protos (example_gen_pb2, range_config_pb2, transform_pb2).

Same class names, nesting and field names as TFX, so a TFX pipeline ports by changing
imports. They become plain JSON dicts in the IR (``base.to_jsonable``).
"""
from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class Input:
    """Input file patterns, relative to ``input_base``; one per pre-split split."""

    @dataclass
    class Split:
        name: str = ""
        pattern: str = ""

    splits: list[Input.Split] = field(default_factory=list)


@dataclass
class SplitConfig:
    """Hash-bucket split of one input into named outputs (train:eval = 2:1 by default)."""

    @dataclass
    class Split:
        name: str = ""
        hash_buckets: int = 0

    splits: list[SplitConfig.Split] = field(default_factory=list)
    partition_feature_name: str = ""


@dataclass
class Output:
    split_config: SplitConfig = field(default_factory=SplitConfig)


@dataclass
class StaticRange:
    """Spans ``start_span_number``..``end_span_number``, both included (range_config_pb2)."""

    start_span_number: int = 0
    end_span_number: int = 0


@dataclass
class RollingRange:
    """The latest ``num_spans`` spans, none before ``start_span_number`` (range_config_pb2).

    ``num_spans`` defaults to 1 (proto3's 0 is an error wherever TFX reads it)."""

    start_span_number: int = 0
    num_spans: int = 1


@dataclass
class RangeConfig:
    """Which spans to read: ExampleGen reads one span (the latest by default), a Resolver with
    ``SpanRangeStrategy`` picks several. A oneof: give ``static_range`` or ``rolling_range``."""

    StaticRange = StaticRange  # TFX's nested spelling still works: RangeConfig.StaticRange(1, 1)
    RollingRange = RollingRange

    static_range: StaticRange | None = None
    rolling_range: RollingRange | None = None

    def __post_init__(self) -> None:
        if self.static_range is not None and self.rolling_range is not None:
            raise ValueError("RangeConfig: give static_range or rolling_range, not both (a oneof)")


@dataclass
class SplitsConfig:
    """Which splits Transform analyzes and which it transforms."""

    analyze: list[str] = field(default_factory=list)
    transform: list[str] = field(default_factory=list)
