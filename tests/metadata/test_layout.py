"""The artifact layout lives in one place, is TFX's, joins URIs safely, and the docs follow it.

This file is the one test that spells the layout's literal names: it pins them to TFX's
(TFX tools read what beampipe writes). Every other test builds paths through the API.
"""
from __future__ import annotations

import ast
import os
import re

import pytest

from beampipe.metadata import artifacts, layout
from beampipe.metadata.artifacts import (ExampleAnomalies, Examples, ExampleStatistics, HyperParameters,
                                         InferenceResult, InfraBlessing, Model, ModelBlessing,
                                         ModelEvaluation, PushedModel, Schema, TransformGraph)

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
PACKAGE = os.path.join(REPO, "beampipe")
HOMES = {os.path.join("beampipe", "metadata", "artifacts.py"), os.path.join("beampipe", "metadata", "layout.py")}

# Layout names that must appear in string literals only in their home. Substrings, except the
# marker and TFT directory names, which are common words: those match as whole path segments.
LITERALS = [re.compile(re.escape(s)) for s in (
    "Split-", "Format-Serving", "Format-TFMA", "FeatureStats.pb", "SchemaDiff.pb", "schema.pbtxt",
    "report.html", "data_tfrecord", "prediction_logs", "best_hyperparameters.txt", "saved_model.pb",
    ".incomplete")] + [re.compile(rf"(^|/){name}($|/)") for name in (
        "BLESSED", "NOT_BLESSED", "INFRA_BLESSED", "INFRA_NOT_BLESSED", "transform_fn", "transformed_metadata")]


@pytest.mark.parametrize("uri,expected", [
    ("/r/Examples/1", "/r/Examples/1/Split-train"),
    ("/r/Examples/1/", "/r/Examples/1/Split-train"),
    ("s3://bucket/root/Examples/1", "s3://bucket/root/Examples/1/Split-train"),
    ("gs://bucket", "gs://bucket/Split-train"),
    ("relative/dir", "relative/dir/Split-train"),
])
def test_split_uri_keeps_local_paths_and_uris(uri, expected):
    assert Examples(uri).split_uri("train") == expected


def test_join_refuses_what_is_no_name_inside_an_artifact():
    assert layout.join("s3://b/x", "a/b", "", "c") == "s3://b/x/a/b/c"
    assert layout.join("", "a") == "a" and layout.join("/", "a") == "/a"
    for part in ("/abs", "../up", "a/../b", "s3://other/x"):
        with pytest.raises(ValueError, match="not a relative name"):
            layout.join("s3://b/x", part)
    for split in ("", "a/b", ".."):
        with pytest.raises(ValueError, match="cannot be a directory name"):
            layout.split_uri("/r", split)


def test_names_are_tfx_names():
    """Byte for byte TFX 1.16's layout (Examples shard names as Beam's sink names them)."""
    uri = "s3://b/a"
    ex = Examples(uri)
    assert ex.shard_uri("eval") == "s3://b/a/Split-eval/data_tfrecord-00000-of-00001.gz"
    assert Examples.shard_name(3, 10) == "data_tfrecord-00003-of-00010.gz"
    assert ex.shard_prefix("train") + "-00000-of-00001" + Examples.SHARD_SUFFIX == ex.shard_uri("train")
    assert ex.split_files("train") == "s3://b/a/Split-train/*"
    assert ExampleStatistics(uri).stats_file("train") == "s3://b/a/Split-train/FeatureStats.pb"
    assert ExampleStatistics(uri).report_file("train") == "s3://b/a/Split-train/report.html"
    assert ExampleAnomalies(uri).anomalies_file("eval") == "s3://b/a/Split-eval/SchemaDiff.pb"
    assert ExampleAnomalies(uri).report_file("eval") == "s3://b/a/Split-eval/report.html"
    assert Schema(uri).schema_file() == "s3://b/a/schema.pbtxt"
    assert TransformGraph(uri).transform_fn_dir() == "s3://b/a/transform_fn"
    assert TransformGraph(uri).raw_schema_file() == "s3://b/a/metadata/schema.pbtxt"
    assert TransformGraph.TRANSFORMED_METADATA_DIR == "transformed_metadata"
    assert Model(uri).serving_dir() == "s3://b/a/Format-Serving"
    assert Model(uri).eval_dir() == "s3://b/a/Format-TFMA"
    assert ModelEvaluation(uri).report_file() == "s3://b/a/report.html"
    assert (ModelBlessing(uri).marker(True), ModelBlessing(uri).marker(False)) == \
        ("s3://b/a/BLESSED", "s3://b/a/NOT_BLESSED")
    assert (InfraBlessing(uri).marker(True), InfraBlessing(uri).marker(False)) == \
        ("s3://b/a/INFRA_BLESSED", "s3://b/a/INFRA_NOT_BLESSED")
    assert ModelBlessing.BLESSED_KEY == InfraBlessing.BLESSED_KEY == "blessed"
    assert PushedModel(uri).model_dir() == uri
    assert PushedModel.version_dir("gs://serve/m", 17) == "gs://serve/m/17"
    assert (PushedModel.PUSHED_KEY, PushedModel.DESTINATION_KEY, PushedModel.VERSION_KEY) == \
        ("pushed", "pushed_destination", "pushed_version")
    assert HyperParameters(uri).best_file() == "s3://b/a/best_hyperparameters.txt"
    assert InferenceResult(uri).prediction_logs_prefix("eval") == "s3://b/a/prediction_logs-eval"
    assert layout.splits_in(["Split-train", "x", "Split-", "Split-eval"]) == ["eval", "train"]


def test_contributing_table_is_the_code():
    """CONTRIBUTING.md's layout table is generated from the classes; regenerate it with
    ``python -c 'from beampipe.metadata.artifacts import layout_table; print(layout_table())'``."""
    text = open(os.path.join(REPO, "CONTRIBUTING.md"), encoding="utf-8").read()
    begin, end = "<!-- layout-table: begin -->\n", "<!-- layout-table: end -->"
    assert begin in text and end in text, "CONTRIBUTING.md lost its layout-table markers"
    table = text.split(begin, 1)[1].split(end, 1)[0]
    assert table == artifacts.layout_table(), "CONTRIBUTING.md's layout table drifted from the code"


def _string_literals(source: str) -> list[tuple[int, str]]:
    """Every string constant in code (f-string parts too), docstrings left out."""
    tree = ast.parse(source)
    docstrings = set()
    for node in ast.walk(tree):
        if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)):
            body = node.body
            if body and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant):
                docstrings.add(id(body[0].value))
    return [(node.lineno, node.value) for node in ast.walk(tree)
            if isinstance(node, ast.Constant) and isinstance(node.value, str) and id(node) not in docstrings]


def layout_literals(source: str) -> list[tuple[int, str]]:
    return sorted((line, text) for line, text in _string_literals(source) if any(p.search(text) for p in LITERALS))


def test_the_scan_finds_what_it_looks_for():
    found = layout_literals('"""Split-<name> in a docstring is fine."""\n'
                            'a = f"{uri}/Split-{split}"\nb = "BLESSED"\nc = "NOT BLESSED: reason"\n'
                            'd = os.path.join(u, "transform_fn")\ne = "tf_transform_output.transformed_metadata"\n')
    assert found == [(2, "/Split-"), (3, "BLESSED"), (5, "transform_fn")]


def test_no_layout_literal_outside_its_home():
    """Paths inside artifacts are built by the artifact classes and ``layout`` only, so the
    storage layer has one place to meet and the layout cannot drift apart between modules."""
    offenders = []
    for folder, _, files in os.walk(PACKAGE):
        for name in sorted(files):
            path = os.path.join(folder, name)
            rel = os.path.relpath(path, REPO)
            if not name.endswith(".py") or rel in HOMES:
                continue
            with open(path, encoding="utf-8") as f:
                offenders += [f"{rel}:{line}: {text!r}" for line, text in layout_literals(f.read())]
    assert not offenders, ("layout names spelled outside beampipe/metadata/artifacts.py and layout.py "
                           "(use the artifact classes):\n" + "\n".join(offenders))
