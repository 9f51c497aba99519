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


class BeamDryRun(RuntimeError):
    """The runner only built the job (``--dry_run``): nothing ran, so the node has no outputs.

    Raised when the pipeline's ``with`` block ends; ``result`` is the runner's result (for
    DataflowRunner, ``result.job`` is the job it would have submitted)."""

    def __init__(self, message: str, result: Any = None) -> None:
        super().__init__(message)
        self.result = result


def make_pipeline(args: list[str], temp_dir: str = "") -> Any:
    """A Beam pipeline from ``args``, always naming a runner. With ``--dry_run`` (DataflowRunner's
    "build the job, submit nothing"), leaving its ``with`` block raises :class:`BeamDryRun`:
    the executor must not go on to read outputs that were never written, and the launcher
    records the node FAILED with that message, so nothing is LIVE."""
    import apache_beam as beam
    from apache_beam.options.pipeline_options import PipelineOptions, TestOptions

    from beampipe.transforms import beam_payloads, beam_speedups
    from beampipe.transforms import fast_crc  # noqa: F401 - TFRecord CRCs in C, here and in workers

    beam_speedups.install()  # Beam's per-step lookups once per function, DoFn class and flags

    full = with_runner(args)
    if temp_dir and not any(a.startswith("--temp_location") for a in full):
        full.append(f"--temp_location={temp_dir}")
    full += [f"--beam_plugins={fast_crc.PLUGIN}", f"--beam_plugins={beam_payloads.PLUGIN}"]
    options = PipelineOptions(full)
    runner = runner_name(full)
    # Pickles stay plain (no bz2) in this thread until the pipeline's with block ends, when
    # every process that reads them is this one or a DirectRunner worker (beam_payloads).
    beam_payloads.plain_pickles("direct" in runner.lower())

    class Pipeline(beam.Pipeline):
        def __exit__(self, exc_type: Any, exc_val: Any, exc_tb: Any) -> None:
            try:
                super().__exit__(exc_type, exc_val, exc_tb)
            finally:
                beam_payloads.plain_pickles(False)

    # Only DataflowRunner honours --dry_run (others run the job); the runner's own test of the flag
    if not (is_dataflow(runner) and options.view_as(TestOptions).dry_run):
        return Pipeline(options=options)

    class DryRunPipeline(Pipeline):
        def __exit__(self, exc_type: Any, exc_val: Any, exc_tb: Any) -> None:
            super().__exit__(exc_type, exc_val, exc_tb)
            if exc_type is None:
                raise BeamDryRun(f"dry run ({runner}, --dry_run): the Beam job was built and not "
                                 "executed, so this node has no outputs; nothing is recorded",
                                 getattr(self, "result", None))

    return DryRunPipeline(options=options)


def in_process_pickler(args: list[str]) -> tuple[str, ...]:
    """Extra Beam args naming cloudpickle, unless ``args`` name a pickler.

    Beam pickles every DoFn to plan the stages and again to run them, in this process too;
    its default pickler, dill, takes longer for it (Evaluator: 3.3 of its 9.9 s profiled on
    penguin, mostly TFMA's DoFns). Pickling moves code, never what it computes."""
    if any(a.startswith("--pickle_library") for a in args):
        return ()
    return ("--pickle_library=cloudpickle",)


def check_worker_paths(node_id: str, args: list[str], uris: dict[str, str]) -> None:
    """Refuse, before any Beam work, a DataflowRunner job whose files are local paths.

    Dataflow's workers are other machines: every file a job reads or writes must be on
    ``gs://``. ``uris`` maps what each URI is ("input 'examples'") to the URI the executor
    was given. Local runners (Direct, Prism) and portable runners whose workers may share
    this disk (Flink, Spark with LOOPBACK) are not checked."""
    if not is_dataflow(runner_name(args)):
        return
    local = {what: uri for what, uri in uris.items() if uri and not uri.startswith("gs://")}
    if local:
        what, uri = next(iter(local.items()))
        raise ValueError(
            f"node '{node_id}': DataflowRunner workers cannot read this machine's files, and the "
            f"node's {what} is the local path {uri}. The launcher gives Beam executors local copies "
            "of their inputs and local staging for their outputs (docs/storage.md), so Beam-based "
            "nodes cannot run on Dataflow yet; use DirectRunner (the default) or a runner whose "
            "workers share this disk")


def runner_name(args: list[str]) -> str:
    """The runner the args name (DirectRunner when none is named)."""
    full = with_runner(args)
    for i, arg in enumerate(full):
        if arg.startswith("--runner="):
            return arg.split("=", 1)[1]
        if arg == "--runner" and i + 1 < len(full):
            return full[i + 1]
    return DEFAULT_RUNNER


def is_dataflow(runner: str) -> bool:
    """``DataflowRunner``, ``dataflow`` or the class's dotted path."""
    return runner.rsplit(".", 1)[-1].lower() in ("dataflowrunner", "dataflow")


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
