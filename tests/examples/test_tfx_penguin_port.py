"""TFX 1.16's own penguin example runs on beampipe with only its import lines changed.

The files come from the tfx 1.16.0 wheel, fetched at test time (``pip download tfx==1.16.0
--no-deps --python-version 3.10 --only-binary=:all:``; cached in ``BEAMPIPE_TFX_WHEEL_DIR`` or
``~/.cache/beampipe-tests/tfx-wheel``); the test skips when the package index is not
reachable. Nothing of TFX is kept in this repository: ``beampipe.utils.tfx_port`` rewrites the
import lines, and the data is rebuilt from ``examples/penguin/data/penguins.csv`` the way
TFX's e2e test lays it out (labelled/day1..3, skewed, unlabelled).
"""
from __future__ import annotations

import csv
import glob
import json
import os
import subprocess
import sys
import zipfile

import pytest

from beampipe.utils.tfx_port import port_file

pytestmark = pytest.mark.e2e

HERE = os.path.dirname(os.path.abspath(__file__))
RAW_CSV = os.path.join(HERE, "..", "..", "examples", "penguin", "data", "penguins.csv")
DRIVER = os.path.join(HERE, "..", "support", "tfx_port_driver.py")
WHEEL = "tfx-1.16.0-py3-none-any.whl"
PENGUIN = "tfx/examples/penguin/"
FILES = ["penguin_pipeline_local.py", "penguin_utils_keras.py", "penguin_utils_base.py"]
CORE_NODES = {"CsvExampleGen", "StatisticsGen", "SchemaGen", "Transform", "Trainer",
              "latest_blessed_model_resolver", "Evaluator", "Pusher"}
EXTRA_NODES = {"RangeConfigGenerator", "span_resolver", "transform_cache_resolver", "Tuner",
               "CsvExampleGen_Unlabelled", "BulkInferrer", "CsvExampleGen_Skewed", "ExampleDiff"}
MEASUREMENTS = [("bill_length_mm", "culmen_length_mm"), ("bill_depth_mm", "culmen_depth_mm"),
                ("flipper_length_mm", "flipper_length_mm"), ("body_mass_g", "body_mass_g")]


def tfx_wheel() -> str:
    """The tfx 1.16.0 wheel (downloaded once), or a skip naming why it could not be had."""
    folder = os.environ.get("BEAMPIPE_TFX_WHEEL_DIR") or os.path.expanduser("~/.cache/beampipe-tests/tfx-wheel")
    path = os.path.join(folder, WHEEL)
    if os.path.isfile(path):
        return path
    os.makedirs(folder, exist_ok=True)
    cmd = [sys.executable, "-m", "pip", "download", "tfx==1.16.0", "--no-deps", "--python-version", "3.10",
           "--only-binary=:all:", "--disable-pip-version-check", "-q", "-d", folder]
    try:
        done = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
    except subprocess.TimeoutExpired:
        pytest.skip("the package index did not answer within 300 s: cannot fetch the tfx 1.16.0 wheel")
    if done.returncode != 0 or not os.path.isfile(path):
        pytest.skip(f"the package index is not reachable, or has no tfx 1.16.0 wheel: {done.stderr[-500:]}")
    return path


def port_penguin(dest: str) -> list[str]:
    """TFX's penguin files from the wheel, ported into ``dest``; returns TFX imports left over."""
    siblings = [f[:-3] for f in FILES]
    left = []
    with zipfile.ZipFile(tfx_wheel()) as wheel:
        for name in FILES:
            original = os.path.join(dest, "original", name)
            os.makedirs(os.path.dirname(original), exist_ok=True)
            with open(original, "wb") as f:
                f.write(wheel.read(PENGUIN + name))
            left += port_file(original, os.path.join(dest, name), siblings)
    return left


def changed_lines(dest: str) -> list[tuple[str, str]]:
    """(original, ported) for every line the port changed."""
    pairs = []
    for name in FILES:
        with open(os.path.join(dest, "original", name)) as a, open(os.path.join(dest, name)) as b:
            pairs += [(x.strip(), y.strip()) for x, y in zip(a, b) if x != y]
    return pairs


def write_penguin_data(data_root: str, spans: bool = False) -> int:
    """TFX's penguin data as its e2e test expects it, rebuilt from the raw penguin CSV: species
    0/1/2, the four measurements min-max scaled (TFX's names), rows with gaps dropped.
    labelled/ holds it (in day1..3 as spans with ``spans``), skewed/ changes one value,
    unlabelled/ has no label column. Returns the number of labelled rows."""
    with open(RAW_CSV) as f:
        rows = [r for r in csv.DictReader(f) if all(r[k] for k, _ in MEASUREMENTS) and r["species"]]
    species = {"Adelie": 0, "Gentoo": 1, "Chinstrap": 2}
    low = {k: min(float(r[k]) for r in rows) for k, _ in MEASUREMENTS}
    high = {k: max(float(r[k]) for r in rows) for k, _ in MEASUREMENTS}
    header = ["species"] + [name for _, name in MEASUREMENTS]
    table = [[str(species[r["species"]])] + [repr((float(r[k]) - low[k]) / (high[k] - low[k])) for k, _ in MEASUREMENTS]
             for r in rows]

    def write(folder: str, name: str, head: list[str], body: list[list[str]]) -> None:
        os.makedirs(os.path.join(data_root, folder), exist_ok=True)
        with open(os.path.join(data_root, folder, name), "w", newline="") as f:
            csv.writer(f, lineterminator="\n").writerows([head] + body)

    for day in ("day1", "day2", "day3") if spans else ("",):
        write(os.path.join("labelled", day), "penguins_processed.csv", header, table)
    skewed = [list(r) for r in table]
    skewed[1][1] = "-1"  # culmen_length_mm of one row: what ExampleDiff's paired skew finds
    write("skewed", "penguins_processed.csv", header, skewed)
    write("unlabelled", "penguins_unlabelled.csv", header[1:], [r[1:] for r in table[::34]])
    return len(table)


def run_ported(tmp_path, **flags) -> tuple[int, str, list[dict]]:
    """Port, lay out the data, run the driver; (exit code, output, one summary per pipeline run)."""
    ported = str(tmp_path / "ported")
    left = port_penguin(ported)
    assert not left, f"TFX imports no rewrite rule covers: {left}"
    data_root = str(tmp_path / "data")
    write_penguin_data(data_root, spans=bool(flags.get("examplegen_input_config")))
    config = {"pipeline_name": "penguin_port", "pipeline_root": str(tmp_path / "root"),
              "data_root": data_root, "module_file": os.path.join(ported, "penguin_utils_keras.py"),
              "accuracy_threshold": 0.1, "serving_model_dir": str(tmp_path / "serving"),
              "metadata_path": str(tmp_path / "metadata" / "metadata.db"), "user_provided_schema_path": None,
              "enable_tuning": False, "enable_bulk_inferrer": False, "enable_example_diff": False,
              "examplegen_input_config": None, "resolver_range_config": None, "beam_pipeline_args": [],
              "enable_transform_input_cache": False, **flags}
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([os.path.join(HERE, "..", ".."),
                                                        os.environ.get("PYTHONPATH", "")]),
           "TF_USE_LEGACY_KERAS": "1", "HOME": str(tmp_path)}  # the file reads $HOME at import
    done = subprocess.run([sys.executable, DRIVER, ported, json.dumps(config)], capture_output=True,
                          text=True, env=env, timeout=3000)
    runs = [json.loads(line[4:]) for line in done.stdout.splitlines() if line.startswith("RUN ")]
    return done.returncode, done.stdout + done.stderr[-20000:], runs


def test_port_changes_import_lines_only(tmp_path):
    ported = str(tmp_path / "ported")
    assert port_penguin(ported) == []
    assert set(changed_lines(ported)) == {
        ("from tfx import v1 as tfx", "import beampipe as tfx"),
        ("from tfx.utils import proto_utils", "from beampipe.utils import proto_utils"),
        ("from tfx.examples.penguin import penguin_utils_base as base", "import penguin_utils_base as base"),
    }
    assert write_penguin_data(str(tmp_path / "data"), spans=True) == 342  # as TFX's peer data
    assert len(glob.glob(str(tmp_path / "data" / "labelled" / "day*" / "*.csv"))) == 3


def test_tfx_penguin_core_pipeline(tmp_path):
    """TFX's e2e ``testPenguinPipelineLocal`` (keras): 7 components and the blessed-model resolver."""
    code, out, runs = run_ported(tmp_path, runs=[None, None])
    assert code == 0, out
    first, second = runs
    assert set(first["nodes"]) == CORE_NODES, out
    assert all(status == "COMPLETE" for status, _ in first["nodes"].values()), out
    assert glob.glob(str(tmp_path / "serving" / "*" / "saved_model.pb"))  # pushed: blessed at 0.1
    # the second run: what TFX's e2e test says (all but Evaluator and Pusher come from the cache)
    cached = {n for n, (status, _) in second["nodes"].items() if status == "CACHED"}
    assert cached >= CORE_NODES - {"Evaluator", "Pusher", "latest_blessed_model_resolver"}, out


def test_tfx_penguin_every_feature(tmp_path):
    """Keras with tuning, bulk inference, example diff, the range configs (ExampleGen's from a
    @component's value artifact, the span resolver's rolling window) and the transform cache,
    run for two dates as TFX's rolling-window e2e test does."""
    code, out, runs = run_ported(tmp_path, enable_tuning=True, enable_bulk_inferrer=True,
                                 enable_example_diff=True, examplegen_input_config=[["test", "day{SPAN}/*"]],
                                 resolver_range_config={"rolling_range": 2}, enable_transform_input_cache=True,
                                 runs=["20220102", "20220103"])
    assert code == 0, out
    assert len(runs) == 2 and set(runs[0]["nodes"]) == CORE_NODES | EXTRA_NODES, out
    first, second = runs
    # The first run has no TransformCache yet: the cache resolver finds none and is skipped, and
    # Transform (whose analyzer_cache input is optional) runs without it, as in TFX.
    assert first["nodes"]["transform_cache_resolver"][0] == "SKIPPED", out
    # On the second date the new model must also beat the blessed first one (the eval config's change
    # threshold): whether it does depends on the short training, so Pusher may be skipped by its Cond.
    pusher = second["nodes"]["Pusher"]
    assert pusher[0] in ("COMPLETE", "CACHED") or pusher == ["SKIPPED", "its condition is false"], out
    for run in runs:
        assert all(status in ("COMPLETE", "CACHED") for node, (status, _) in run["nodes"].items()
                   if not (run is first and node == "transform_cache_resolver")
                   and not (run is second and node == "Pusher")), out
