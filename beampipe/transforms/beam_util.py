"""Build Beam pipelines from Beam args, always naming a runner; read example files.

Beam 2.6x may try to download the Prism runner when no runner is named, and
that download fails on offline machines: so DirectRunner is named by default.
On the local runner, example files are read as one ordered stream so that what the
executors write is byte-reproducible (``reads_in_order``).
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


def runner_name(args: list[str]) -> str:
    """The runner the args name (DirectRunner when none is named)."""
    full = with_runner(args)
    for i, arg in enumerate(full):
        if arg.startswith("--runner="):
            return arg.split("=", 1)[1]
        if arg == "--runner" and i + 1 < len(full):
            return full[i + 1]
    return DEFAULT_RUNNER


def reads_in_order(args: list[str]) -> bool:
    """Whether to read example files as one ordered stream (local runners) rather than
    through Beam's splittable TFRecord source.

    Beam's local runner splits a splittable read at moments that depend on timing, so the
    order in which combiners (TFDV statistics, TFT analyzers, TFMA metrics) add up floats
    changes run to run and their last bits with it. One ordered stream of fixed-size
    batches makes those results byte-reproducible. A distributed runner keeps the
    splittable source: there, parallel reads matter more and order is never fixed anyway.
    """
    return "direct" in runner_name(args).lower()


def read_record_batches(pipeline: Any, label: str, source: Any, files: list[str], in_order: bool,
                        batch_size: int = 1000) -> Any:
    """Arrow record batches of a tfx-bsl TFXIO ``source`` over ``files``.

    In order: the files one after another (``Create`` without its reshuffle), every record in
    file order, batches of ``batch_size`` (tfx-bsl's own cap when it autotunes).
    """
    if not in_order:
        return pipeline | label >> source.BeamSource()
    return (read_records(pipeline, label, files, in_order=True)
            | f"{label}Batches" >> source.RawRecordToRecordBatch(batch_size=batch_size))


def read_records(pipeline: Any, label: str, files: list[str], in_order: bool) -> Any:
    """The serialized records of gzip TFRecord ``files``: in order, or through Beam's source."""
    import apache_beam as beam
    if in_order:
        from beampipe.transforms.example_io import tfrecords
        return (pipeline | f"{label}Files" >> beam.Create(list(files), reshuffle=False)
                | f"{label}Records" >> beam.FlatMap(tfrecords))
    from apache_beam.io.filesystem import CompressionTypes
    return (pipeline | f"{label}Files" >> beam.Create(list(files))
            | f"{label}Records" >> beam.io.ReadAllFromTFRecord(compression_type=CompressionTypes.GZIP))
