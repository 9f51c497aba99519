"""ExampleDiff's config: TFX's ExampleDiffConfig and PairedExampleSkew (example_diff.proto), same fields.

Plain dataclasses, so a pipeline definition needs no protobuf; they travel in the IR as
dicts and ``beampipe.proto.utils.dict_to_proto`` rebuilds them in the executor.
"""
from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class PairedExampleSkew:
    """Pair test and base examples by identifier features, then compare every other feature.

    ``float_round_ndigits``: None (the default) compares floats exactly. TFX passes its
    proto3 default 0 to TFDV, which rounds floats to whole numbers before comparing; set
    0 here to get that.
    """

    @dataclass
    class ConfusionConfig:
        """Count (base value, test value) pairs of one univalent bytes feature."""

        feature_name: str = ""

    identifier_features: list[str] = field(default_factory=list)
    skew_sample_size: int = 0
    ignore_features: list[str] = field(default_factory=list)
    float_round_ndigits: int | None = None
    allow_duplicate_identifiers: bool = False
    confusion_config: list[PairedExampleSkew.ConfusionConfig] = field(default_factory=list)


@dataclass
class ExampleDiffConfig:
    paired_example_skew: PairedExampleSkew | None = None
