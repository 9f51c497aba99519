"""Write gzip TFRecord shards directly, one per (input file, split), for ExampleGen.

Sending every row through Beam (partition, then ``WriteToTFRecord``) costs more than building
the row's tf.Example; here one Beam element is one input file, and the DoFn writes that file's
rows straight into its split shards. Shard names are fixed by the file's index, so a retried
bundle rewrites the same files, and a failed node's staging directory is dropped whole.
"""
from __future__ import annotations

import gzip
import os
from typing import Any, Callable, Iterable

from beampipe.metadata import layout
from beampipe.metadata.artifacts import Examples
from beampipe.transforms.example_io import HashBuckets, crc32c_function, frame

_FLUSH_BYTES = 1 << 20


class TFRecordWriter:
    """A gzip TFRecord file: length, masked CRC of the length, data, masked CRC of the data.

    The gzip header carries no time and no file name (mtime=0, as zlib and Beam write it),
    so the same records give the same bytes on every run.
    """

    def __init__(self, path: str) -> None:
        self.path, self._tmp = path, path + ".part"
        self._raw = open(self._tmp, "wb")
        self._file = gzip.GzipFile(filename="", mode="wb", compresslevel=6, fileobj=self._raw, mtime=0)
        self._buffer = bytearray()
        self._crc32c = crc32c_function()
        self.count = 0

    def write(self, record: bytes) -> None:
        self._buffer += frame(record, self._crc32c)
        self.count += 1
        if len(self._buffer) >= _FLUSH_BYTES:
            self._file.write(self._buffer)
            self._buffer.clear()

    def write_frames(self, frames: bytes | memoryview, count: int) -> None:
        """Append ``count`` records already framed (``example_encode.framed_splits``)."""
        if self._buffer:
            self._file.write(self._buffer)
            self._buffer.clear()
        self._file.write(frames)
        self.count += count

    def close(self) -> None:
        """Finish the file and give it its final name (a half-written one keeps ``.part``)."""
        self._file.write(self._buffer)
        self._file.close()
        self._raw.close()
        os.replace(self._tmp, self.path)

    def abandon(self) -> None:
        self._file.close()
        self._raw.close()
        os.remove(self._tmp)


class WriteFileShards:
    """For beam.FlatMap over (index, path): read one file's keyed examples, write its shards.

    ``split_dirs`` are the output split directories; with ``buckets`` the rows are hash-split
    among them, else (pre-split input) there is one directory. Yields (split dir, count).
    """

    def __init__(self, reader: Callable[[str], Iterable[tuple[bytes, bytes]]], split_dirs: list[str],
                 buckets: list[int] | None, num_files: int) -> None:
        self.reader, self.split_dirs, self.num_files = reader, split_dirs, num_files
        self.buckets = HashBuckets(buckets) if buckets else None

    def __call__(self, element: tuple[int, str]) -> Iterable[tuple[str, int]]:
        index, path = element
        name = Examples.shard_name(index, self.num_files)
        writers = self._open(name)
        fast = getattr(self.reader, "write_shards", None)
        if fast is not None:  # example_encode.ArrowCsvToExamples: whole blocks at a time
            from beampipe.transforms.csv_arrow import Unsupported
            try:
                fast(path, writers, self.buckets.buckets if self.buckets else None)
            except Unsupported:  # start this file again on the Python path
                for writer in writers:
                    writer.abandon()
                writers = self._open(name)
            except BaseException:
                for writer in writers:
                    writer.abandon()
                raise
            else:
                yield from self._close(writers)
                return
        choose: Any = self.buckets
        try:
            for keyed in self.reader(path):
                writers[choose(keyed, len(writers)) if choose is not None else 0].write(keyed[1])
        except BaseException:
            for writer in writers:
                writer.abandon()
            raise
        yield from self._close(writers)

    def _open(self, name: str) -> list[TFRecordWriter]:
        writers = []  # every split gets a shard, possibly empty, as Beam's sink would write
        for split_dir in self.split_dirs:
            os.makedirs(split_dir, exist_ok=True)
            writers.append(TFRecordWriter(layout.join(split_dir, name)))
        return writers

    def _close(self, writers: list[TFRecordWriter]) -> Iterable[tuple[str, int]]:
        for split_dir, writer in zip(self.split_dirs, writers):
            writer.close()
            yield split_dir, writer.count

