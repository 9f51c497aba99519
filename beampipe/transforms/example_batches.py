"""Gzip TFRecord files of tf.Examples in and out as Arrow record batches, one Beam element a batch.

Beam costs several microseconds per element; a taxi row costs about as much to decode. Reading
one record per element, then batching (tfx-bsl's ``RawRecordToRecordBatch``), and writing one
record per element (``WriteToTFRecord``, with a pure-Python CRC when python-snappy is absent)
made Beam's bookkeeping the largest cost of Transform. Here a DoFn reads the files itself
(``tfrecord_read``, as ``tfdv_stream`` does) and yields decoded batches, and a DoFn encodes
(``batch_encode``) and writes whole batches into its shard.

Batches hold ``batch_size`` records of the files read one after another (the last one fewer),
exactly the batches the ordered read of ``beam_util.read_record_batches`` makes, so analyzers
and statistics add up in the same order and give the same bits. The transform pass may take
its batches from the analysis pass (``held_batches``) instead of decoding them again.
"""
from __future__ import annotations

import os
import uuid
import zlib
from typing import Any, Iterator

from beampipe.metadata import layout
from beampipe.metadata.artifacts import Examples
from beampipe.transforms.batch_encode import encode_sorted
from beampipe.transforms.example_encode import binary_data, frame_records

_FLUSH_BYTES = 1 << 20
_TMP_PREFIX = ".beampipe-shard-"


def read_record_batches(pipeline: Any, label: str, files: list[str], schema: Any,
                        batch_size: int = 1000, keep: str = "", reuse: tuple[str, int, bool] | None = None) -> Any:
    """A PCollection of record batches of ``files`` read in order (one stream, one bundle),
    decoded as a tfx-bsl TFXIO source given ``schema`` decodes them.

    ``keep``: offer the batches to ``held_batches`` under this token. ``reuse=(token, n,
    remove)``: batches of ``n`` kept batches glued together where the store has them
    (``batch_size`` must be ``n`` times the kept batches' size), left there unless ``remove``.
    """
    import apache_beam as beam
    return (pipeline | f"{label}Files" >> beam.Create([tuple(files)], reshuffle=False)
            | f"{label}Batches" >> beam.FlatMap(_record_batches, schema, batch_size, keep, reuse))


def _record_batches(files: tuple[str, ...], schema: Any, batch_size: int, keep: str = "",
                    reuse: tuple[str, int, bool] | None = None) -> Iterator[Any]:
    from beampipe.transforms.tfdv_stream import record_batches
    if reuse:
        return reused_batches(files, schema, batch_size, *reuse)
    # Inflating in a thread (zlib lets go of the GIL) overlaps it with decoding on another core.
    if not keep:
        return record_batches(list(files), schema, batch_size, inflate_ahead=True)
    return _kept_batches(record_batches(list(files), schema, batch_size, inflate_ahead=True), keep)


def _kept_batches(batches: Iterator[Any], token: str) -> Iterator[Any]:
    from beampipe.transforms import held_batches
    index = 0
    for index, batch in enumerate(batches, 1):
        held_batches.keep(token, index - 1, batch)
        yield batch
    held_batches.finish(token, index)


def reused_batches(files: tuple[str, ...], schema: Any, batch_size: int, token: str, glue: int,
                   remove: bool = True) -> Iterator[Any]:
    """The split's batches of ``batch_size`` rows: ``glue`` kept batches at a time while the
    store has them, then decoded from the files (the records before skipped undecoded)."""
    import pyarrow as pa

    from beampipe.transforms import held_batches, typed_decode
    from beampipe.transforms.tfdv_stream import decoder
    from beampipe.transforms.tfrecord_read import records_in_batches
    done = 0
    while (kept := held_batches.take(token, done * glue, glue, remove)) is not None:
        if not kept:  # the split ended
            return
        yield kept[0] if len(kept) == 1 else pa.Table.from_batches(kept).combine_chunks().to_batches()[0]
        done += 1
    decode = decoder(schema).DecodeBatch
    for index, records in enumerate(records_in_batches(list(files), batch_size, inflate_ahead=True)):
        if index >= done:
            yield from typed_decode.decode(records, schema, batch_size, decode)


def slices(batch: Any, rows: int) -> Iterator[Any]:
    """A record batch cut into batches of ``rows`` rows (zero-copy)."""
    for start in range(0, batch.num_rows, rows):
        yield batch.slice(start, rows)


class _Writer:
    """A gzip TFRecord file as Beam's sink writes it: zlib level 6, gzip header with mtime 0.

    Deflating costs about 5 s at a million taxi rows; zlib lets go of the GIL, so a thread deflates
    one buffer while the caller encodes the next (same compressor, same order: same bytes).
    """

    def __init__(self, path: str) -> None:
        from concurrent.futures import ThreadPoolExecutor
        self.path = path
        self._file = open(path, "wb")
        self._zip = zlib.compressobj(zlib.Z_DEFAULT_COMPRESSION, zlib.DEFLATED, 31)
        self._buffer = bytearray()
        self._thread = ThreadPoolExecutor(1, thread_name_prefix="beampipe-deflate")
        self._pending: Any = None  # the buffer being deflated and written

    def _deflate(self, data: bytes) -> None:
        self._file.write(self._zip.compress(data))

    def _wait(self) -> None:
        if self._pending is not None:
            pending, self._pending = self._pending, None
            pending.result()  # its error, if any, raised here

    def write(self, records: Any) -> None:
        """Append serialized records (an Arrow binary array), framed as TFRecords."""
        self._buffer += binary_data(frame_records(records))
        if len(self._buffer) >= _FLUSH_BYTES:
            self._wait()  # one buffer in flight: memory stays bounded
            self._pending = self._thread.submit(self._deflate, bytes(self._buffer))
            self._buffer.clear()

    def close(self) -> None:
        try:
            self._wait()
            self._file.write(self._zip.compress(self._buffer) + self._zip.flush())
        finally:
            self._thread.shutdown(wait=True)
            self._file.close()


class _WriteBundle:
    """DoFn body: encode each record batch and write it into this bundle's temporary shard."""

    def __init__(self, split_dir: str) -> None:
        self.split_dir = split_dir
        self._writer: _Writer | None = None

    def start_bundle(self) -> None:
        self._writer = None

    def process(self, batch: Any) -> Iterator[Any]:
        records = encode_sorted(batch)
        if self._writer is None:
            os.makedirs(self.split_dir, exist_ok=True)
            self._writer = _Writer(os.path.join(self.split_dir, f"{_TMP_PREFIX}{uuid.uuid4().hex}"))
        self._writer.write(records)
        return iter(())

    def finish_bundle(self) -> Iterator[Any]:
        from apache_beam.transforms.window import GlobalWindows
        if self._writer is not None:
            self._writer.close()
            yield GlobalWindows.windowed_value(self._writer.path)
            self._writer = None


def _finalize(temp_paths: list[str], split_dir: str) -> None:
    """Give the bundles' shards their final names (``data_tfrecord-00000-of-00002.gz``, ...).

    Nothing but renames, after every bundle succeeded: a failed run leaves only dot-named
    temporary files in the staging directory that the launcher drops. No data: one empty shard.
    """
    os.makedirs(split_dir, exist_ok=True)
    paths = sorted(temp_paths)
    if not paths:
        empty = os.path.join(split_dir, f"{_TMP_PREFIX}empty")
        _Writer(empty).close()
        paths = [empty]
    for name in os.listdir(split_dir):  # leftovers of retried bundles
        if name.startswith(_TMP_PREFIX) and os.path.join(split_dir, name) not in paths:
            os.remove(os.path.join(split_dir, name))
    for index, path in enumerate(paths):
        os.replace(path, layout.join(split_dir, Examples.shard_name(index, len(paths))))


def write_example_shards(batches: Any, label: str, split_dir: str) -> Any:
    """Write record batches as gzip TFRecord tf.Examples (feature map in name order) into
    ``split_dir``, one shard per bundle, named as Beam's ``WriteToTFRecord`` names them."""
    import apache_beam as beam

    class WriteBundle(beam.DoFn):
        def __init__(self, body: _WriteBundle) -> None:
            self.body = body

        def start_bundle(self) -> None:
            self.body.start_bundle()

        def process(self, batch: Any) -> Iterator[Any]:
            return self.body.process(batch)

        def finish_bundle(self) -> Iterator[Any]:
            return self.body.finish_bundle()

    return (batches | f"{label}Shards" >> beam.ParDo(WriteBundle(_WriteBundle(split_dir)))
            | f"{label}Collect" >> beam.combiners.ToList()
            | f"{label}Finalize" >> beam.Map(_finalize, split_dir))
