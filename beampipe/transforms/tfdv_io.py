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

# Below this much (compressed) example data per split, with no Beam args and default stats
# options, statistics are computed in this process without Beam: the same TFDV generators,
# minus seconds of Beam graph building that dwarf the work on small data.
IN_MEMORY_MAX_BYTES = 16 * 2**20


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
    """Whether statistics may skip Beam: small data, no Beam args, default stats options."""
    if beam_args or raw_options:
        return False
    size = sum(os.path.getsize(f) for d in examples_dirs for f in example_files(d))
    return size <= IN_MEMORY_MAX_BYTES


def statistics_in_memory(examples_dir: str, stats_file: str, options: Any, decode_schema: Any = None) -> None:
    """One split's statistics without Beam: decode every example into one Arrow batch.

    ``decode_schema`` types the decoded columns, as a TFXIO source given that schema does.
    """
    from tensorflow_data_validation.statistics import stats_impl
    from tfx_bsl.coders import example_coder

    from beampipe.transforms.example_io import tfrecords

    records = [r for path in example_files(examples_dir) for r in tfrecords(path)]
    decoder = (example_coder.ExamplesToRecordBatchDecoder(decode_schema.SerializeToString())
               if decode_schema is not None else example_coder.ExamplesToRecordBatchDecoder())
    batch = decoder.DecodeBatch(records)
    stats = stats_impl.generate_statistics_in_memory(batch, options)
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
