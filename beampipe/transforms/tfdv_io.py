"""TFDV building blocks shared by StatisticsGen, SchemaGen, ExampleValidator and Transform.

Where files go is the artifacts' business (``ExampleStatistics.stats_file``,
``Schema.schema_file``, ``ExampleAnomalies.anomalies_file``): these functions are handed
the paths, or the artifacts, and never spell a file name themselves.
"""
from __future__ import annotations

import json
import os
from typing import Any

from beampipe import io
from beampipe.metadata import layout
from beampipe.metadata.artifacts import ExampleStatistics, Schema

# Below this much (compressed) example data per split, with no Beam args, Transform computes
# its pre/post statistics without Beam (``fits_in_memory``). StatisticsGen skips Beam at any
# size (``skips_beam``): ``tfdv_stream`` streams the data and gives Beam's exact numbers.
IN_MEMORY_MAX_BYTES = 16 * 2**20

# Rows TFDV's combiner generators see at a time when the options leave ``desired_batch_size``
# unset (TFDV's default is 1,000): its CombineFn merges the read's 1,000-row batches up to
# this many, which halves the generators' per-batch Python cost. The same on both paths, so
# Beam and ``tfdv_stream`` still agree bit for bit (float sums depend on the batches).
STATS_BATCH_SIZE = 10_000


def chosen_splits(splits: list[str], exclude: list[str] | None) -> list[str]:
    """The artifact's splits minus the excluded ones, in order; unknown names are an error."""
    exclude = list(exclude or [])
    unknown = sorted(set(exclude) - set(splits))
    if unknown:
        raise ValueError(f"exclude_splits names {unknown}, which the input does not have (it has {splits})")
    return [s for s in splits if s not in exclude]


def stats_options(raw: Any, schema: Any = None) -> Any:
    """A tfdv.StatsOptions from exec properties: its JSON (to_json()) or a dict of its arguments."""
    import tensorflow_data_validation as tfdv
    if isinstance(raw, str) and raw:
        options = tfdv.StatsOptions.from_json(raw)
    elif isinstance(raw, dict):
        options = tfdv.StatsOptions(**raw)
    else:
        options = tfdv.StatsOptions()
    if schema is not None:
        options.schema = schema
    if not options.desired_batch_size:
        options.desired_batch_size = STATS_BATCH_SIZE
    return options


def options_to_jsonable(value: Any) -> Any:
    """Component-side: keep stats_options JSON-able for the IR."""
    if value is None or isinstance(value, (str, dict)):
        return value
    if hasattr(value, "to_json"):
        return value.to_json()
    raise ValueError(f"stats_options must be a tfdv.StatsOptions, its JSON or a dict, got {type(value).__name__}")


def example_files(examples_dir: str) -> list[str]:
    files = io.glob(layout.all_files(examples_dir))  # local, or gs:// for a runner's workers
    if not files:
        raise ValueError(f"{examples_dir} holds no example files")
    return files


def fits_in_memory(examples_dirs: list[str], beam_args: list[str], raw_options: Any) -> bool:
    """Whether Transform's statistics may skip Beam: small data, no Beam args, default options."""
    if beam_args or raw_options:
        return False
    size = sum(os.path.getsize(f) for d in examples_dirs for f in example_files(d))
    return size <= IN_MEMORY_MAX_BYTES


def skips_beam(beam_args: list[str], options: Any) -> bool:
    """Whether StatisticsGen computes without Beam: options ``tfdv_stream`` reproduces exactly,
    and no Beam args, or args that only ask DirectRunner for worker processes (its in-order
    read is then what Beam would use; ``stream_processes`` gives the second process). Any
    other args, a lone ``--runner=DirectRunner`` included, still mean Beam."""
    from beampipe.transforms import tfdv_stream
    from beampipe.transforms.small_input import only_direct_parallelism
    if beam_args and not (only_direct_parallelism(beam_args) and stream_processes(beam_args) > 1):
        return False
    return tfdv_stream.supported(options)


def stream_processes(beam_args: list[str]) -> int:
    """Processes the streamed statistics use under ``beam_args``: 2 (decoding in a child,
    ``decode_process``) when they ask for DirectRunner's multi_processing with more than one
    worker, else 1. More would not help: the parent's combiners are half the work."""
    from beampipe.transforms.small_input import flag_values
    values = dict(flag_values(beam_args))
    if values.get("--direct_running_mode") != "multi_processing":
        return 1
    try:
        workers = int(values.get("--direct_num_workers", "1"))
    except ValueError:
        return 1
    workers = workers or os.cpu_count() or 1  # 0: one per core, as DirectRunner reads it
    return 2 if workers > 1 else 1


def statistics_in_memory(examples_dir: str, stats_file: str, options: Any, decode_schema: Any = None,
                         reader: Any = None) -> None:
    """One split's statistics without Beam, streamed in batches (memory stays flat at any size),
    equal to ``generate_statistics`` with an in-order read (``tfdv_stream``).

    ``decode_schema`` types the decoded columns, as a TFXIO source given that schema does.
    ``reader``: a ``decode_process.DecodeProcess`` to read and decode in (same numbers).
    Options ``tfdv_stream`` cannot reproduce are computed on one Arrow batch of everything.
    """
    from beampipe.transforms import tfdv_stream
    files = example_files(examples_dir)
    if tfdv_stream.supported(options):
        stats = tfdv_stream.statistics_of_files(files, options, decode_schema, reader=reader)
    else:
        from tensorflow_data_validation.statistics import stats_impl

        from beampipe.transforms.tfrecord_read import records_in_batches
        records = [r for batch in records_in_batches(files, 2**62) for r in batch]
        stats = stats_impl.generate_statistics_in_memory(tfdv_stream.decoder(decode_schema).DecodeBatch(records),
                                                         options)
    os.makedirs(os.path.dirname(stats_file), exist_ok=True)
    with open(stats_file, "wb") as f:
        f.write(stats.SerializeToString(deterministic=True))


def generate_statistics(pipeline: Any, label: str, examples_dir: str, stats_file: str, options: Any,
                        in_order: bool = False) -> None:
    """Add to the pipeline: read one split's gzip TFRecords, compute stats, write ``stats_file``.

    ``in_order`` (``beam_util.reads_in_order``): one ordered read, so float sums reproduce.
    """
    import tensorflow_data_validation as tfdv
    from tfx_bsl.public import tfxio

    from beampipe.transforms.beam_util import read_record_batches

    files = example_files(examples_dir)
    io.makedirs(io.dirname(stats_file))  # a no-op on object stores
    source = tfxio.TFExampleRecord(file_pattern=files, telemetry_descriptors=["beampipe"])
    _ = (read_record_batches(pipeline, f"Read[{label}]", source, files, in_order)
         | f"Stats[{label}]" >> tfdv.GenerateStatistics(options)
         | f"Write[{label}]" >> tfdv.WriteStatisticsToBinaryFile(stats_file))


def load_statistics(statistics: ExampleStatistics, split: str) -> Any:
    import tensorflow_data_validation as tfdv
    path = statistics.stats_file(split)
    if not os.path.exists(path):
        raise ValueError(f"statistics for split {split!r} not found: {path} is missing")
    return tfdv.load_stats_binary(path)


def load_schema(schema: Schema) -> Any:
    """The schema file of a Schema artifact (its uri is its directory, or the file itself)."""
    path = schema.uri if os.path.isfile(schema.uri) else schema.schema_file()
    return parse_schema_file(path)


def parse_schema_file(path: str) -> Any:
    """A text-format Schema proto, or one ValueError naming the file and the problem."""
    from google.protobuf import text_format
    from tensorflow_metadata.proto.v0 import schema_pb2
    if not os.path.isfile(path):
        raise ValueError(f"schema file {path} does not exist")
    try:
        with open(path, encoding="utf-8") as f:
            return text_format.Parse(f.read(), schema_pb2.Schema())
    except (text_format.ParseError, UnicodeDecodeError) as err:
        raise ValueError(f"schema file {path} is not a text-format tensorflow_metadata Schema: {err}") from None


def write_schema(schema: Any, out: Schema) -> str:
    from google.protobuf import text_format
    os.makedirs(out.uri, exist_ok=True)
    path = out.schema_file()
    with open(path, "w", encoding="utf-8") as f:
        f.write(text_format.MessageToString(schema))
    return path


def anomaly_lines(anomalies: Any) -> list[str]:
    """'feature: description' for every anomaly (drift and skew included)."""
    lines = []
    for name, info in sorted(anomalies.anomaly_info.items()):
        text = info.description or info.short_description
        lines.append(f"{name}: {text}")
    if anomalies.HasField("dataset_anomaly_info"):
        info = anomalies.dataset_anomaly_info
        lines.append(f"(dataset): {info.description or info.short_description}")
    return lines


def summary_json(per_split: dict[str, list[str]]) -> str:
    return json.dumps({s: len(lines) for s, lines in per_split.items()}, sort_keys=True)
