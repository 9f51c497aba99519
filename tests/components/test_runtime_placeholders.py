"""Parameters read from upstream artifacts at run time (``future()[0].value``) and nodes ordered
by hand (``add_upstream_node``), as TFX's penguin example uses them."""
from __future__ import annotations

import json
import os

from beampipe.components.decorator import OutputArtifact, OutputDict, Parameter, component
from beampipe.metadata.artifacts import Model
from beampipe.metadata.value_artifacts import String
from beampipe.orchestration import ir as ir_mod
from beampipe.orchestration.local_runner import LocalDagRunner
from beampipe.orchestration.pipeline import Pipeline


@component
def Pick(seed: Parameter[int] = 3) -> OutputDict(limit=int):
    return {"limit": seed * 2}


@component
def Describe(text: OutputArtifact[String], word: Parameter[str] = "x") -> None:
    text.value = json.dumps({"word": word})


@component
def UseLimit(out: OutputArtifact[Model], limit: Parameter[int] = 0, config: Parameter[str] = "") -> None:
    with open(os.path.join(out.uri, "seen.json"), "w") as f:
        json.dump({"limit": limit, "config": config}, f)


@component
def Later(out: OutputArtifact[Model]) -> None:
    with open(os.path.join(out.uri, "ran"), "w") as f:
        f.write("1")


def test_a_parameter_reads_an_upstream_value_at_run_time(tmp_path):
    pick = Pick(seed=4)
    describe = Describe(word="penguin")
    use = UseLimit(limit=pick.outputs["limit"].future()[0].value,
                   config=describe.outputs["text"].future()[0].value)
    later = Later().add_upstream_node(use)
    pipeline = Pipeline("placeholders", str(tmp_path / "root"), [later, use, describe, pick])
    ir = ir_mod.compile_pipeline(pipeline)
    node = ir_mod.node(ir, "UseLimit")
    assert set(node["upstream"]) == {"Pick", "Describe"}  # the producers run first
    assert node["exec_properties"]["limit"] == {"__artifact_value__": {
        "producer": "Pick", "output_key": "limit", "index": 0, "property": "value", "custom": False,
        "stored_value": True}}
    assert ir_mod.node(ir, "Later")["upstream"] == ["UseLimit"]
    assert [n["id"] for n in ir["nodes"]].index("Later") > [n["id"] for n in ir["nodes"]].index("UseLimit")

    result = LocalDagRunner().run(pipeline)
    assert result.status == "COMPLETE", result.nodes
    store_root = tmp_path / "root" / "UseLimit" / "out"
    [attempt] = os.listdir(store_root)
    seen = json.loads((store_root / attempt / "seen.json").read_text())
    assert seen == {"limit": 8, "config": json.dumps({"word": "penguin"})}
    again = LocalDagRunner().run(pipeline)
    assert again.nodes["UseLimit"].status == "CACHED"  # the resolved values are what the cache key sees
