"""Artifact views on real artifacts: penguin CSV -> CsvExampleGen -> StatisticsGen -> SchemaGen ->
ExampleValidator on the local runner; a shifted copy whose column name and values are
``<script>`` payloads (drift, anomalies, escaping); TFMA's output for the evaluation view."""
from __future__ import annotations

import csv
import glob
import json
import os
import re
import subprocess
import sys

import pytest

from beampipe.metadata.artifacts import Artifact, HyperParameters, ModelEvaluation, PushedModel, TunerResults
from beampipe.views import render_artifact, run_metrics_from_evaluation, standalone_page
from tests.conftest import PENGUIN_CSV

EVIL_COLUMN = "<script>alert(1)</script>"
EVIL_VALUE = "<script>alert(2)</script>"
NUMERIC = ["bill_length_mm", "bill_depth_mm", "flipper_length_mm", "body_mass_g", "year"]
STRINGS = ["species", "island", "sex"]


def _evil_csv(folder: str) -> str:
    """Penguins with body mass +2.5 kg, island mostly a ``<script>`` value, and a ``<script>``
    column: drift on both kinds of feature, a new column and new values as anomalies."""
    os.makedirs(folder, exist_ok=True)
    with open(PENGUIN_CSV) as src, open(os.path.join(folder, "data.csv"), "w", newline="") as dst:
        reader, writer = csv.DictReader(src), csv.writer(dst, lineterminator="\n")
        writer.writerow(list(reader.fieldnames or []) + [EVIL_COLUMN])
        for i, row in enumerate(reader):
            if row["body_mass_g"] not in ("", "NA"):
                row["body_mass_g"] = str(int(row["body_mass_g"]) + 2500)
            if i % 4:
                row["island"] = EVIL_VALUE
            writer.writerow(list(row.values()) + [EVIL_VALUE if i % 3 else "plain"])
    return folder


def _run(root: str, name: str, components: list) -> dict[str, dict[str, list[Artifact]]]:
    """Run on the local runner; each node's output artifacts as recorded in MLMD."""
    from beampipe.metadata.store import MetadataStore
    from beampipe.orchestration.local_runner import LocalDagRunner
    from beampipe.orchestration.pipeline import Pipeline
    result = LocalDagRunner(parallelism=1).run(Pipeline(pipeline_name=name, pipeline_root=root, components=components))
    assert result.status == "COMPLETE", result.nodes
    store = MetadataStore(os.path.join(root, "metadata.sqlite"))
    try:
        return {node: store.artifacts_of(info.execution_id) for node, info in result.nodes.items()}
    finally:
        store.close()


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    """Two runs: the penguin data, and the evil shifted copy checked against the first schema."""
    from beampipe.components.example_gen import CsvExampleGen
    from beampipe.components.example_validator import ExampleValidator
    from beampipe.components.schema_gen import ImportSchemaGen, SchemaGen
    from beampipe.components.statistics_gen import StatisticsGen
    tmp = tmp_path_factory.mktemp("ui")
    gen = CsvExampleGen(input_base=os.path.dirname(os.path.abspath(PENGUIN_CSV)))
    stats = StatisticsGen(examples=gen.outputs["examples"])
    schema = SchemaGen(statistics=stats.outputs["statistics"])
    check = ExampleValidator(statistics=stats.outputs["statistics"], schema=schema.outputs["schema"])
    base = _run(str(tmp / "base"), "base", [gen, stats, schema, check])

    gen2 = CsvExampleGen(input_base=_evil_csv(str(tmp / "evil_data")))
    stats2 = StatisticsGen(examples=gen2.outputs["examples"])
    schema2 = ImportSchemaGen(schema_file=base["SchemaGen"]["schema"][0].schema_file())
    check2 = ExampleValidator(statistics=stats2.outputs["statistics"], schema=schema2.outputs["schema"])
    evil = _run(str(tmp / "evil"), "evil", [gen2, stats2, schema2, check2])
    return {"base": base, "evil": evil, "root": str(tmp)}


def _svgs(html: str) -> list[str]:
    return re.findall(r"<svg .*?</svg>", html, flags=re.S)


def _labels(html: str) -> list[str]:
    return re.findall(r'<svg class="chart"[^>]* aria-label="([^"]*)"', html)


def test_statistics_view_one_histogram_per_numeric_feature_and_top_values(runs):
    stats = runs["base"]["StatisticsGen"]["statistics"][0]
    html = render_artifact(stats)
    labels = _labels(html)
    for split in ("train", "eval"):
        for name in NUMERIC:
            assert labels.count(f"{name} ({split})") == 1, (name, split)
        for name in STRINGS:
            assert labels.count(f"{name}: top values ({split})") == 1, (name, split)
    # one histogram bar per bucket, each with its tooltip
    [body_mass] = [s for s in _svgs(html) if 'aria-label="body_mass_g (train)"' in s]
    assert body_mass.count("<rect") == 10 and body_mass.count("<title>") == 11
    assert "missing" in html and "zeros" in html and "Drift between splits" in html
    assert "view-error" not in html


def test_drifted_pair_is_marked(runs):
    base = runs["base"]["StatisticsGen"]["statistics"][0]
    shifted = runs["evil"]["StatisticsGen"]["statistics"][0]
    html = render_artifact(shifted, compare_to=base)
    [drift_table] = re.findall(r'<table class="drift-table.*?</table>', html, flags=re.S)
    rows: dict[str, str] = {}
    for m in re.finditer(r"<tr[^>]*><td>([^<]+)</td>.*?</tr>", drift_table, flags=re.S):
        rows[m.group(1)] = rows.get(m.group(1), "") + m.group(0)  # train vs train, eval vs eval
    assert rows["body_mass_g"].count('class="drift"') == 2 and "Jensen-Shannon" in rows["body_mass_g"]
    assert rows["island"].count('class="drift"') == 2 and "L-infinity" in rows["island"]
    assert 'class="drift"' not in rows["bill_length_mm"]  # unchanged feature
    assert "threshold" in html and f"#{base.id} train" in html  # base columns shown beside
    unchanged = render_artifact(base, compare_to=base)
    assert "<b class=\"bad\">drift</b>" not in unchanged


def test_anomaly_listed_with_its_rule(runs):
    anomalies = runs["evil"]["ExampleValidator"]["anomalies"][0]
    html = render_artifact(anomalies)
    assert "SCHEMA_NEW_COLUMN" in html and "ENUM_TYPE_UNEXPECTED_STRING_VALUES" in html
    assert "anomalous feature(s)" in html
    clean = render_artifact(runs["base"]["ExampleValidator"]["anomalies"][0])
    assert "no anomalies found" in clean


def test_schema_view(runs):
    html = render_artifact(runs["base"]["SchemaGen"]["schema"][0])
    assert "body_mass_g" in html and "INT" in html and "BYTES" in html
    assert "Adelie, Chinstrap, Gentoo" in html  # the species domain
    assert "required" in html or "min fraction" in html


def test_script_payloads_escaped_everywhere(runs):
    base_stats = runs["base"]["StatisticsGen"]["statistics"][0]
    for art, other in ((runs["evil"]["StatisticsGen"]["statistics"][0], base_stats),
                       (runs["evil"]["ExampleValidator"]["anomalies"][0], None)):
        html = render_artifact(art, compare_to=other)
        assert "<script>alert" not in html
        assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    stats_html = render_artifact(runs["evil"]["StatisticsGen"]["statistics"][0])
    in_svg = "".join(_svgs(stats_html))
    assert "&lt;script&gt;alert(2)&lt;/script&gt;" in in_svg  # a bar label / tooltip inside SVG
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in in_svg  # the feature name in a chart title
    for report in glob.glob(os.path.join(runs["root"], "evil", "**", "report.html"), recursive=True):
        assert "<script>alert" not in open(report, encoding="utf-8").read(), report


def test_reports_are_offline_and_show_the_views(runs):
    reports = glob.glob(os.path.join(runs["root"], "*", "**", "report.html"), recursive=True)
    assert len(reports) == 8  # (statistics + anomalies) x (train + eval) x 2 runs
    for path in reports:
        text = open(path, encoding="utf-8").read()
        assert "http://" not in text and "https://" not in text, path
        assert not re.search(r"<(link|iframe|img|object|embed)\b|\bsrc=|@import|url\(", text), path
    stats_report = open(runs["base"]["StatisticsGen"]["statistics"][0].report_file("eval"), encoding="utf-8").read()
    assert _labels(stats_report).count("body_mass_g (eval)") == 1  # its own split first ...
    assert _labels(stats_report).count("body_mass_g (train)") == 1  # ... the others beside it


REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def assert_renders_without_heavy_imports(artifacts: list[Artifact]) -> None:
    """In a fresh process: import the views, render each artifact (no error note), and find
    no TensorFlow, TFDV, TFMA, tfx-bsl, Keras or Beam module loaded."""
    code = ["import sys, beampipe.views as v", "from beampipe.metadata.artifacts import artifact_class"]
    for art in artifacts:
        code.append(f"a = artifact_class({art.type_name!r})({art.uri!r}); a.properties.update({art.properties!r})")
        code.append("html = v.render_artifact(a); assert html and 'view-error' not in html, html")
    code.append("print(sorted(m for m in sys.modules if m.split('.')[0] in ('tensorflow', 'apache_beam', "
                "'tensorflow_data_validation', 'tensorflow_model_analysis', 'tfx_bsl', 'tf_keras')))")
    out = subprocess.run([sys.executable, "-c", "\n".join(code)], capture_output=True, text=True,
                         env={**os.environ, "PYTHONPATH": REPO}, cwd=REPO)
    assert out.returncode == 0 and out.stdout.strip() == "[]", out.stdout + out.stderr


def test_views_import_nothing_heavy(runs):
    """Importing and rendering loads no TensorFlow, TFDV, TFMA or Beam."""
    assert_renders_without_heavy_imports([runs["base"]["StatisticsGen"]["statistics"][0],
                                          runs["base"]["SchemaGen"]["schema"][0],
                                          runs["evil"]["ExampleValidator"]["anomalies"][0]])


def test_other_types(tmp_path):
    hp = HyperParameters(str(tmp_path / "hp"))
    os.makedirs(hp.uri)
    with open(hp.best_file(), "w") as f:
        json.dump({"space": [{"class_name": "Choice", "config": {"name": "learning_rate", "values": [0.01, 0.001]}}],
                   "values": {"learning_rate": 0.01, "<b>units</b>": 8}}, f)
    html = render_artifact(hp)
    assert "learning_rate" in html and "0.01, 0.001" in html and "&lt;b&gt;units&lt;/b&gt;" in html
    tr = TunerResults(str(tmp_path / "tr"))
    os.makedirs(tr.uri)
    with open(tr.results_file(), "w") as f:
        json.dump([{"trial_id": "01", "score": 0.9, "units": 8}, {"trial_id": "00", "score": 0.7, "units": 4}], f)
    assert "2 trial(s)" in render_artifact(tr)
    from beampipe.metadata.value_artifacts import String
    value = String(str(tmp_path / "v"))
    value.value = EVIL_VALUE
    assert "&lt;script&gt;" in render_artifact(value) and "<script>alert" not in render_artifact(value)
    assert render_artifact(Artifact(str(tmp_path))) == ""  # no view for the type
    page = standalone_page(EVIL_VALUE, render_artifact(value))
    assert type(page) is str and page.count("<title>&lt;script&gt;") == 1  # plain text, not Markup
    pushed = PushedModel(str(tmp_path / "pushed"))
    pushed.custom_properties.update({PushedModel.PUSHED_KEY: 0, "pushed_reason": f"NOT BLESSED: {EVIL_VALUE}"})
    html = render_artifact(pushed)
    assert "Not pushed" in html and "NOT BLESSED: &lt;script&gt;" in html
    missing = render_artifact(ModelEvaluation(str(tmp_path / "nothing")))
    assert "view-error" in missing or "No scalar metrics" in missing


def test_symlink_out_of_the_artifact_is_not_read(tmp_path):
    secret = tmp_path / "secret.json"
    secret.write_text(json.dumps({"values": {"password": "hunter2"}}))
    hp = HyperParameters(str(tmp_path / "hp"))
    os.makedirs(hp.uri)
    os.symlink(secret, hp.best_file())
    html = render_artifact(hp)
    assert "hunter2" not in html and "outside the artifact" in html


# -- ModelEvaluation, Model, ModelBlessing (TFMA: slow) -------------------------------------------


def _plots_config(threshold: float) -> str:
    import tensorflow_model_analysis as tfma
    from google.protobuf import json_format
    from tests.components import model_fixtures as mf
    config = json.loads(json_format.MessageToJson(mf.eval_config_json(threshold)))
    config["metricsSpecs"].append({"metrics": [{"className": "MultiClassConfusionMatrixPlot"}]})
    config["metricsSpecs"].append({"binarize": {"classIds": {"values": [0, 1, 2]}},
                                   "metrics": [{"className": "CalibrationPlot"},
                                               {"className": "ConfusionMatrixPlot"}]})
    return json_format.MessageToJson(json_format.ParseDict(config, tfma.EvalConfig()))


@pytest.mark.e2e
def test_evaluation_view_metrics_blessing_plots(tmp_path_factory, tmp_path):
    from tests.components import model_fixtures as mf
    from tests.components.test_evaluator import run_evaluator
    examples, model = mf.shared(tmp_path_factory, "examples"), mf.shared(tmp_path_factory, "model")
    bad = mf.shared(tmp_path_factory, "bad_model")
    evaluation, blessing = run_evaluator(tmp_path / "a", examples, model, _plots_config(0.6), baseline=bad)
    html = render_artifact(evaluation)
    assert "sparse_categorical_accuracy" in html and "island = Dream" in html
    assert "candidate" in html and "baseline" in html and "change" in html
    assert "All thresholds passed" in html and "&gt;= 0.6" in html
    labels = _labels(html)
    assert any(label.startswith("Calibration") for label in labels), labels
    assert any(label.startswith("ROC") for label in labels) and any(label.startswith("Precision-recall")
                                                                       for label in labels)
    assert 'class="heatmap"' in html  # the multi-class confusion matrix
    metrics = run_metrics_from_evaluation(evaluation)
    assert 0.5 < metrics["sparse_categorical_accuracy"] <= 1 and metrics["example_count"] > 0
    assert "BLESSED" in render_artifact(blessing)
    report = open(evaluation.report_file(), encoding="utf-8").read()
    assert "BLESSED" in report and "sparse_categorical_accuracy" in report and "http" not in report

    refused_eval, refused = run_evaluator(tmp_path / "b", examples, model, _plots_config(1.01))
    assert "Thresholds failed" in render_artifact(refused_eval)
    verdict = render_artifact(refused)
    assert "NOT_BLESSED" in verdict and "sparse_categorical_accuracy" in verdict and "1.01" in verdict

    sigs = render_artifact(model)
    assert "serving_default" in sigs and "transform_features" in sigs and "examples" in sigs
    assert "string" in sigs and "[None]" in sigs
    assert_renders_without_heavy_imports([evaluation, model])


@pytest.mark.parametrize("store", ["s3", "gs"])
def test_views_read_object_stores(runs, store, request, monkeypatch):
    """The same artifacts uploaded to s3:// (SeaweedFS) and gs:// (the GCS emulator) render
    exactly as they do from local disk."""
    import uuid

    from beampipe import io
    from beampipe.io import backends
    server = request.getfixturevalue("s3_server" if store == "s3" else "gcs_server")
    monkeypatch.delenv("GOOGLE_APPLICATION_CREDENTIALS", raising=False)
    for name, value in server.env.items():
        monkeypatch.setenv(name, value)
    backends.clear_cache()
    try:
        prefix = f"{store}://{server.bucket}/ui-{uuid.uuid4().hex[:10]}"
        for node, key in (("StatisticsGen", "statistics"), ("SchemaGen", "schema"), ("ExampleValidator", "anomalies")):
            local = runs["evil" if node == "ExampleValidator" else "base"][node][key][0]
            remote = type(local)(f"{prefix}/{node}")
            remote.properties.update(local.properties)
            for folder, _, names in os.walk(local.uri):
                for name in names:
                    rel = os.path.relpath(os.path.join(folder, name), local.uri).replace(os.sep, "/")
                    io.copy(os.path.join(folder, name), io.join(remote.uri, rel))
            html = render_artifact(remote)
            assert "view-error" not in html and html == render_artifact(local), node
    finally:
        backends.clear_cache()
