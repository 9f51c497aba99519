"""TFT's analyzer cache written by one Beam step, not four stages for every file.

``tft_beam.analyzer_cache.WriteAnalysisCacheToFS`` writes each cache entry, and each
dataset's metadata, through Beam's TFRecord sink: four or five stages a file (initialize,
write, group, pre-finalize, finalize). On penguin that is 20 of the Transform pipeline's 52
stages, for five files of one record each, and every stage pays Beam's fixed cost.

Here TFT still decides everything (which entries, their file names, the ``MANIFEST`` it
merges with an earlier cache): its ``sink`` argument receives every entry's path and
PCollection. The dataset metadata is taken out of what TFT writes and named as TFT names it.
Then one DoFn, on one impulse, writes every file from side inputs, framed and compressed as
Beam's sink does, in one shard: on a local single-worker run, where Beam's sink writes one
shard too, the same bytes (tests compare them). Local files only: the writer uses ``open``.
"""
from __future__ import annotations

import os
from typing import Any, Iterable

from beampipe.transforms.example_io import write_tfrecords

# Beam's name for the only shard of a sink, and TFT's name for a dataset's metadata file.
ONLY_SHARD = "-00000-of-00001"
METADATA_FILE = "METADATA"


def write_analysis_cache(pipeline: Any, cache: dict[Any, Any], cache_dir: str,
                         dataset_keys: list[Any], label: str) -> None:
    """What ``cache | label >> WriteAnalysisCacheToFS(pipeline, cache_dir, dataset_keys)``
    writes, by one step: ``cache`` maps TFT DatasetKeys to DatasetCaches."""
    import apache_beam as beam
    from tensorflow_transform.beam import analyzer_cache

    files: list[tuple[str, bool]] = []  # (path, gzip), in the order of ``contents``
    contents: list[Any] = []  # PCollections of the records of each file

    class Sink(beam.PTransform):  # type: ignore[misc]
        """TFT's sink for one cache entry: remembers where it goes (``<prefix>-...gz``)."""

        def __init__(self, prefix: str) -> None:
            super().__init__()
            self.prefix = prefix

        def expand(self, records: Any) -> Any:
            files.append((f"{self.prefix}{ONLY_SHARD}.gz", True))
            contents.append(records)
            return beam.pvalue.PDone(records.pipeline)

    entries_only = {}
    for key, dataset_cache in cache.items():
        metadata = dataset_cache.metadata
        if metadata is not None:
            files.append((os.path.join(cache_dir, key.key, f"{METADATA_FILE}{ONLY_SHARD}"), False))
            contents.append(metadata)
        entries_only[key] = analyzer_cache.DatasetCache(dataset_cache.cache_dict, None)
    _ = entries_only | label >> analyzer_cache.WriteAnalysisCacheToFS(pipeline, cache_dir, dataset_keys,
                                                                      sink=Sink)
    if files:
        _ = (pipeline | f"{label}Impulse" >> beam.Impulse()
             | f"{label}Files" >> beam.Map(_write_files, files, *map(beam.pvalue.AsIter, contents)))


def _write_files(_: Any, files: list[tuple[str, bool]], *contents: Iterable[Any]) -> None:
    """Write each file: metadata (not gzip) is TFT's DatasetCacheMetadata, encoded as TFT does."""
    for (path, gzip), values in zip(files, contents):
        records = values if gzip else (m.encode() for m in values)
        write_tfrecords(path, records, gzip)
