"""TFDV statistics of any size without Beam, equal to what ``tfdv.GenerateStatistics`` gives
on the local runner with an in-order read (``beam_util.read_record_batches``).

Beam costs seconds of graph building and a per-element toll that, at millions of rows,
dominates the statistics themselves. This module makes the SAME calls the Beam path makes,
in the same order, on the same batches, in this process:

- records are read in file order and cut into batches of 1,000 (tfx-bsl's batch size for
  the in-order read), each decoded on its own, untyped, as ``TFExampleRecord`` does (the
  regular records ExampleGen writes by ``example_decode``'s numpy decoder, ten batches at a
  time, to the same Arrow batches, typed by a schema with ``typed_decode``; anything else by
  tfx-bsl);
- the combiner generators run inside TFDV's own ``_CombinerStatsGeneratorsCombineFn``,
  driven as the DirectRunner drives the lifted, hot-key-fanned ``CombinePerKey`` (traced:
  one accumulator, add_input per batch, compact, then the pre/post combine's merges with an
  empty accumulator and pickled hand-overs), so float sums and sketches match bit for bit;
- top-k and unique counts, a Beam transform in TFDV, are counted exactly here with TFDV's
  own per-batch tuples, and ranked as ``beam.combiners.Top`` ranks (count, then value);
- the parts are merged by tfx-bsl's ``merge_dataset_feature_statistics``, as Beam does.

Memory is one batch plus the accumulators (plus one count per distinct categorical value,
as on Beam). Options this does not reproduce (slicing, feature partitions, weighted top-k,
custom transform generators) make ``supported`` false: those go through Beam.
"""
from __future__ import annotations

import pickle
from typing import Any, Iterable, Iterator

BATCH_SIZE = 1000  # beam_util.read_record_batches' batch size: the batches must be the same
COUNT_BATCH_ROWS = 10_000  # top-k counts are exact at any batching: count this many rows at a time
DECODE_GROUP_ROWS = 10_000  # records decoded at once by ``example_decode`` (numpy's per-call cost)


def _generators(options: Any) -> tuple[list[Any], list[Any]]:
    """(combiner generators, top-k/uniques transform generators) that Beam would run."""
    from tensorflow_data_validation.statistics import stats_impl
    from tensorflow_data_validation.statistics.generators import stats_generator, top_k_uniques_stats_generator
    combiners, topk = [], []
    for gen in stats_impl.get_generators(options):
        if isinstance(gen, stats_generator.CombinerStatsGenerator):
            combiners.append(gen)
        elif isinstance(gen, top_k_uniques_stats_generator.TopKUniquesStatsGenerator):
            topk.append(gen)
        else:
            raise NotImplementedError(f"generator {type(gen).__name__} needs Beam")
    return combiners, topk


def supported(options: Any) -> bool:
    """Whether these options give, without Beam, exactly the Beam path's statistics."""
    if (options.slicing_config or options.experimental_slice_functions or options.experimental_slice_sqls
            or options.experimental_num_feature_partitions != 1
            or options.experimental_result_partitions != 1
            or options.example_weight_map.all_weight_features()):
        return False
    try:
        _generators(options)
    except NotImplementedError:
        return False
    return True


class _TopKUniques:
    """TFDV's TopKUniquesStatsGenerator (a Beam transform), counted in a dict."""

    def __init__(self, generator: Any) -> None:
        transform = generator.ptransform  # its settings, as the Beam path would use them
        self._bytes_features = transform._bytes_features
        self._categorical = transform._categorical_numeric_types
        self._weights = transform._example_weight_map
        self._num_top = transform._num_top_values
        self._threshold = transform._frequency_threshold
        self._rank_buckets = transform._num_rank_histogram_buckets
        self._counts: dict[tuple[Any, ...], dict[Any, int]] = {}

        self._pending: list[Any] = []
        self._pending_rows = 0

    def add(self, batch: Any) -> None:
        """Counts are exact whatever the batches: count merged batches, fewer calls."""
        self._pending.append(batch)
        self._pending_rows += batch.num_rows
        if self._pending_rows >= COUNT_BATCH_ROWS:
            self._count()

    def _count(self) -> None:
        from tensorflow_data_validation.statistics.generators.top_k_uniques_stats_generator import _to_topk_tuples
        from tfx_bsl.arrow import table_util
        if not self._pending:
            return
        batch = (self._pending[0] if len(self._pending) == 1
                 else table_util.MergeRecordBatches(self._pending))
        self._pending, self._pending_rows = [], 0
        for (_, steps, value), (count, _) in _to_topk_tuples(
                (None, batch), self._bytes_features, self._categorical, self._weights):
            per_value = self._counts.setdefault(steps, {})
            per_value[value] = per_value.get(value, 0) + count

    def outputs(self) -> Iterator[Any]:
        """The per-feature protos Beam's top-k and uniques branches emit."""
        from tensorflow_data_validation.utils import top_k_uniques_stats_util as util
        self._count()
        keep = max(self._num_top, self._rank_buckets)
        for steps, per_value in self._counts.items():
            ranked = sorted(((c, v) for v, c in per_value.items()), reverse=True)[:keep]
            yield util.make_dataset_feature_stats_proto_topk_single(
                feature_path_tuple=steps,
                value_count_list=[util.FeatureValueCount(v, c) for c, v in ranked],
                is_weighted_stats=False, num_top_values=self._num_top,
                frequency_threshold=self._threshold, num_rank_histogram_buckets=self._rank_buckets)
            yield util.make_dataset_feature_stats_proto_unique_single(
                feature_path_tuple=steps, num_uniques=len(per_value))


def _handed_over(accumulator: Any) -> Any:
    """An accumulator as the next Beam stage receives it (Beam pickles between stages)."""
    return pickle.loads(pickle.dumps(accumulator, protocol=pickle.HIGHEST_PROTOCOL))


def statistics_of_batches(batches: Iterable[Any], options: Any) -> Any:
    """The DatasetFeatureStatisticsList of Arrow record batches, as ``tfdv.GenerateStatistics``
    computes it on the DirectRunner when it gets these batches in this order."""
    from tensorflow_data_validation.statistics import stats_impl
    from tensorflow_metadata.proto.v0 import statistics_pb2
    from tfx_bsl.statistics import merge_util

    combiners, topk_generators = _generators(options)
    topk = [_TopKUniques(g) for g in topk_generators]
    allowlist = options.feature_allowlist
    combine = stats_impl._CombinerStatsGeneratorsCombineFn(combiners, options.desired_batch_size) \
        if combiners else None
    if combine is not None:
        combine.setup()
        acc = combine.create_accumulator()
    seen = False
    for batch in batches:
        seen = True
        if allowlist:
            batch = stats_impl._filter_features(batch, feature_allowlist=allowlist)
        if combine is not None:
            acc = combine.add_input(acc, batch)
        for counter in topk:
            counter.add(batch)
    parts: list[Any] = []
    if combine is not None and seen:
        # The DirectRunner's sequence for CombinePerKey(...).with_hot_key_fanout (traced):
        # pre-combine: compact, hand over, merge; post-combine: merge into a fresh
        # accumulator, compact, hand over, merge; then extract.
        acc = combine.merge_accumulators([_handed_over(combine.compact(acc))])
        post = combine.merge_accumulators([combine.create_accumulator(), _handed_over(acc)])
        post = combine.merge_accumulators([_handed_over(combine.compact(post))])
        parts.append(combine.extract_output(post))
    for counter in topk:
        parts.extend(counter.outputs())
    if not parts:  # Beam's placeholder for empty input
        parts.append(statistics_pb2.DatasetFeatureStatistics())
    return merge_util.merge_dataset_feature_statistics(parts)


def record_batches(files: list[str], decode_schema: Any = None, batch_size: int = BATCH_SIZE,
                   inflate_ahead: bool = False) -> Iterator[Any]:
    """Arrow record batches of gzip TFRecord ``files``: Beam's in-order batches, decoded as
    ``tfxio.TFExampleRecord`` decodes them (untyped unless ``decode_schema`` is given)."""
    for group in batch_groups(files, decode_schema, batch_size, inflate_ahead):
        yield from group


def batch_groups(files: list[str], decode_schema: Any = None, batch_size: int = BATCH_SIZE,
                 inflate_ahead: bool = False) -> Iterator[list[Any]]:
    """:func:`record_batches` in lists (one per ``DECODE_GROUP_ROWS`` records): the unit
    ``decode_process`` hands over. ``inflate_ahead``: inflate in a thread (``tfrecord_read``)."""
    from beampipe.transforms import example_decode, typed_decode
    from beampipe.transforms.tfrecord_read import records_in_batches
    decode = None  # tfx-bsl's, made when first needed
    # Groups of whole batches (so the same batches), decoded at once with numpy when regular.
    for group in records_in_batches(files, batch_size * max(1, DECODE_GROUP_ROWS // batch_size), inflate_ahead):
        if decode_schema is not None:
            decode = decode or decoder(decode_schema).DecodeBatch
            yield typed_decode.decode(group, decode_schema, batch_size, decode)
            continue
        batches = example_decode.record_batches(group, batch_size)
        if batches is None:
            decode = decode or decoder().DecodeBatch
            batches = [decode(group[i:i + batch_size]) for i in range(0, len(group), batch_size)]
        yield batches


def decoder(decode_schema: Any = None) -> Any:
    """tfx-bsl's tf.Example -> Arrow decoder: untyped, or typed by ``decode_schema``."""
    from tfx_bsl.coders import example_coder
    if decode_schema is None:
        return example_coder.ExamplesToRecordBatchDecoder()
    return example_coder.ExamplesToRecordBatchDecoder(decode_schema.SerializeToString())


def statistics_of_files(files: list[str], options: Any, decode_schema: Any = None,
                        batch_size: int = BATCH_SIZE, reader: Any = None) -> Any:
    """Statistics of TFRecord files of tf.Examples, streamed: memory is a few batches.

    ``reader`` (a ``decode_process.DecodeProcess``): read and decode in that child process,
    the same batches in the same order, while this one runs the combiners."""
    batches = (reader.batches(files, decode_schema, batch_size) if reader is not None
               else record_batches(files, decode_schema, batch_size))
    return statistics_of_batches(batches, options)
