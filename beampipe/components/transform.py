"""Transform: TFT analyze-and-transform on Beam, from a user's ``preprocessing_fn``.

The transform graph it writes is what serving applies to raw examples, so training data
(materialized here) and serving data go through the very same graph.
"""
from __future__ import annotations

import hashlib
import inspect
import os
import shutil
import tempfile
import uuid
from typing import Any, Callable

from beampipe.components.base import BaseComponent, Channel, ExecContext, In, Out, Param
from beampipe.components.fn_args import describe_source, load_user_fn
from beampipe.metadata import layout
from beampipe.metadata.artifacts import (Artifact, ExampleAnomalies, Examples, ExampleStatistics,
                                         Schema, TransformCache, TransformGraph)
from beampipe.transforms import held_batches, tfdv_io


# False: read and write through tfx-bsl's TFXIO and Beam's TFRecord sink (the path distributed
# runners take); tests compare the two.
_FAST_IO = True
_BATCH = 1000  # rows a batch, as tfx-bsl's ordered read made them: analyzers add up per batch
_TRANSFORM_BATCHES = 8  # batches of _BATCH rows transformed in one TF call


class Transform(BaseComponent):
    """TFX's Transform: same inputs, parameters and output keys."""

    INPUTS = {"examples": In(Examples), "schema": In(Schema),
              "analyzer_cache": In(TransformCache, optional=True)}
    OUTPUTS = {
        "transform_graph": Out(TransformGraph),
        "transformed_examples": Out(Examples),
        "pre_transform_schema": Out(Schema),
        "pre_transform_stats": Out(ExampleStatistics),
        "post_transform_schema": Out(Schema),
        "post_transform_stats": Out(ExampleStatistics),
        "post_transform_anomalies": Out(ExampleAnomalies),
        "updated_analyzer_cache": Out(TransformCache),
    }
    PARAMETERS = {
        "module_file": Param(str),
        "preprocessing_fn": Param(str),
        "splits_config": Param(dict),
        "materialize": Param(bool, default=True),
        "disable_statistics": Param(bool, default=False),
        "force_tf_compat_v1": Param(bool, default=False),
        "custom_config": Param(dict),
    }

    def __init__(self, examples: Channel, schema: Channel, module_file: str | None = None,
                 preprocessing_fn: str | Callable[..., Any] | None = None,
                 splits_config: Any = None, analyzer_cache: Channel | None = None,
                 materialize: bool = True, disable_statistics: bool = False,
                 force_tf_compat_v1: bool = False, custom_config: dict[str, Any] | None = None) -> None:
        if bool(module_file) == bool(preprocessing_fn):
            raise ValueError("Transform: give exactly one of module_file and preprocessing_fn")
        super().__init__(
            {"examples": examples, "schema": schema, "analyzer_cache": analyzer_cache},
            {"module_file": module_file, "preprocessing_fn": preprocessing_fn,
             "splits_config": splits_config, "materialize": materialize,
             "disable_statistics": disable_statistics, "force_tf_compat_v1": force_tf_compat_v1,
             "custom_config": custom_config})

    @classmethod
    def execute(cls, ctx: ExecContext) -> None:
        os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")
        module_file, fn_path = ctx.prop("module_file"), ctx.prop("preprocessing_fn")
        user_fn = load_user_fn(module_file, fn_path, "preprocessing_fn")
        source = describe_source(module_file, fn_path)
        preprocessing_fn, failure = _guarded(user_fn, source, ctx.prop("custom_config"))

        examples_list = ctx.inputs.get("examples") or []
        if not examples_list:
            raise ValueError(f"node '{ctx.node_id}': input 'examples' has no artifact")
        # Several spans are analysed together; the newest one is transformed and materialized.
        target = max(examples_list, key=lambda a: (a.span, a.version))
        splits_config = ctx.prop("splits_config", {}) or {}
        analyze = list(splits_config.get("analyze") or ["train"])
        transform = list(splits_config.get("transform") or _split_names(target))
        for art in examples_list:
            _check_splits(art, analyze)
        _check_splits(target, transform)

        schema_path = ctx.input("schema").schema_file()
        schema = _read_schema(schema_path)
        out: dict[str, Any] = {key: ctx.output(key) for key in cls.OUTPUTS}
        shutil.copy(schema_path, out["pre_transform_schema"].schema_file())
        cache_in = ctx.optional_input("analyzer_cache")
        if cache_in is not None and os.path.isdir(cache_in.uri):
            # WriteAnalysisCacheToFS merges into what is there: start from the old cache.
            shutil.copytree(cache_in.uri, out["updated_analyzer_cache"].uri, dirs_exist_ok=True)
        stats = not ctx.prop("disable_statistics", False)
        materialize = ctx.prop("materialize", True)
        # Small data, no Beam args: pre/post statistics come from TFDV without Beam, after the
        # pipeline (post-transform ones from the materialized examples). Same numbers, less Beam.
        stats_in_memory = stats and materialize and set(analyze) <= set(transform) and \
            tfdv_io.fits_in_memory([target.split_uri(s) for s in analyze], ctx.beam_pipeline_args, None)
        # The analysis pass's decoded batches (held_batches) serve the transform pass, and the
        # in-memory pre-transform statistics after it; dropped once those have run.
        held: dict[str, str] = {}
        with held_batches.dropped_after(held.values()):
            try:
                _run_pipeline(ctx, preprocessing_fn, schema, examples_list, target, analyze, transform,
                              out, use_cache=cache_in is not None, beam_stats=stats and not stats_in_memory,
                              held=held, held_for_stats=stats_in_memory)
            except Exception as err:
                if failure:
                    raise failure[0] from err
                raise
            if failure:
                raise failure[0]
            _finish(ctx, target, out, schema, schema_path, analyze, transform, stats, stats_in_memory, held)


def _finish(ctx: ExecContext, target: Artifact, out: dict[str, Any], schema: Any, schema_path: str,
            analyze: list[str], transform: list[str], stats: bool, stats_in_memory: bool,
            held: dict[str, str]) -> None:
    """After the pipeline: the raw and post-transform schemas, statistics without Beam,
    anomalies, and the output artifacts' splits and span."""
    materialize = ctx.prop("materialize", True)

    # Serving parses raw examples with TFTransformOutput.raw_feature_spec(), read from here.
    raw_schema = out["transform_graph"].raw_schema_file()
    os.makedirs(os.path.dirname(raw_schema), exist_ok=True)
    shutil.copy(schema_path, raw_schema)
    post_schema = _write_post_schema(out["transform_graph"].uri, out["post_transform_schema"])
    if stats_in_memory:
        import tensorflow_data_validation as tfdv
        for split in analyze:
            _pre_statistics(target.split_uri(split), out["pre_transform_stats"].stats_file(split),
                            tfdv.StatsOptions(schema=schema), schema, held.get(split, ""))
            tfdv_io.statistics_in_memory(
                out["transformed_examples"].split_uri(split), out["post_transform_stats"].stats_file(split),
                tfdv.StatsOptions(), decode_schema=post_schema)
    if stats:
        _write_anomalies(out["post_transform_stats"], out["post_transform_schema"],
                         out["post_transform_anomalies"], analyze)
        for key in ("pre_transform_stats", "post_transform_stats", "post_transform_anomalies"):
            out[key].splits = analyze
            out[key].span = target.span
    if materialize:
        out["transformed_examples"].splits = transform
        out["transformed_examples"].span = target.span
        out["transformed_examples"].version = target.version


def _pre_statistics(examples_dir: str, stats_file: str, options: Any, schema: Any, token: str) -> None:
    """A split's pre-transform statistics without Beam, on the analysis pass's batches where
    they were kept (the same batches decoding gives, so the same bytes)."""
    from beampipe.transforms import example_batches, tfdv_stream
    if not token or not tfdv_stream.supported(options):
        tfdv_io.statistics_in_memory(examples_dir, stats_file, options, decode_schema=schema)
        return
    files = tuple(tfdv_io.example_files(examples_dir))
    stats = tfdv_stream.statistics_of_batches(
        example_batches.reused_batches(files, schema, tfdv_stream.BATCH_SIZE, token, 1), options)
    os.makedirs(os.path.dirname(stats_file), exist_ok=True)
    with open(stats_file, "wb") as f:
        f.write(stats.SerializeToString(deterministic=True))


def _guarded(fn: Callable[..., Any], source: str,
             custom_config: dict[str, Any] | None) -> tuple[Callable[..., Any], list[ValueError]]:
    """Wrap preprocessing_fn so its own errors surface as one ValueError naming it."""
    failure: list[ValueError] = []
    takes_config = len(inspect.signature(fn).parameters) >= 2

    def preprocessing_fn(inputs: dict[str, Any]) -> dict[str, Any]:
        try:
            result = fn(inputs, custom_config) if takes_config else fn(inputs)
        except Exception as err:  # noqa: BLE001 - reported to the user as it stands
            error = ValueError(f"preprocessing_fn in {source} raised {type(err).__name__}: {err}")
            failure.append(error)
            raise error from err
        if not isinstance(result, dict) or not result:
            error = ValueError(f"preprocessing_fn in {source} must return a non-empty dict of "
                               f"tensors, got {type(result).__name__}")
            failure.append(error)
            raise error
        return result

    return preprocessing_fn, failure


def _split_names(art: Artifact) -> list[str]:
    names = getattr(art, "splits", None) or []
    if not names and os.path.isdir(art.uri):
        names = layout.splits_in(os.listdir(art.uri))
    return list(names)


def _check_splits(art: Artifact, splits: list[str]) -> None:
    for split in splits:
        if not os.path.isdir(layout.split_uri(art.uri, split)):
            raise ValueError(f"Transform: Examples at {art.uri} have no split {split!r}; "
                             f"splits are {_split_names(art)}")


def _dataset_key(art: Artifact, split: str) -> str:
    """A stable name for one split of one artifact: its content fingerprint when published."""
    identity = art.custom_properties.get("fingerprint") or art.uri
    digest = hashlib.sha1(str(identity).encode()).hexdigest()[:16]
    return f"span-{art.span}-{split}-{digest}"


def _read_schema(path: str) -> Any:
    from google.protobuf import text_format
    from tensorflow_metadata.proto.v0 import schema_pb2

    if not os.path.exists(path):
        raise ValueError(f"Transform: schema file {path} does not exist")
    with open(path) as f:
        return text_format.Parse(f.read(), schema_pb2.Schema())


def _run_pipeline(ctx: ExecContext, preprocessing_fn: Callable[..., Any], schema: Any,
                  examples_list: list[Artifact], target: Artifact, analyze: list[str],
                  transform: list[str], out: dict[str, Any], use_cache: bool,
                  beam_stats: bool, held: dict[str, str], held_for_stats: bool) -> None:
    """One Beam pipeline: analyse, write graph and cache, transform, materialize, statistics.

    ``held`` gets the ``held_batches`` token of each split whose analysis batches are kept;
    with ``held_for_stats`` the transform pass leaves them for the statistics after it.
    """
    import apache_beam as beam
    import tensorflow_data_validation as tfdv
    import tensorflow_transform.beam as tft_beam
    from tensorflow_transform.beam import analyzer_cache
    from tfx_bsl.coders import example_coder
    from tfx_bsl.public import tfxio

    from beampipe.io import uri
    from beampipe.transforms import analysis_cache_io, example_batches
    from beampipe.transforms.beam_util import read_record_batches, reads_in_order

    def files(art: Artifact, split: str) -> list[str]:  # sorted: the same read order every run
        return tfdv_io.example_files(layout.split_uri(art.uri, split))

    def source(art: Artifact, split: str) -> Any:
        return tfxio.TFExampleRecord(file_pattern=files(art, split), schema=schema,
                                     telemetry_descriptors=["beampipe", "Transform"])

    # Ordered reads on the local runner: TFT's float analyzers (mean, variance) then add up in
    # the same order every run, and each split is transformed as one stream, so Beam's sink
    # writes the transformed examples in input order: both reproduce byte for byte.
    in_order = reads_in_order(ctx.beam_pipeline_args)
    # Local runner, local files: batches read and shards written by our own DoFns, one Beam
    # element a batch (example_batches); same batches, same records, same bytes.
    fast = _FAST_IO and in_order and not any(
        uri.is_remote(u) for u in (target.uri, out["transformed_examples"].uri))

    # The analysis read of the target's splits keeps its decoded batches (held_batches, in
    # bounded memory) for the transform read of the same split, which decodes only the rest.
    run_id = uuid.uuid4().hex
    if fast:
        held.update({split: f"{run_id}-{split}" for split in analyze if split in transform})

    def read(label: str, art: Artifact, split: str, transform_pass: bool = False) -> Any:
        batches = _TRANSFORM_BATCHES if transform_pass else 1
        if not fast:
            return read_record_batches(p, label, source(art, split), files(art, split), in_order)
        token = held.get(split, "") if art is target else ""
        if not transform_pass:
            return example_batches.read_record_batches(p, label, files(art, split), schema, _BATCH, keep=token)
        reuse = (token, batches, not held_for_stats) if token else None
        return example_batches.read_record_batches(p, label, files(art, split), schema, _BATCH * batches,
                                                   reuse=reuse)

    stats = beam_stats
    materialize = ctx.prop("materialize", True)
    temp_dir = ctx.temp_dir or tempfile.mkdtemp(prefix="beampipe-transform-")
    cache_dir = out["updated_analyzer_cache"].uri
    # Memory: a PCollection read by two stages (analysis, and transform waiting for the
    # transform_fn side input) is held whole by Beam's local runners: 5.6 GB at 10M taxi rows.
    # So the transform reads the files itself (pre-transform statistics share the analysis read,
    # same stage), and TFT deep-copies its input across analysis phases, as TFX does.
    # The TFT context stays open until the pipeline has run (it exits last).
    with tft_beam.Context(temp_dir=os.path.join(temp_dir, "tft"), use_deep_copy_optimization=True,
                          force_tf_compat_v1=bool(ctx.prop("force_tf_compat_v1", False))), \
            _beam_pipeline(ctx) as p:
        adapter_config = source(target, analyze[0]).TensorAdapterConfig()
        analysis_data, target_reads = {}, {}
        for art in examples_list:
            for split in analyze:
                key = analyzer_cache.DatasetKey(_dataset_key(art, split))
                analysis_data[key] = read(f"Read[{key.key}]", art, split)
                if art is target:
                    target_reads[split] = analysis_data[key]
        keys = sorted(analysis_data)
        input_cache = (p | "ReadCache" >> analyzer_cache.ReadAnalysisCacheFromFS(cache_dir, keys)
                       if use_cache else {})
        transform_fn, output_cache = ((analysis_data, input_cache, adapter_config)
                                      | "Analyze" >> tft_beam.AnalyzeDatasetWithCache(preprocessing_fn))
        if fast and not uri.is_remote(cache_dir):  # one step writes every file, same bytes
            analysis_cache_io.write_analysis_cache(p, output_cache, cache_dir, keys, "WriteCache")
        else:
            _ = output_cache | "WriteCache" >> analyzer_cache.WriteAnalysisCacheToFS(p, cache_dir, keys)
        _ = transform_fn | "WriteTransformFn" >> tft_beam.WriteTransformFn(out["transform_graph"].uri)

        for split in transform:
            if not (materialize or (stats and split in analyze)):
                continue
            # Rows are transformed one by one: larger batches, fewer TF calls. Statistics
            # still see the batches of _BATCH rows they always saw (same float sums).
            pcoll = read(f"ReadTransform[{split}]", target, split, transform_pass=True)
            transformed, _ = (((pcoll, adapter_config), transform_fn)
                              | f"Transform[{split}]" >> tft_beam.TransformDataset(output_record_batches=True))
            batches = transformed | f"Batches[{split}]" >> beam.Map(lambda pair: pair[0])
            if materialize and fast:
                example_batches.write_example_shards(batches, f"Write[{split}]",
                                                     out["transformed_examples"].split_uri(split))
            elif materialize:
                _ = (batches
                     | f"Encode[{split}]" >> beam.FlatMap(_encode, example_coder.RecordBatchToExamplesEncoder())
                     | f"Write[{split}]" >> beam.io.WriteToTFRecord(
                         out["transformed_examples"].shard_prefix(split), file_name_suffix=Examples.SHARD_SUFFIX,
                         compression_type=beam.io.filesystem.CompressionTypes.GZIP))
            if stats and split in analyze:
                stats_batches = (batches | f"Slices[{split}]" >> beam.FlatMap(example_batches.slices, _BATCH)
                                 if fast else batches)
                _ = (stats_batches | f"PostStats[{split}]" >> tfdv.GenerateStatistics()
                     | f"WritePostStats[{split}]" >> tfdv.WriteStatisticsToBinaryFile(
                         _stats_path(out["post_transform_stats"], split)))
        if stats:
            for split in analyze:
                _ = (target_reads[split]
                     | f"PreStats[{split}]" >> tfdv.GenerateStatistics(tfdv.StatsOptions(schema=schema))
                     | f"WritePreStats[{split}]" >> tfdv.WriteStatisticsToBinaryFile(
                         _stats_path(out["pre_transform_stats"], split)))


def _beam_pipeline(ctx: ExecContext) -> Any:
    """The node's pipeline, pickled with cloudpickle unless the args name a pickler.

    Beam's default, dill, sends the user's module-file functions by reference, and worker
    processes cannot import the module under its generated name (``fn_args`` registers it
    with cloudpickle to travel by value); in this process cloudpickle is also the faster one.
    """
    from beampipe.transforms.beam_util import in_process_pickler
    return ctx.beam_pipeline(in_process_pickler(ctx.beam_pipeline_args))


def _encode(batch: Any, encoder: Any) -> list[bytes]:
    """tf.Examples with their features in name order.

    tfx-bsl's C++ encoder writes each example's feature map in hash order, which differs
    from example to example and from run to run; parsing and re-serializing with
    ``deterministic=True`` makes the bytes depend on the values only.
    """
    from tensorflow.core.example import example_pb2
    parse = example_pb2.Example.FromString
    return [parse(record).SerializeToString(deterministic=True) for record in encoder.encode(batch)]


def _stats_path(stats: ExampleStatistics, split: str) -> str:
    """Where a Beam sink writes one split's statistics (its directory made first)."""
    os.makedirs(stats.split_uri(split), exist_ok=True)
    return stats.stats_file(split)


def _write_post_schema(graph_uri: str, out: Schema) -> Any:
    import tensorflow_transform as tft

    schema = tft.TFTransformOutput(graph_uri).transformed_metadata.schema
    with open(out.schema_file(), "w") as f:
        f.write(str(schema))
    return schema


def _write_anomalies(stats: ExampleStatistics, schema_art: Schema, out: ExampleAnomalies,
                     splits: list[str]) -> None:
    """Validate post-transform statistics against the post-transform schema, per split."""
    import tensorflow_data_validation as tfdv

    schema = tfdv.load_schema_text(schema_art.schema_file())
    for split in splits:
        anomalies = tfdv.validate_statistics(tfdv.load_stats_binary(stats.stats_file(split)), schema)
        os.makedirs(out.split_uri(split), exist_ok=True)
        with open(out.anomalies_file(split), "wb") as f:
            f.write(anomalies.SerializeToString(deterministic=True))  # its map in key order
