"""``analysis_cache_io`` writes TFRecord files as Beam's sink writes them, byte for byte.

Transform's own outputs (the analyzer cache among them) are compared with TFT's writer in
tests/components/test_transform_fast_io.py and test_transform.py.
"""
from __future__ import annotations

import glob
import os
import random

import apache_beam as beam
import pytest

from beampipe.transforms.analysis_cache_io import ONLY_SHARD
from beampipe.transforms.example_io import tfrecords, write_tfrecords


@pytest.mark.parametrize("records", [[], [b"one"], [b"", b"x" * 70000, bytes(range(256)) * 3],
                                     [random.Random(i).randbytes(i * 997 % 40000) * 2 for i in range(120)]],
                         ids=["none", "one", "three", "over-a-chunk"])
@pytest.mark.parametrize("gzip", [True, False])
def test_same_bytes_as_beams_sink(tmp_path, records: list[bytes], gzip: bool) -> None:
    suffix = ".gz" if gzip else ""
    with beam.Pipeline(runner="DirectRunner") as p:
        _ = (p | beam.Create(records, reshuffle=False)
             | beam.io.WriteToTFRecord(str(tmp_path / "beam"), file_name_suffix=suffix))
    [beam_file] = glob.glob(str(tmp_path / "beam*"))
    assert os.path.basename(beam_file) == f"beam{ONLY_SHARD}{suffix}"
    ours = str(tmp_path / "sub" / f"ours{ONLY_SHARD}{suffix}")
    write_tfrecords(ours, records, gzip)
    with open(beam_file, "rb") as a, open(ours, "rb") as b:
        assert a.read() == b.read()
    assert list(tfrecords(ours)) == records


def test_records_must_be_bytes(tmp_path) -> None:
    with pytest.raises(TypeError, match="bytes"):
        write_tfrecords(str(tmp_path / "f"), ["text"], True)  # type: ignore[list-item]
