"""TFX's placeholder operators: encoded as JSON (as the IR carries them), rendered at run time."""
from __future__ import annotations

import base64
import json

import pytest

import beampipe as tfx
from beampipe.components import placeholders as p
from beampipe.metadata.artifacts import Examples, Model

ph = tfx.dsl.placeholders


def _invocation(tmp_path) -> p.Invocation:
    examples = Examples(str(tmp_path / "ex"))
    examples.set_custom_property("rows", 3)
    (tmp_path / "num").mkdir()
    (tmp_path / "num" / "value").write_text("42")
    return p.Invocation(
        inputs={"examples": [examples, Examples(str(tmp_path / "ex2"))], "number": [Model(str(tmp_path / "num"))]},
        outputs={"model": [Model(str(tmp_path / "out"))]},
        exec_properties={"steps": 5, "ratio": 0.5, "flag": True, "config": {"train": {"steps": 7}, "names": ["a"]}},
        read_value=lambda a: open(f"{a.uri}/value").read(),
        extra={"pipeline_run_id": "run-1"})


def _render(element, inv) -> str:
    return p.render(json.loads(json.dumps(p.encode(element))), inv)  # through JSON, as in the IR


def test_operators_render_as_tfx_does(tmp_path):
    inv = _invocation(tmp_path)
    assert _render(ph.input("examples")[1].uri, inv) == str(tmp_path / "ex2")
    assert _render(ph.input("examples").uri, inv) == str(tmp_path / "ex")
    assert _render(ph.input("examples")[0].split_uri("train"), inv) == str(tmp_path / "ex" / "Split-train")
    assert _render("--out=" + ph.output("model")[0].uri + "/saved", inv) == f"--out={tmp_path}/out/saved"
    assert _render(ph.exec_property("steps"), inv) == "5"
    assert _render(ph.exec_property("flag"), inv) == "true"
    assert _render(ph.exec_property("config").train.steps, inv) == "7"
    assert _render(ph.exec_property("config")["names"][0], inv) == "a"
    assert json.loads(_render(ph.exec_property("config"), inv)) == {"names": ["a"], "train": {"steps": 7}}
    assert _render(ph.input("number")[0].value, inv) == "42"
    assert _render(ph.input("examples")[0].custom_property("rows"), inv) == "3"
    encoded = _render(ph.exec_property("steps").b64encode(), inv)
    assert base64.urlsafe_b64decode(encoded) == b"5"
    invocation = json.loads(_render(ph.execution_invocation().serialize(ph.ProtoSerializationFormat.JSON), inv))
    assert invocation["pipeline_run_id"] == "run-1"
    assert invocation["execution_properties"]["steps"] == 5
    assert invocation["input_dict"]["examples"]["artifacts"][0]["uri"] == str(tmp_path / "ex")
    assert invocation["output_dict"]["model"]["artifacts"][0]["type"] == "Model"


def test_errors_name_the_placeholder(tmp_path):
    inv = _invocation(tmp_path)
    with pytest.raises(ValueError, match="no artifact at index 5"):
        _render(ph.input("examples")[5].uri, inv)
    with pytest.raises(ValueError, match="whole artifact"):
        _render(ph.input("examples")[0], inv)
    with pytest.raises(ValueError, match="no value"):
        _render(ph.exec_property("missing"), inv)
    assert p.describe(p.encode(ph.input("examples")[0].uri + "/x")) == "input('examples')[0].uri + '/x'"
    with pytest.raises(ValueError, match="JSON only"):
        ph.execution_invocation().serialize(ph.ProtoSerializationFormat.TEXT_FORMAT)
    with pytest.raises(TypeError):
        p.encode(object())
