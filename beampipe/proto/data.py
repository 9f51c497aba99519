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
class RangeConfig:
    """Which span ExampleGen reads; by default the latest one found."""

    @dataclass
    class StaticRange:
        start_span_number: int = 0
        end_span_number: int = 0

    @dataclass
    class RollingRange:
        start_span_number: int = 0
        num_spans: int = 1

    static_range: RangeConfig.StaticRange | None = None
    rolling_range: RangeConfig.RollingRange | None = None


@dataclass
class SplitsConfig:
    """Which splits Transform analyzes and which it transforms."""

    analyze: list[str] = field(default_factory=list)
    transform: list[str] = field(default_factory=list)
