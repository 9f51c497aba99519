"""Small inputs run in-process whatever DirectRunner parallelism the Beam args ask for."""
from __future__ import annotations

import os

from beampipe.transforms import small_input

TFX_ARGS = ["--direct_running_mode=multi_processing", "--direct_num_workers=0"]  # TFX's penguin example


def _data(tmp_path, size: int) -> str:
    folder = tmp_path / "Split-train"
    folder.mkdir()
    (folder / "data_tfrecord-00000-of-00001.gz").write_bytes(b"x" * size)
    return str(folder)


def test_only_direct_parallelism():
    assert small_input.only_direct_parallelism([])
    assert small_input.only_direct_parallelism(TFX_ARGS)
    assert small_input.only_direct_parallelism(["--runner=DirectRunner", "--direct_num_workers", "4"])
    assert small_input.only_direct_parallelism(["--runner", "direct", "--direct_running_mode=in_memory"])
    assert not small_input.only_direct_parallelism(["--runner=DataflowRunner", *TFX_ARGS])
    assert not small_input.only_direct_parallelism([*TFX_ARGS, "--temp_location=/tmp/x"])
    assert not small_input.only_direct_parallelism(["--experiments=use_runner_v2"])


def test_small_data_drops_parallelism_only(tmp_path):
    small = _data(tmp_path, 1000)
    assert small_input.in_process_args(TFX_ARGS, [small]) == []
    assert small_input.in_process_args(["--runner=DirectRunner", *TFX_ARGS], [small]) == []
    other = [*TFX_ARGS, "--temp_location=/tmp/x"]
    assert small_input.in_process_args(other, [small]) == other
    assert small_input.in_process_args([], [small]) == []


def test_large_or_remote_data_keeps_args(tmp_path, monkeypatch):
    monkeypatch.setattr(small_input, "SMALL_MAX_BYTES", 500)
    assert small_input.in_process_args(TFX_ARGS, [_data(tmp_path, 1000)]) == TFX_ARGS
    assert small_input.in_process_args(TFX_ARGS, ["gs://bucket/examples/Split-train"]) == TFX_ARGS
    assert not os.path.exists("gs:")


def test_for_node_reads_examples_inputs_and_input_base(tmp_path, monkeypatch):
    """What the launcher gives each node: TFX's args dropped for small example data (its Examples
    inputs, or an ExampleGen's input_base), kept for large data and for nodes without any."""
    from beampipe.metadata.artifacts import Examples, Model

    examples = Examples(str(tmp_path / "examples"))
    os.makedirs(examples.split_uri("train"))
    with open(os.path.join(examples.split_uri("train"), "data_tfrecord-00000-of-00001.gz"), "wb") as f:
        f.write(b"x" * 1000)
    csv_dir = tmp_path / "csv"
    csv_dir.mkdir()
    (csv_dir / "data.csv").write_text("a,b\n1,2\n")
    model = Model(str(tmp_path / "model"))
    assert small_input.for_node(TFX_ARGS, {"examples": [examples], "model": [model]}, {}) == []
    assert small_input.for_node(TFX_ARGS, {}, {"input_base": str(csv_dir)}) == []
    assert small_input.for_node(TFX_ARGS, {"model": [model]}, {}) == TFX_ARGS  # no example data
    assert small_input.for_node(["--temp_location=/t"], {"examples": [examples]}, {}) == ["--temp_location=/t"]
    monkeypatch.setattr(small_input, "SMALL_MAX_BYTES", 500)
    assert small_input.for_node(TFX_ARGS, {"examples": [examples]}, {}) == TFX_ARGS

