"""tfrecord_read (block reader, C CRCs) and fast_crc (Beam's TFRecord CRCs in C, in workers too)."""
from __future__ import annotations

import gzip
import os
import struct

import pytest

from beampipe.transforms import tfrecord_read
from beampipe.transforms.example_io import masked_crc, tfrecords


def _frame(record: bytes) -> bytes:
    head = struct.pack("<Q", len(record))
    return head + struct.pack("<I", masked_crc(head)) + record + struct.pack("<I", masked_crc(record))


RECORDS = [os.urandom(n) for n in (0, 1, 7, 300, 5000, 70_000, 12)] * 3


@pytest.mark.parametrize("block", [5, 64, 4 << 20])
def test_records_round_trip_across_block_boundaries(tmp_path, monkeypatch, block):
    monkeypatch.setattr(tfrecord_read, "READ_BLOCK", block)
    plain, packed = tmp_path / "plain.tfrecord", tmp_path / "packed.gz"
    data = b"".join(_frame(r) for r in RECORDS)
    plain.write_bytes(data)
    # two gzip members, concatenated, as appending writers make them
    packed.write_bytes(gzip.compress(data[:1000]) + gzip.compress(data[1000:]))
    for path in (plain, packed):
        assert list(tfrecords(str(path))) == RECORDS
        assert [r for b in tfrecord_read.records_in_batches([str(path), str(path)], 4) for r in b] == RECORDS * 2
    sizes = [len(b) for b in tfrecord_read.records_in_batches([str(plain), str(packed)], 4)]
    assert sizes == [4] * 10 + [2]  # batches run across files, the last one shorter
    ahead = tfrecord_read.records_in_batches([str(plain), str(packed)], 4, inflate_ahead=True)
    assert [r for b in ahead for r in b] == RECORDS * 2  # inflating in a thread: the same records


def test_corrupt_or_truncated_files_name_the_file(tmp_path):
    good = b"".join(_frame(r) for r in RECORDS[:5])
    twins = _frame(b"same size") + _frame(b"same-size")
    cases = {
        "data.gz": gzip.compress(good[:-1] + bytes([good[-1] ^ 1])),  # data CRC
        "head.tfrecord": good[:8] + bytes([good[8] ^ 1]) + good[9:],  # header CRC
        # a later header whose length was seen before (its CRC is remembered per length)
        "head2.tfrecord": twins[:len(twins) // 2 + 8] + bytes([twins[len(twins) // 2 + 8] ^ 1])
        + twins[len(twins) // 2 + 9:],
        "short.gz": gzip.compress(good[:-3]),
        "cut.gz": gzip.compress(good)[:-20],  # truncated gzip stream
    }
    for name, content in cases.items():
        path = tmp_path / name
        path.write_bytes(content)
        with pytest.raises(ValueError, match=f"{path}: not a TFRecord file"):
            list(tfrecords(str(path)))
        for ahead in (False, True):
            with pytest.raises(ValueError, match=f"{path}: not a TFRecord file"):
                list(tfrecord_read.records_in_batches([str(path)], 10, inflate_ahead=ahead))


def test_beam_writes_what_we_read_and_reads_what_we_write(tmp_path):
    import apache_beam as beam
    from apache_beam.io import tfrecordio

    from beampipe.transforms import beam_util
    with beam_util.make_pipeline([]) as p:
        _ = p | beam.Create(RECORDS) | beam.io.WriteToTFRecord(str(tmp_path / "beam"), shard_name_template="")
    import google_crc32c
    assert tfrecordio._default_crc32c_fn.fn is google_crc32c.value
    assert sorted(tfrecords(str(tmp_path / "beam"))) == sorted(RECORDS)
    ours = tmp_path / "ours.gz"
    ours.write_bytes(gzip.compress(b"".join(_frame(r) for r in RECORDS)))
    from apache_beam.testing.util import assert_that, equal_to
    with beam_util.make_pipeline([]) as p:
        assert_that(p | beam.io.ReadFromTFRecord(str(ours)), equal_to(RECORDS))


def _worker_crc_module(_):
    from apache_beam.io import tfrecordio
    tfrecordio._default_crc32c_fn(b"x")  # picks a function if none was installed
    fn = tfrecordio._default_crc32c_fn.fn
    return f"{getattr(fn, '__module__', '')}:{getattr(fn, '__name__', '')}:{os.getpid()}"


def test_worker_processes_get_the_c_crc(tmp_path):
    """multi_processing workers import the --beam_plugins module that make_pipeline names."""
    import apache_beam as beam

    from beampipe.transforms import beam_util
    out = tmp_path / "seen"
    with beam_util.make_pipeline(["--direct_running_mode=multi_processing", "--direct_num_workers=1"]) as p:
        _ = (p | beam.Create([1]) | beam.Map(_worker_crc_module)
             | beam.io.WriteToText(str(out), shard_name_template=""))
    module, name, pid = out.read_text().strip().split(":")
    assert int(pid) != os.getpid()  # it ran in a worker process
    assert module.startswith("google_crc32c") and name == "value", (module, name)
