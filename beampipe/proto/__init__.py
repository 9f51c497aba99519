"""Plain-dataclass stand-ins for TFX's config protos (tfx.proto.*), same names and fields.

A TFX pipeline definition ports by changing its imports: ``tfx.proto.TrainArgs(num_steps=100)``
becomes ``beampipe.proto.TrainArgs(num_steps=100)``. Names resolve lazily.
"""
from __future__ import annotations

from beampipe._lazy import lazy_exports

_EXPORTS = {
    # data (ExampleGen, StatisticsGen, Transform)
    "Input": "beampipe.proto.data",
    "Output": "beampipe.proto.data",
    "SplitConfig": "beampipe.proto.data",
    "RangeConfig": "beampipe.proto.data",
    "StaticRange": "beampipe.proto.data",
    "RollingRange": "beampipe.proto.data",
    "SplitsConfig": "beampipe.proto.data",
    # model (Trainer, Tuner)
    "TrainArgs": "beampipe.proto.model",
    "EvalArgs": "beampipe.proto.model",
    "TuneArgs": "beampipe.proto.model",
    # serving (Pusher, InfraValidator, BulkInferrer)
    "PushDestination": "beampipe.proto.serving",
    "ServingSpec": "beampipe.proto.serving",
    "ValidationSpec": "beampipe.proto.serving",
    "RequestSpec": "beampipe.proto.serving",
    "DataSpec": "beampipe.proto.serving",
    "ModelSpec": "beampipe.proto.serving",
    "OutputExampleSpec": "beampipe.proto.serving",
    # ExampleDiff (issue 10)
    "ExampleDiffConfig": "beampipe.proto.example_diff",
    "PairedExampleSkew": "beampipe.proto.example_diff",
}

__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)
