"""ExampleGen: CSV, TFRecord and Parquet files -> split gzip TFRecords of tf.Example.

``CsvExampleGen`` and ``ImportExampleGen`` take TFX's arguments (input_base, input_config,
output_config, range_config). ``ImportExampleGen(payload_format='parquet')`` reads Parquet
files instead of TFRecords. Everything streams: a file is never loaded whole. Every input file
is one Beam element whose records go straight into its split shards, in file order
(``tfrecord_shards``): so the output is byte-identical on identical input, whatever Beam's
bundling (Beam's own TFRecord sink writes records in bundle order, which varies run to run).
With no Beam args the same per-file writes run in this process (Beam's import and start-up
cost more than a small input); with Beam args, Beam runs them (``--direct_num_workers=2
--direct_running_mode=multi_processing`` writes two files at once). A CSV file goes through
``csv_arrow`` / ``example_encode`` (vectorized, same bytes) unless it holds something only
the Python path (``csv_decode`` / ``example_io``) reads exactly; in-process, the blocks its type
scan parsed are kept (``csv_arrow.KEEP_BYTES`` in all) for the writes, so a CSV is parsed once.
The input files' content fingerprint is both a custom property and part of the cache key
(``cache_material``), so an edited input file re-runs the node.

``input_base`` may be ``s3://`` or ``gs://``: the files are matched and fingerprinted through
``beampipe.io`` and downloaded into the node's temp dir before the readers (csv, pyarrow,
TFRecord) open them, because those want local files.
"""
from __future__ import annotations

import json
import os
from typing import Any, Iterator

from beampipe import io
from beampipe.components.base import BaseComponent, ExecContext, In, Out, Param, to_jsonable  # noqa: F401
from beampipe.metadata.artifacts import Examples
from beampipe.transforms import input_patterns

DEFAULT_INPUT = {"splits": [{"name": "single_split", "pattern": "*"}]}
DEFAULT_SPLITS = [{"name": "train", "hash_buckets": 2}, {"name": "eval", "hash_buckets": 1}]
PAYLOAD_FORMATS = {"tf_example": "tf_example", "format_tf_example": "tf_example",
                   "parquet": "parquet", "format_parquet": "parquet"}


class _FileBasedExampleGen(BaseComponent):
    """Shared wiring and executor; subclasses say how one input file becomes examples."""

    INPUTS: dict[str, In] = {}
    OUTPUTS = {"examples": Out(Examples)}
    PARAMETERS = {"input_base": Param(str, required=True, path=True), "input_config": Param(dict),
                  "output_config": Param(dict), "range_config": Param(dict)}

    def __init__(self, input_base: str, input_config: Any = None, output_config: Any = None,
                 range_config: Any = None, **extra: Any) -> None:
        super().__init__({}, {"input_base": input_base, "input_config": input_config,
                              "output_config": output_config, "range_config": range_config, **extra})

    @classmethod
    def resolve_input(cls, exec_properties: dict[str, Any]) -> input_patterns.ResolvedInput:
        props = config_props(exec_properties)
        input_config = props.get("input_config") or DEFAULT_INPUT
        base = props["input_base"]
        base = base if io.is_remote(base) else os.path.abspath(base)
        return input_patterns.resolve(base, input_config["splits"],
                                      props.get("range_config"))

    @classmethod
    def cache_material(cls, exec_properties: dict[str, Any]) -> str:
        """Extra cache-key material: the content fingerprint of the files this run would read."""
        try:
            resolved = cls.resolve_input(exec_properties)
        except ValueError as err:  # the executor reports it; never cache on it
            return f"unresolved:{err}"
        files = [f for group in resolved.files.values() for f in group]
        return f"{resolved.span}:{resolved.version}:{input_patterns.fingerprint_files(files)}"

    @classmethod
    def output_splits(cls, props: dict[str, Any], input_splits: list[str]) -> list[dict[str, Any]]:
        """The hash-bucket splits, or none when the input is already split."""
        config = (props.get("output_config") or {}).get("split_config") or {}
        splits = config.get("splits") or []
        if len(input_splits) > 1:
            if splits:
                raise ValueError("input_config has several splits (pre-split input) and output_config "
                                 "has a split_config: give one or the other")
            return []
        splits = splits or DEFAULT_SPLITS
        names = [s.get("name", "") for s in splits]
        if len(set(names)) != len(names) or not all(names):
            raise ValueError(f"output_config split names must be unique and non-empty, got {names}")
        for s in splits:
            if int(s.get("hash_buckets", 0)) <= 0:
                raise ValueError(f"output_config split {s.get('name')!r}: hash_buckets must be > 0")
        return splits

    @classmethod
    def prepare(cls, props: dict[str, Any], files: list[str], keep_bytes: int = 0) -> Any:
        """Validate the files before Beam starts; returns path -> (split key, serialized example)s.
        ``keep_bytes``: how much of what the validation parsed the reader may keep for the
        write (in-process writes only: Beam's workers get the reader pickled)."""
        raise NotImplementedError

    @classmethod
    def check_and_describe(cls, ctx: ExecContext, props: dict[str, Any], span: int, readers: dict[str, Any],
                           out: Examples) -> None:
        """After ``prepare``, before Beam: more checks, and custom properties for the output."""

    @classmethod
    def write(cls, pipeline: Any, label: str, files: list[str], reader: Any, split_dirs: list[str],
              buckets: list[int] | None) -> None:
        """One element per input file, whose records go straight into its split shards."""
        import apache_beam as beam
        from beampipe.transforms.tfrecord_shards import WriteFileShards

        _ = (pipeline | f"Files[{label}]" >> beam.Create(list(enumerate(files)))
             | f"Write[{label}]" >> beam.FlatMap(WriteFileShards(reader, split_dirs, buckets, len(files))))

    @classmethod
    def execute(cls, ctx: ExecContext) -> None:
        props = config_props(ctx.exec_properties)
        resolved = cls.resolve_input(props)
        remote_names = _localize_files(resolved, os.path.join(ctx.temp_dir, "input_base"))
        files = [f for group in resolved.files.values() for f in group]
        hash_splits = cls.output_splits(props, list(resolved.files))
        from beampipe.transforms.csv_arrow import KEEP_BYTES
        keep = 0 if ctx.beam_pipeline_args else KEEP_BYTES // max(1, len(resolved.files))
        try:
            readers = {name: cls.prepare(props, group, keep) for name, group in resolved.files.items()}
        except ValueError as err:  # name the user's remote file, not the local copy
            message = str(err)
            for local, uri in remote_names.items():
                message = message.replace(local, uri)
            raise ValueError(message) from None
        out = ctx.output("examples")
        cls.check_and_describe(ctx, props, resolved.span, readers, out)
        jobs = []
        for name, group in resolved.files.items():
            names = [s["name"] for s in hash_splits] or [name]
            buckets = [s["hash_buckets"] for s in hash_splits] or None
            jobs.append((name, group, readers[name], [ctx.split_uri(out, s) for s in names], buckets))
        if ctx.beam_pipeline_args:
            with ctx.beam_pipeline() as p:
                for job in jobs:
                    cls.write(p, *job)
        else:  # no Beam args: the same per-file writes in this process, without Beam's start-up
            from beampipe.transforms.tfrecord_shards import WriteFileShards
            for _, group, reader, split_dirs, buckets in jobs:
                shards = WriteFileShards(reader, split_dirs, buckets, len(group))
                for element in enumerate(group):
                    for _ in shards(element):
                        pass
        split_names = [s["name"] for s in hash_splits] if hash_splits else list(resolved.files)
        out.splits = split_names
        out.span = resolved.span
        out.version = resolved.version or 0
        out.set_int_custom_property("span", resolved.span)  # as TFX's driver records them too
        if resolved.version is not None:
            out.set_int_custom_property("version", resolved.version)
        out.set_string_custom_property("input_fingerprint", input_patterns.fingerprint_files(files))
        out.set_string_custom_property("payload_format", "FORMAT_TF_EXAMPLE")
        ctx.log.info("ExampleGen: span %d, splits %s from %d file(s)", resolved.span, split_names, len(files))


class CsvExampleGen(_FileBasedExampleGen):
    """CSV files (with a header line) -> tf.Examples; column types inferred from all rows.

    The inferred types go on the Examples as custom property ``column_types`` (JSON, column ->
    INT / FLOAT / BYTES). A column whose type differs from the newest other span this node
    recorded (``age`` numbers in span 1, ``unknown`` in span 2), or between the input splits
    of one span, fails the node with a message naming the column, both types and both spans:
    the schema, Transform and the model expect one type per feature. Pass
    ``allow_column_type_changes=True`` to accept such a change (then validate with an
    imported schema and ExampleValidator).
    """

    PARAMETERS = {**_FileBasedExampleGen.PARAMETERS, "allow_column_type_changes": Param(bool)}

    def __init__(self, input_base: str, input_config: Any = None, output_config: Any = None,
                 range_config: Any = None, allow_column_type_changes: bool | None = None) -> None:
        super().__init__(input_base, input_config, output_config, range_config,
                         allow_column_type_changes=allow_column_type_changes)

    @classmethod
    def prepare(cls, props: dict[str, Any], files: list[str], keep_bytes: int = 0) -> Any:
        from beampipe.transforms.csv_arrow import Unsupported, scan_and_keep
        from beampipe.transforms.csv_decode import scan_csv
        from beampipe.transforms.example_encode import ArrowCsvToExamples
        from beampipe.transforms.example_io import CsvFileToExamples
        fast = scan_and_keep(files, keep_bytes)  # None: something only the Python path reads (or reports)
        layout = fast[0] if fast else scan_csv(files)
        partition = ((props.get("output_config") or {}).get("split_config") or {}).get(
            "partition_feature_name", "")
        reader = CsvFileToExamples(layout.header, layout.types, partition, layout)
        if fast is None:
            return reader
        try:
            return ArrowCsvToExamples(reader, fast[1])
        except Unsupported:
            return reader

    @classmethod
    def check_and_describe(cls, ctx: ExecContext, props: dict[str, Any], span: int, readers: dict[str, Any],
                           out: Examples) -> None:
        """Record the column types; refuse a type change between splits or against another span."""
        allowed = bool(props.get("allow_column_type_changes"))
        types: dict[str, str] = {}
        seen_in: dict[str, str] = {}
        for split, reader in readers.items():
            for column, kind in reader.layout.column_types().items():
                if column in types and types[column] != kind and not allowed:
                    raise ValueError(
                        f"CsvExampleGen '{ctx.node_id}': column {column!r} is {_kind(kind)} in input split "
                        f"{split!r}{_where(reader.layout, column)} but {_kind(types[column])} in input split "
                        f"{seen_in[column]!r}; {_TYPE_ADVICE}")
                types[column] = _wider(types.get(column, kind), kind)
                seen_in.setdefault(column, split)
        if not allowed:
            earlier = _other_span_types(ctx, span)
            if earlier is not None:
                other_span, other_types, other_uri = earlier
                changed = sorted(c for c in types if c in other_types and other_types[c] != types[c])
                if changed:
                    layouts = [r.layout for r in readers.values()]
                    lines = [f"column {c!r} is {_kind(types[c])} in span {span}"
                             f"{next((w for w in (_where(lay, c) for lay in layouts) if w), '')} but "
                             f"{_kind(other_types[c])} in span {other_span}" for c in changed]
                    raise ValueError(f"CsvExampleGen '{ctx.node_id}': " + "; ".join(lines)
                                     + f" (as recorded with the Examples at {other_uri}); {_TYPE_ADVICE}")
        out.set_string_custom_property("column_types", json.dumps(types, sort_keys=True))


class ImportExampleGen(_FileBasedExampleGen):
    """TFRecord files of tf.Example (gzip or not), or Parquet with payload_format='parquet'."""

    PARAMETERS = {**_FileBasedExampleGen.PARAMETERS, "payload_format": Param(str, default="tf_example")}

    def __init__(self, input_base: str, input_config: Any = None, output_config: Any = None,
                 range_config: Any = None, payload_format: Any = "tf_example") -> None:
        from beampipe.proto.example_gen_extras import payload_format_key  # PayloadFormat enum or its number
        payload_format = payload_format_key(payload_format)
        if payload_format not in PAYLOAD_FORMATS:
            raise ValueError(f"ImportExampleGen: payload_format must be one of "
                             f"{sorted(set(PAYLOAD_FORMATS.values()))}, got {payload_format!r}")
        super().__init__(input_base, input_config, output_config, range_config,
                         payload_format=payload_format)

    @classmethod
    def prepare(cls, props: dict[str, Any], files: list[str], keep_bytes: int = 0) -> Any:
        from beampipe.transforms.example_io import check_tfrecord_of_examples
        partition = ((props.get("output_config") or {}).get("split_config") or {}).get(
            "partition_feature_name", "")
        if cls._format(props) == "parquet":
            _check_parquet(files)
            return _ParquetReader(partition)
        for path in files:
            check_tfrecord_of_examples(path)
        return _TFRecordReader(partition)

    @classmethod
    def _format(cls, props: dict[str, Any]) -> str:
        return PAYLOAD_FORMATS[str(props.get("payload_format") or "tf_example").lower()]


class _TFRecordReader:
    """path -> (split key, serialized example) for every record of a TFRecord file, in order."""

    def __init__(self, partition: str) -> None:
        self.partition = partition

    def __call__(self, path: str) -> Iterator[tuple[bytes, bytes]]:
        from beampipe.transforms.example_io import _example_class, partition_key, tfrecords
        parse = _example_class().FromString
        for serialized in tfrecords(path):  # TFX keys on the parsed record, re-serialized
            example = parse(serialized)
            key = (partition_key(example, self.partition) if self.partition
                   else example.SerializeToString(deterministic=True))
            yield key, serialized


class _ParquetReader:
    """path -> (split key, serialized example) for every row of a Parquet file, in order."""

    def __init__(self, partition: str) -> None:
        self.partition = partition

    def __call__(self, path: str) -> Iterator[tuple[bytes, bytes]]:
        import pyarrow.parquet as pq
        from beampipe.transforms.example_io import example_from_dict, keyed
        for batch in pq.ParquetFile(path).iter_batches(batch_size=4096):
            for record in batch.to_pylist():
                yield keyed(example_from_dict(record), self.partition)


def _localize_files(resolved: input_patterns.ResolvedInput, scratch: str) -> dict[str, str]:
    """Download remote input files into ``scratch`` (same base names, so the content
    fingerprint is unchanged) and point ``resolved`` at the copies; local path -> URI."""
    names: dict[str, str] = {}
    for split, group in resolved.files.items():
        local_group = []
        for index, path in enumerate(group):
            if not io.is_remote(path):
                local_group.append(path)
                continue
            local = os.path.join(scratch, split, str(index), io.basename(path))
            io.copy(path, local)
            names[local] = path
            local_group.append(local)
        resolved.files[split] = local_group
    return names


_TYPE_ADVICE = ("the schema, Transform and the model expect one type per feature: fix the data, or "
                "accept the change with CsvExampleGen(..., allow_column_type_changes=True)")
_ORDER = {"INT": 0, "FLOAT": 1, "BYTES": 2}


def _kind(kind: str) -> str:
    return {"INT": "INT (integers)", "FLOAT": "FLOAT (numbers)", "BYTES": "BYTES (text)"}.get(kind, kind)


def _wider(a: str, b: str) -> str:
    return a if _ORDER.get(a, 2) >= _ORDER.get(b, 2) else b


def _where(layout: Any, column: str) -> str:
    text = layout.where_text(column)
    return f" ({text})" if text else ""


def _other_span_types(ctx: ExecContext, span: int) -> tuple[int, dict[str, str], str] | None:
    """(span, column types, URI) of the newest Examples this node recorded for another span."""
    if ctx.store is None:
        return None
    from beampipe.metadata.store import NODE_CONTEXT
    executions = ctx.store.executions_in_context(NODE_CONTEXT, f"{ctx.pipeline_name}.{ctx.node_id}")
    for execution in sorted(executions, key=lambda e: e["id"], reverse=True):
        if execution["state"] not in ("COMPLETE", "CACHED"):
            continue
        for art in ctx.store.artifacts_of(execution["id"]).get("examples", []):
            recorded = art.custom_properties.get("column_types")
            if recorded and art.span != span:
                return art.span, json.loads(recorded), art.uri
    return None


def _check_parquet(files: list[str]) -> None:
    import pyarrow.parquet as pq
    for path in files:
        try:
            pq.ParquetFile(path).schema_arrow
        except Exception as err:  # noqa: BLE001 - pyarrow raises several types for bad files
            raise ValueError(f"{path}: not a readable Parquet file ({err})") from None


def config_props(exec_properties: dict[str, Any]) -> dict[str, Any]:
    """Execution properties as dicts. A config may also arrive as TFX's JSON text (a value
    artifact read at run time: ``range_config=gen.outputs['range_config'].future()[0].value``
    holding ``proto_utils.proto_to_json(RangeConfig(...))``)."""
    from beampipe.proto import data, utils

    props = to_jsonable(exec_properties)
    for key, cls in (("input_config", data.Input), ("output_config", data.Output),
                     ("range_config", data.RangeConfig)):
        if isinstance(props.get(key), str):
            try:
                props[key] = to_jsonable(utils.json_to_proto(props[key], cls))
            except ValueError as err:
                raise ValueError(f"{key} {props[key]!r} is not the JSON of a {cls.__name__}: {err}") from err
    return props
