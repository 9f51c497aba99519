"""Build Beam pipelines from Beam args, always naming a runner.

Beam 2.6x may try to download the Prism runner when no runner is named, and
that download fails on offline machines: so DirectRunner is named by default.
"""
from __future__ import annotations

from typing import Any

DEFAULT_RUNNER = "DirectRunner"


def with_runner(args: list[str]) -> list[str]:
    """The args with ``--runner=DirectRunner`` added when no runner is named."""
    named = any(a == "--runner" or a.startswith("--runner=") for a in args)
    return list(args) if named else [f"--runner={DEFAULT_RUNNER}", *args]


def make_pipeline(args: list[str], temp_dir: str = "") -> Any:
    import apache_beam as beam
    from apache_beam.options.pipeline_options import PipelineOptions

    full = with_runner(args)
    if temp_dir and not any(a.startswith("--temp_location") for a in full):
        full.append(f"--temp_location={temp_dir}")
    options = PipelineOptions(full)
    return beam.Pipeline(options=options)
