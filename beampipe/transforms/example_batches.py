"""Gzip TFRecord files of tf.Examples in and out as Arrow record batches, one Beam element a batch.

Beam costs several microseconds per element; a taxi row costs about as much to decode. Reading
one record per element, then batching (tfx-bsl's ``RawRecordToRecordBatch``), and writing one
record per element (``WriteToTFRecord``, with a pure-Python CRC when python-snappy is absent)
made Beam's bookkeeping the largest cost of Transform. Here a DoFn reads the files itself and
yields decoded batches, and a DoFn encodes and writes whole batches into its shard.

Batches hold ``batch_size`` records of the files read one after another (the last one fewer),
exactly the batches the ordered read of ``beam_util.read_record_batches`` makes, so analyzers
and statistics add up in the same order and give the same bits.
"""
from __future__ import annotations

import os
import struct
import uuid
import zlib
from typing import Any, Iterable, Iterator

from beampipe.metadata import layout
from beampipe.metadata.artifacts import Examples
from beampipe.transforms.example_encode import encode_sorted
from beampipe.transforms.example_io import crc32c_function, masked_crc

_READ_CHUNK = 1 << 20
_FLUSH_BYTES = 1 << 20
_TMP_PREFIX = ".beampipe-shard-"


def iter_tfrecords(path: str) -> Iterator[bytes]:
    """Every record of a TFRecord file (gzip, possibly multi-member, or plain), header CRCs checked.

    Decompresses a megabyte at a time and cuts records out of the buffer: several times
    faster than reading each record's header and body through ``gzip.GzipFile``.
    """
    crc32c = crc32c_function()
    unpack_length, unpack_crc = struct.Struct("<Q").unpack_from, struct.Struct("<I").unpack_from
    with open(path, "rb") as f:
        gz = f.read(2) == b"\x1f\x8b"
        f.seek(0)
        inflate = zlib.decompressobj(31) if gz else None
        buf, pos = b"", 0
        while True:
            raw = f.read(_READ_CHUNK)
            data = raw
            if inflate is not None:
                data = inflate.decompress(raw)
                while inflate.eof and inflate.unused_data:  # the next gzip member
                    rest, inflate = inflate.unused_data, zlib.decompressobj(31)
                    data += inflate.decompress(rest)
            buf, pos = buf[pos:] + data, 0
            end = len(buf)
            while pos + 12 <= end:
                (length,) = unpack_length(buf, pos)
                stop = pos + 16 + length
                if stop > end:
                    break
                if unpack_crc(buf, pos + 8)[0] != masked_crc(buf[pos:pos + 8], crc32c):
                    raise ValueError(f"{path}: not a TFRecord file (bad record header checksum)")
                yield buf[pos + 12:pos + 12 + length]
                pos = stop
            if not raw:
                break
        if pos != len(buf) or (inflate is not None and not inflate.eof and buf):
            raise ValueError(f"{path}: not a TFRecord file (truncated record)")


class ReadRecordBatches:
    """For ``beam.FlatMap`` over one element, the tuple of files: decoded Arrow record batches.

    ``serialized_schema`` types the columns as a tfx-bsl TFXIO source given that schema does.
    """

    def __init__(self, serialized_schema: bytes | None, batch_size: int) -> None:
        self.serialized_schema, self.batch_size = serialized_schema, batch_size
        self._decoder: Any = None

    def __call__(self, files: Iterable[str]) -> Iterator[Any]:
        if self._decoder is None:
            from tfx_bsl.coders import example_coder
            self._decoder = (example_coder.ExamplesToRecordBatchDecoder(self.serialized_schema)
                             if self.serialized_schema else example_coder.ExamplesToRecordBatchDecoder())
        batch: list[bytes] = []
        for path in files:
            for record in iter_tfrecords(path):
                batch.append(record)
                if len(batch) == self.batch_size:
                    yield self._decoder.DecodeBatch(batch)
                    batch = []
        if batch:
            yield self._decoder.DecodeBatch(batch)


def read_record_batches(pipeline: Any, label: str, files: list[str], schema: Any,
                        batch_size: int = 1000) -> Any:
    """A PCollection of record batches of ``files`` read in order (one stream, one bundle)."""
    import apache_beam as beam
    serialized = schema.SerializeToString() if schema is not None else None
    return (pipeline | f"{label}Files" >> beam.Create([tuple(files)], reshuffle=False)
            | f"{label}Batches" >> beam.FlatMap(ReadRecordBatches(serialized, batch_size)))


def slices(batch: Any, rows: int) -> Iterator[Any]:
    """A record batch cut into batches of ``rows`` rows (zero-copy)."""
    for start in range(0, batch.num_rows, rows):
        yield batch.slice(start, rows)


class _Writer:
    """A gzip TFRecord file as Beam's sink writes it: zlib level 6, gzip header with mtime 0."""

    def __init__(self, path: str) -> None:
        self.path = path
        self._file = open(path, "wb")
        self._zip = zlib.compressobj(zlib.Z_DEFAULT_COMPRESSION, zlib.DEFLATED, 31)
        self._crc32c = crc32c_function()
        self._buffer = bytearray()

    def write_all(self, records: Iterable[bytes]) -> None:
        crc32c, pack_length, pack_crc = self._crc32c, struct.Struct("<Q").pack, struct.Struct("<I").pack
        buffer = self._buffer
        for record in records:
            length = pack_length(len(record))
            buffer += length
            buffer += pack_crc(masked_crc(length, crc32c))
            buffer += record
            buffer += pack_crc(masked_crc(record, crc32c))
        if len(buffer) >= _FLUSH_BYTES:
            self._file.write(self._zip.compress(buffer))
            buffer.clear()

    def close(self) -> None:
        self._file.write(self._zip.compress(self._buffer) + self._zip.flush())
        self._file.close()


class _WriteBundle:
    """DoFn body: encode each record batch and write it into this bundle's temporary shard."""

    def __init__(self, split_dir: str) -> None:
        self.split_dir = split_dir
        self._writer: _Writer | None = None

    def start_bundle(self) -> None:
        self._writer = None

    def process(self, batch: Any) -> Iterator[Any]:
        if self._writer is None:
            os.makedirs(self.split_dir, exist_ok=True)
            self._writer = _Writer(os.path.join(self.split_dir, f"{_TMP_PREFIX}{uuid.uuid4().hex}"))
        self._writer.write_all(encode_sorted(batch))
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
