"""ExampleDiff on penguin data: a changed feature is reported as skewed (counts, sample, match stats in
TFX's files), an identical pair is not; split pairs and the config are checked."""
from __future__ import annotations

import csv
import json
import os
import re

import pytest

import beampipe as tfx
from beampipe.components.base import Channel, ExecContext, WiringError
from beampipe.components.example_diff import ExampleDiff, read_results
from beampipe.components.example_gen import CsvExampleGen
from beampipe.metadata.artifacts import Examples, ExamplesDiff
from beampipe.proto.data import Output, SplitConfig
from tests.components.test_example_gen import run_example_gen
from tests.conftest import PENGUIN_CSV

CHANGED_EVERY = 10  # the test copy adds 1 g to body_mass_g in every 10th row


def write_copy(folder, change: bool) -> str:
    """Penguin CSV plus an ``id`` column (the row number); optionally with body_mass_g changed."""
    os.makedirs(folder, exist_ok=True)
    with open(PENGUIN_CSV) as src, open(os.path.join(folder, "data.csv"), "w", newline="") as dst:
        reader, writer = csv.reader(src), csv.writer(dst, lineterminator="\n")
        header = next(reader)
        writer.writerow(["id"] + header)
        mass = header.index("body_mass_g")
        for i, row in enumerate(reader):
            if change and i % CHANGED_EVERY == 0 and row[mass]:
                row[mass] = str(int(row[mass]) + 1)
            writer.writerow([str(i)] + row)
    return str(folder)


@pytest.fixture(scope="module")
def examples(tmp_path_factory):
    """Two CsvExampleGen runs split on ``id``, so a row lands in the same split in both."""
    tmp = tmp_path_factory.mktemp("diff")
    output = Output(split_config=SplitConfig(splits=[SplitConfig.Split(name="train", hash_buckets=2),
                                                     SplitConfig.Split(name="eval", hash_buckets=1)],
                                             partition_feature_name="id"))
    made = {}
    for name, change in (("base", False), ("test", True)):
        gen = CsvExampleGen(input_base=write_copy(tmp / f"{name}_csv", change), output_config=output)
        made[name] = run_example_gen(gen, tmp, f"{name}_examples")
    return made


def run_diff(test: Examples, base: Examples, tmp_path, **kwargs) -> ExamplesDiff:
    channel = Channel(Examples)
    component = ExampleDiff(channel, channel, **kwargs)
    ctx = ExecContext(node_id="ExampleDiff", run_id="r1", pipeline_name="t", pipeline_root=str(tmp_path),
                      inputs={"examples": [test], "baseline_examples": [base]},
                      outputs={"example_diff_result": [ExamplesDiff(uri=str(tmp_path / "diff"))]},
                      exec_properties=component.exec_properties, temp_dir=str(tmp_path / "tmp"))
    ExampleDiff.execute(ctx)
    return ctx.output("example_diff_result")


def config(**skew):
    return tfx.proto.ExampleDiffConfig(paired_example_skew=tfx.proto.PairedExampleSkew(
        identifier_features=["id"], **skew))


def test_changed_feature_is_skewed(examples, tmp_path):
    out = run_diff(examples["test"], examples["base"], tmp_path, config=config(skew_sample_size=3),
                   include_split_pairs=[("train", "train")])
    assert os.path.isdir(out.split_pair_uri("train", "train"))
    assert not os.path.exists(out.split_pair_uri("eval", "eval"))  # only the included pair
    skew = {s.feature_name: s for s in read_results(out, "train", "train", out.SKEW_STATS)}
    assert "id" not in skew and set(skew) >= {"species", "island", "body_mass_g"}
    mass = skew["body_mass_g"]
    assert mass.mismatch_count > 0 and mass.diff_count == mass.mismatch_count
    assert mass.match_count > 5 * mass.mismatch_count  # about one row in ten changed
    assert all(s.diff_count == 0 for name, s in skew.items() if name != "body_mass_g")
    [match] = read_results(out, "train", "train", out.MATCH_STATS)
    assert match.matching_pairs_count == skew["species"].base_count  # every row has a species
    assert match.ids_missing_in_test_count == 0 and match.ids_missing_in_base_count == 0
    sample = read_results(out, "train", "train", out.SAMPLE_PAIRS)
    assert len(sample) == 3 and all(p.mismatched_features == ["body_mass_g"] for p in sample)
    assert out.get_int_custom_property("skew_found") == 1
    assert json.loads(out.get_string_custom_property("skewed_features")) == {"train_train": ["body_mass_g"]}
    from beampipe.views import render_artifact  # the UI's view reads the same files
    html = render_artifact(out)
    assert "train vs train" in html and f"{match.matching_pairs_count} matching pairs" in html
    # columns: feature, base, test, match, base only, test only, mismatch, diff
    assert re.search(rf'<td>body_mass_g</td>(<td[^>]*>[^<]*</td>){{5}}<td class="n" data-v="{mass.mismatch_count}">',
                     html)


def test_identical_pair_has_no_skew_on_every_split_pair(examples, tmp_path):
    out = run_diff(examples["base"], examples["base"], tmp_path, config=config())
    found = json.loads(out.get_string_custom_property("skewed_features"))
    assert set(found) == {"train_train", "train_eval", "eval_train", "eval_eval"}
    assert all(names == [] for names in found.values())
    assert out.get_int_custom_property("skew_found") == 0
    [match] = read_results(out, "eval", "eval", out.MATCH_STATS)
    assert match.matching_pairs_count > 0 and match.ids_missing_in_base_count == 0
    [cross] = read_results(out, "train", "eval", out.MATCH_STATS)  # disjoint ids: nothing pairs
    assert cross.matching_pairs_count == 0 and cross.ids_missing_in_base_count > 0


def test_config_and_split_pairs_are_checked(examples, tmp_path):
    channel = Channel(Examples)
    with pytest.raises(WiringError, match="identifier_features"):
        ExampleDiff(channel, channel, config=tfx.proto.ExampleDiffConfig())
    with pytest.raises(ValueError, match="serving_train"):
        run_diff(examples["base"], examples["base"], tmp_path, config=config(),
                 include_split_pairs=[("serving", "train")])
    component = ExampleDiff(channel, channel, config=config(skew_sample_size=5))
    assert component.exec_properties["example_diff_config"] == {
        "paired_example_skew": {"identifier_features": ["id"], "skew_sample_size": 5}}  # TFX's JSON form
    assert set(component.outputs) == {"example_diff_result"}
    assert tfx.components.ExampleDiff is ExampleDiff
    assert tfx.types.standard_artifacts.ExamplesDiff is ExamplesDiff


@pytest.mark.e2e
def test_in_a_pipeline_recorded_and_cached(tmp_path):
    """Wired as a TFX user writes it, run by the local runner: ExamplesDiff LIVE in MLMD, then cached."""
    from beampipe.metadata.store import MetadataStore
    from beampipe.orchestration.local_runner import LocalDagRunner
    from beampipe.orchestration.pipeline import Pipeline

    def build() -> Pipeline:
        output = tfx.proto.Output(split_config=tfx.proto.SplitConfig(
            splits=[tfx.proto.SplitConfig.Split(name="train", hash_buckets=1)], partition_feature_name="id"))
        base = tfx.components.CsvExampleGen(input_base=write_copy(tmp_path / "b", False),
                                            output_config=output).with_id("BaseGen")
        test = tfx.components.CsvExampleGen(input_base=write_copy(tmp_path / "t", True),
                                            output_config=output).with_id("TestGen")
        diff = tfx.components.ExampleDiff(examples_test=test.outputs["examples"],
                                          examples_base=base.outputs["examples"], config=config())
        return tfx.dsl.Pipeline(pipeline_name="diff", pipeline_root=str(tmp_path / "root"),
                                components=[base, test, diff])

    first = LocalDagRunner().run(build())
    assert first.status == "COMPLETE", [(r.node_id, r.error) for r in first.failed]
    store = MetadataStore(os.path.join(str(tmp_path / "root"), "metadata.sqlite"))
    [result] = store.artifacts_of(first.nodes["ExampleDiff"].execution_id)["example_diff_result"]
    store.close()
    assert result.type_name == "ExamplesDiff" and result.state == "LIVE"
    assert json.loads(result.custom_properties["skewed_features"]) == {"train_train": ["body_mass_g"]}
    second = LocalDagRunner().run(build())
    assert second.nodes["ExampleDiff"].status == "CACHED"


def test_building_loads_no_ml_library():
    """Wiring ExampleDiff and using tfx.dsl.io.fileio / tfx.utils in a pipeline file stay light."""
    import subprocess
    import sys
    code = ("import sys, beampipe as tfx\n"
            "c = tfx.components.CsvExampleGen(input_base='/tmp')\n"
            "tfx.components.ExampleDiff(c.outputs['examples'], c.outputs['examples'],\n"
            "    config=tfx.proto.ExampleDiffConfig(tfx.proto.PairedExampleSkew(identifier_features=['id'])))\n"
            "tfx.dsl.io.fileio.exists('/tmp'); tfx.utils.parse_pbtxt_file\n"
            "print([m for m in ('tensorflow', 'apache_beam', 'tensorflow_data_validation', 'google.protobuf')\n"
            "       if m in sys.modules])\n")
    root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         env={**os.environ, "PYTHONPATH": root})
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "[]"
