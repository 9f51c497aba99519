"""StatisticsGen on the penguin examples: FeatureStats.pb per split, HTML report, exclude_splits."""
from __future__ import annotations

import os

import pytest

from beampipe.components.base import ExecContext
from beampipe.components.example_gen import CsvExampleGen
from beampipe.components.statistics_gen import StatisticsGen
from beampipe.metadata.artifacts import Examples, ExampleStatistics
from tests.components.test_example_gen import run_example_gen


def run_statistics_gen(examples: Examples, out_dir, **kwargs) -> ExampleStatistics:
    component = StatisticsGen(examples=None, **kwargs)  # type: ignore[arg-type]
    ctx = ExecContext(node_id="StatisticsGen", run_id="r1", pipeline_name="t", pipeline_root=str(out_dir),
                      inputs={"examples": [examples]},
                      outputs={"statistics": [ExampleStatistics(uri=str(out_dir))]},
                      exec_properties=component.exec_properties, temp_dir=str(out_dir) + ".tmp")
    StatisticsGen.execute(ctx)
    return ctx.output("statistics")


@pytest.fixture(scope="module")
def penguin_examples(tmp_path_factory) -> Examples:
    from tests.conftest import PENGUIN_CSV
    tmp = tmp_path_factory.mktemp("eg")
    return run_example_gen(CsvExampleGen(input_base=os.path.dirname(os.path.abspath(PENGUIN_CSV))), tmp)


def test_statistics_per_split(penguin_examples, tmp_path):
    import tensorflow_data_validation as tfdv
    stats = run_statistics_gen(penguin_examples, tmp_path / "stats")
    assert stats.splits == ["train", "eval"]
    counts = {}
    for split in stats.splits:
        loaded = tfdv.load_stats_binary(stats.stats_file(split))
        dataset = loaded.datasets[0]
        counts[split] = dataset.num_examples
        names = {f.path.step[0] for f in dataset.features}
        assert {"species", "island", "bill_length_mm", "body_mass_g", "sex", "year"} <= names
        report = open(stats.report_file(split)).read()
        assert report.startswith("<!DOCTYPE html>") and "body_mass_g" in report and "<svg" in report
        assert "facets" not in report.lower() and "http" not in report  # offline: no network fetch
    assert counts["train"] + counts["eval"] == 344
    assert stats.get_int_custom_property("num_examples_train") == counts["train"]


def test_exclude_splits(penguin_examples, tmp_path):
    stats = run_statistics_gen(penguin_examples, tmp_path / "stats", exclude_splits=["eval"])
    assert stats.splits == ["train"]
    assert not os.path.exists(stats.split_uri("eval"))
    with pytest.raises(ValueError, match="exclude_splits names \\['nope'\\]"):
        run_statistics_gen(penguin_examples, tmp_path / "stats2", exclude_splits=["nope"])


def test_in_memory_statistics_equal_beam_statistics(penguin_examples, tmp_path):
    """Small input, no Beam args: computed without Beam, and the same as on Beam."""
    import tensorflow_data_validation as tfdv

    from beampipe.transforms import tfdv_io
    assert tfdv_io.fits_in_memory([penguin_examples.split_uri("train")], [], None)
    mem_stats = run_statistics_gen(penguin_examples, tmp_path / "mem")
    component = StatisticsGen(examples=None)  # type: ignore[arg-type]
    ctx = ExecContext(node_id="StatisticsGen", run_id="r1", pipeline_name="t", pipeline_root=str(tmp_path),
                      inputs={"examples": [penguin_examples]},
                      outputs={"statistics": [ExampleStatistics(uri=str(tmp_path / "beam"))]},
                      exec_properties=component.exec_properties, temp_dir=str(tmp_path / "tmp"),
                      beam_pipeline_args=["--runner=DirectRunner"])
    assert not tfdv_io.fits_in_memory([penguin_examples.split_uri("train")],
                                      ctx.beam_pipeline_args, None)
    StatisticsGen.execute(ctx)
    for split in ("train", "eval"):
        mem = tfdv.load_stats_binary(mem_stats.stats_file(split))
        beam = tfdv.load_stats_binary(ctx.output("statistics").stats_file(split))
        assert mem == beam, split


def test_empty_split_gives_empty_statistics_on_both_paths(tmp_path):
    """A split that got no rows: the same empty statistics with and without Beam."""
    import gzip

    import tensorflow_data_validation as tfdv

    from beampipe.transforms import tfdv_io
    examples = Examples(uri=str(tmp_path / "examples"))
    examples.splits = ["train"]
    os.makedirs(examples.split_uri("train"))
    with gzip.open(examples.shard_uri("train"), "wb"):
        pass
    mem = tfdv.load_stats_binary(run_statistics_gen(examples, tmp_path / "mem").stats_file("train"))
    import apache_beam as beam
    beam_stats = ExampleStatistics(str(tmp_path / "beam"))
    with beam.Pipeline(argv=["--runner=DirectRunner"]) as p:
        tfdv_io.generate_statistics(p, "train", examples.split_uri("train"), beam_stats.stats_file("train"),
                                    tfdv.StatsOptions())
    assert mem == tfdv.load_stats_binary(beam_stats.stats_file("train"))
    assert not mem.datasets[0].features
