"""Statistics without Beam (tfdv_stream) are the Beam path's, bit for bit.

Beam side: ``tfdv_io.generate_statistics`` on the DirectRunner with the in-order read, the
path StatisticsGen takes with Beam args. Compared: the serialized DatasetFeatureStatisticsList
files, byte for byte (so every float sum, quantile and histogram), for several options and
batchings, on taxi-like data through CsvExampleGen and on edge cases written by hand (several
shards, a feature absent from a whole batch, a high-cardinality string, lists).
"""
from __future__ import annotations

import gzip
import os
import random
import struct

import pytest

from beampipe.transforms import tfdv_io, tfdv_stream


def _options() -> dict:
    """Option sets to compare; each a fresh StatsOptions (Beam may mutate options)."""
    import tensorflow_data_validation as tfdv
    return {
        "default": lambda: tfdv.StatsOptions(),
        "component": lambda: tfdv_io.stats_options(None),  # StatisticsGen's: 10,000-row batches
        "merge2500": lambda: tfdv.StatsOptions(desired_batch_size=2500, num_top_values=3,
                                               num_rank_histogram_buckets=5),
        "allowlist": lambda: tfdv.StatsOptions(feature_allowlist=["fare", "company", "payment_type"]),
    }


def _beam_and_stream(split_dir: str, out, options: dict, schema=None) -> None:
    """Each option set's statistics on Beam (one pipeline) and streamed: equal bytes."""
    import apache_beam as beam
    with beam.Pipeline(argv=["--runner=DirectRunner"]) as p:
        for name, make in options.items():
            opts = make()
            if schema is not None:
                opts.schema = schema
            tfdv_io.generate_statistics(p, name, split_dir, str(out / f"beam-{name}.pb"), opts, in_order=True)
    for name, make in options.items():
        opts = make()
        if schema is not None:
            opts.schema = schema
        assert tfdv_stream.supported(opts)
        tfdv_io.statistics_in_memory(split_dir, str(out / f"stream-{name}.pb"), opts)
        beam_bytes = (out / f"beam-{name}.pb").read_bytes()
        assert (out / f"stream-{name}.pb").read_bytes() == beam_bytes, name


@pytest.fixture(scope="module")
def taxi_examples(tmp_path_factory):
    from tests.components.testdata.taxi_examples import taxi_examples as write_taxi_examples
    return write_taxi_examples(tmp_path_factory.mktemp("taxi"), 12_000)


def test_taxi_statistics_equal_beam(taxi_examples, tmp_path):
    _beam_and_stream(taxi_examples.split_uri("train"), tmp_path, _options())


def test_taxi_statistics_with_schema_equal_beam(taxi_examples, tmp_path):
    """A schema makes int features categorical: top-k on ints, and typed stats."""
    import tensorflow_data_validation as tfdv
    from tensorflow_data_validation.statistics import stats_impl
    batches = list(tfdv_stream.record_batches(tfdv_io.example_files(taxi_examples.split_uri("eval")),
                                              batch_size=10**9))
    schema = tfdv.infer_schema(stats_impl.generate_statistics_in_memory(batches[0], tfdv.StatsOptions()))
    tfdv.get_feature(schema, "pickup_community_area").int_domain.is_categorical = True
    opts = _options()
    _beam_and_stream(taxi_examples.split_uri("eval"), tmp_path, {k: opts[k] for k in ("default", "merge2500")},
                     schema=schema)


def _write_tfrecords(path: str, records: list[bytes]) -> None:
    from beampipe.transforms.example_io import masked_crc
    with gzip.open(path, "wb") as f:
        for record in records:
            head = struct.pack("<Q", len(record))
            f.write(head + struct.pack("<I", masked_crc(head)) + record + struct.pack("<I", masked_crc(record)))


def _edge_case_examples(n: int, seed: int, regular: bool = False) -> list[bytes]:
    """Rows with a feature absent from the whole first batch, a unique id per row (more
    distinct strings than any sketch keeps), multivalent lists and NaN/inf floats.
    ``regular``: every row has every feature, serialized as ExampleGen does (the numpy decoder's case)."""
    import tensorflow as tf
    rng = random.Random(seed)
    out = []
    for i in range(n):
        features = {
            "id": tf.train.Feature(bytes_list=tf.train.BytesList(value=[f"row-{rng.random()}".encode()])),
            "tags": tf.train.Feature(bytes_list=tf.train.BytesList(
                value=[rng.choice([b"a", b"b", b"c", b"\xff\xfe"]) for _ in range(rng.randint(0, 3))])),
            "x": tf.train.Feature(float_list=tf.train.FloatList(
                value=[rng.choice([rng.gauss(0, 1e6), rng.gauss(0, 1e6), float("nan"), 0.0, 1e-30])])),
            "y": tf.train.Feature(float_list=tf.train.FloatList(
                value=[rng.choice([rng.random(), float("-inf"), float("inf")])])),
            "counts": tf.train.Feature(int64_list=tf.train.Int64List(
                value=[rng.randint(-5, 10**12) for _ in range(rng.randint(0, 4))])),
        }
        if i >= 1_200 and not regular:  # none in the first 1,000-row batch: a null column there
            features["late"] = tf.train.Feature(int64_list=tf.train.Int64List(value=[rng.randint(0, 3)]))
        out.append(tf.train.Example(features=tf.train.Features(feature=features)).SerializeToString(
            deterministic=regular))
    return out


def test_edge_cases_over_several_shards_equal_beam(tmp_path):
    split = tmp_path / "Split-train"
    split.mkdir()
    import tensorflow_data_validation as tfdv
    rows = _edge_case_examples(30_300, seed=3)
    for i, (start, end) in enumerate([(0, 700), (700, 12_650), (12_650, 30_300)]):  # batches straddle shards
        _write_tfrecords(str(split / f"data_tfrecord-{i:05d}-of-00003.gz"), rows[start:end])
    opts = _options()
    _beam_and_stream(str(split), tmp_path, {k: opts[k] for k in ("default", "component", "merge2500")})
    # The comparison can see batching: other batch boundaries change the float sums' last bits.
    # (Bytes, not protos: a NaN mean is never == itself.)
    files = tfdv_io.example_files(str(split))
    beam_bytes = (tmp_path / "beam-default.pb").read_bytes()
    for batch_size, same in ((1000, True), (1001, False)):
        stats = tfdv_stream.statistics_of_files(files, tfdv.StatsOptions(), batch_size=batch_size)
        assert (stats.SerializeToString(deterministic=True) == beam_bytes) is same, batch_size


def test_regular_edge_cases_decoded_with_numpy_equal_beam(tmp_path):
    """Every row has every feature: the numpy decoder reads them (checked), Beam's numbers."""
    from beampipe.transforms import example_decode
    split = tmp_path / "Split-train"
    split.mkdir()
    rows = _edge_case_examples(25_300, seed=4, regular=True)
    assert example_decode.record_batches(rows, 1000) is not None
    for i, (start, end) in enumerate([(0, 700), (700, 12_650), (12_650, 25_300)]):
        _write_tfrecords(str(split / f"data_tfrecord-{i:05d}-of-00003.gz"), rows[start:end])
    opts = _options()
    _beam_and_stream(str(split), tmp_path, {k: opts[k] for k in ("default", "component")})


def test_taxi_examples_take_the_numpy_decoder(taxi_examples):
    """So the taxi comparisons with Beam above cover ``example_decode``."""
    from beampipe.transforms import example_decode
    from beampipe.transforms.tfrecord_read import records_in_batches
    for split in ("train", "eval"):
        files = tfdv_io.example_files(taxi_examples.split_uri(split))
        for group in records_in_batches(files, tfdv_stream.DECODE_GROUP_ROWS):
            assert example_decode.record_batches(group, tfdv_stream.BATCH_SIZE) is not None


def test_unsupported_options_go_through_beam():
    import tensorflow_data_validation as tfdv
    assert tfdv_stream.supported(tfdv.StatsOptions())
    assert not tfdv_stream.supported(tfdv.StatsOptions(experimental_slice_functions=[lambda rb: []]))
    assert not tfdv_stream.supported(tfdv.StatsOptions(experimental_result_partitions=2))
    assert not tfdv_stream.supported(tfdv.StatsOptions(weight_feature="w"))
    assert not tfdv_io.skips_beam(["--runner=DirectRunner"], tfdv.StatsOptions())
    assert not tfdv_io.skips_beam(["--direct_num_workers=1"], tfdv.StatsOptions())
    assert tfdv_io.skips_beam([], tfdv.StatsOptions())
    # DirectRunner's worker processes alone: the in-order read's numbers, streamed (decode_process)
    two = ["--direct_num_workers=2", "--direct_running_mode=multi_processing"]
    assert tfdv_io.skips_beam(two, tfdv.StatsOptions())
    assert tfdv_io.skips_beam(["--runner=DirectRunner", *two], tfdv.StatsOptions())
    assert not tfdv_io.skips_beam([*two, "--temp_location=/tmp/x"], tfdv.StatsOptions())
    assert not tfdv_io.skips_beam(two, tfdv.StatsOptions(weight_feature="w"))


def test_statistics_gen_with_options_skips_beam_and_matches_beam(taxi_examples, tmp_path):
    """Non-default options no longer force Beam; the numbers are the Beam path's."""
    import tensorflow_data_validation as tfdv

    from tests.components.test_statistics_gen import run_statistics_gen
    opts = tfdv.StatsOptions(num_top_values=4)
    streamed = run_statistics_gen(taxi_examples, tmp_path / "stream", stats_options=opts)
    for split in ("train", "eval"):
        beam_file = tmp_path / f"beam-{split}.pb"
        import apache_beam as beam
        with beam.Pipeline(argv=["--runner=DirectRunner"]) as p:
            tfdv_io.generate_statistics(p, split, taxi_examples.split_uri(split), str(beam_file),
                                        tfdv_io.stats_options(opts.to_json()), in_order=True)
        with open(streamed.stats_file(split), "rb") as f:
            assert f.read() == beam_file.read_bytes(), split
    assert os.path.exists(streamed.report_file("train"))
