"""Standard components, the component model and TFX's module-file contract types.

Names resolve lazily: importing this package loads no ML library.
"""
from __future__ import annotations

from beampipe._lazy import lazy_exports

_EXPORTS = {
    # component model
    "BaseComponent": "beampipe.components.base",
    "Channel": "beampipe.components.base",
    "ExecContext": "beampipe.components.base",
    "In": "beampipe.components.base",
    "Out": "beampipe.components.base",
    "Param": "beampipe.components.base",
    "RuntimeParameter": "beampipe.components.base",
    "WiringError": "beampipe.components.base",
    "component": "beampipe.components.decorator",
    "InputArtifact": "beampipe.components.decorator",
    "OutputArtifact": "beampipe.components.decorator",
    "Parameter": "beampipe.components.decorator",
    "BeamComponentParameter": "beampipe.components.decorator",
    "OutputDict": "beampipe.components.decorator",
    "AsyncOutputArtifact": "beampipe.components.decorator",
    "Cond": "beampipe.components.condition",
    # standard components
    "CsvExampleGen": "beampipe.components.example_gen",
    "ImportExampleGen": "beampipe.components.example_gen",
    "StatisticsGen": "beampipe.components.statistics_gen",
    "SchemaGen": "beampipe.components.schema_gen",
    "ImportSchemaGen": "beampipe.components.schema_gen",
    "ExampleValidator": "beampipe.components.example_validator",
    "Transform": "beampipe.components.transform",
    "Trainer": "beampipe.components.trainer",
    "Tuner": "beampipe.components.tuner",
    "Evaluator": "beampipe.components.evaluator",
    "Resolver": "beampipe.components.resolver",
    "ResolverStrategy": "beampipe.components.resolver_strategy",
    "SpanRangeStrategy": "beampipe.components.resolver_strategies",
    "Importer": "beampipe.components.importer",
    "Pusher": "beampipe.components.pusher",
    "BulkInferrer": "beampipe.components.bulk_inferrer",
    "InfraValidator": "beampipe.components.infra_validator",
    "ExampleDiff": "beampipe.components.example_diff",
    # TFX module-file contract
    "FnArgs": "beampipe.components.fn_args",
    "DataAccessor": "beampipe.components.fn_args",
    "TunerFnResult": "beampipe.components.tuner",
}

__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)
