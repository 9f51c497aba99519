"""@component as TFX 1.16 reads it, run for real: value artifacts between nodes, OutputDict and
TypedDict returns, a Cond on a value, a Beam pipeline from the node's Beam args, the cache."""
from __future__ import annotations

import os
from typing import Dict, List, Optional, TypedDict

import apache_beam as beam
import pytest

import beampipe as tfx
from beampipe.components.base import WiringError
from beampipe.metadata.store import MetadataStore
from beampipe.metadata.value_artifacts import Float, Integer, JsonValue, String
from beampipe.orchestration.local_runner import LocalDagRunner

dsl = tfx.dsl.components
Examples = tfx.types.standard_artifacts.Examples
Model = tfx.types.standard_artifacts.Model


@dsl.component
def Count(examples: dsl.OutputArtifact[Examples], n: dsl.Parameter[int] = 3,
          label: dsl.Parameter[str] = "rows") -> dsl.OutputDict(count=int, name=str, stats=Dict[str, float],
                                                                  missing=Optional[float]):
    with open(os.path.join(examples.uri, "rows.txt"), "w") as f:
        f.writelines(f"{i}\n" for i in range(n))
    return {"count": n, "name": label, "stats": {"mean": (n - 1) / 2}, "missing": None}


class Summary(TypedDict):
    total: float
    line: str


@dsl.component
def Summarize(count: int, name: str, stats: Dict[str, float], examples: dsl.InputArtifact[Examples],
              report: dsl.OutputArtifact[Model], missing: Optional[float] = None,
              extra: Optional[dsl.InputArtifact[Model]] = None, scale: dsl.Parameter[float] = 2.0) -> Summary:
    assert extra is None and missing is None
    rows = open(os.path.join(examples.uri, "rows.txt")).read().split()
    assert len(rows) == count
    line = f"{count} {name}, mean {stats['mean']}"
    with open(os.path.join(report.uri, "report.txt"), "w") as f:
        f.write(line)
    return {"total": count * scale, "line": line}


@dsl.component
def Gather(models: dsl.InputArtifact[List[Model]], seen: dsl.OutputArtifact[Model]) -> None:
    with open(os.path.join(seen.uri, "n.txt"), "w") as f:
        f.write(str(len(models)))


@dsl.component
def Celebrate(total: float, note: dsl.OutputArtifact[Model]) -> None:
    with open(os.path.join(note.uri, "yay.txt"), "w") as f:
        f.write(str(total))


@dsl.component(use_beam=True)
def Squares(count: int, squares: dsl.OutputArtifact[Examples],
            beam_pipeline: dsl.BeamComponentParameter[beam.Pipeline] = None) -> dsl.OutputDict(runner=str):
    from apache_beam.options.pipeline_options import DirectOptions, StandardOptions

    runner = beam_pipeline.options.view_as(StandardOptions).runner
    assert beam_pipeline.options.view_as(DirectOptions).direct_num_workers == 1  # the node's Beam args
    with beam_pipeline as p:
        _ = (p | beam.Create(range(count)) | beam.Map(lambda x: str(x * x))
             | beam.io.WriteToText(os.path.join(squares.uri, "squares"), shard_name_template=""))
    return {"runner": runner}


def _pipeline(root: str, n: int = 3) -> tfx.dsl.Pipeline:
    count = Count(n=n)
    summary = Summarize(count=count.outputs["count"], name=count.outputs["name"], stats=count.outputs["stats"],
                        missing=count.outputs["missing"], examples=count.outputs["examples"])
    gather = Gather(models=summary.outputs["report"])
    with tfx.dsl.Cond(summary.outputs["total"].future().value > 5.0):
        celebrate = Celebrate(total=summary.outputs["total"])
    squares = Squares(count=count.outputs["count"]).with_beam_pipeline_args(["--direct_num_workers=1"])
    return tfx.dsl.Pipeline("values", root, [count, summary, gather, celebrate, squares])


def _outputs(root: str, run_id: str) -> dict[str, dict]:
    store = MetadataStore(os.path.join(root, "metadata.sqlite"))
    try:
        return {node: {k: v[0] for k, v in store.artifacts_of(e["id"]).items()}
                for e in store.executions_in_context("pipeline_run", run_id) for node in [e["node_id"]]}
    finally:
        store.close()


def test_values_flow_between_nodes_and_a_cond_reads_one(tmp_path) -> None:
    root = str(tmp_path / "root")
    first = LocalDagRunner().run(_pipeline(root, n=4))
    assert {n: r.status for n, r in first.nodes.items()} == dict.fromkeys(
        ["Count", "Summarize", "Gather", "Celebrate", "Squares"], "COMPLETE")
    out = _outputs(root, first.run_id)
    summary = out["Summarize"]
    assert isinstance(summary["total"], Float) and summary["total"].value == 8.0
    assert isinstance(summary["line"], String) and summary["line"].value == "4 rows, mean 1.5"
    assert isinstance(out["Count"]["stats"], JsonValue) and out["Count"]["stats"].value == {"mean": 1.5}
    assert isinstance(out["Count"]["count"], Integer)
    assert open(out["Count"]["count"].value_file()).read() == "4"  # TFX's encoding, in the artifact's dir
    assert out["Count"]["missing"].value is None
    assert open(os.path.join(out["Celebrate"]["note"].uri, "yay.txt")).read() == "8.0"
    assert open(os.path.join(out["Gather"]["seen"].uri, "n.txt")).read() == "1"
    assert out["Squares"]["runner"].value == "DirectRunner"
    assert open(os.path.join(out["Squares"]["squares"].uri, "squares")).read().split() == ["0", "1", "4", "9"]

    # Nothing changed: every node is answered by the cache, values still readable.
    again = LocalDagRunner().run(_pipeline(root, n=4))
    assert {r.status for r in again.nodes.values()} == {"CACHED"}
    assert _outputs(root, again.run_id)["Summarize"]["total"].value == 8.0

    # A smaller count: the condition on the value is false, Celebrate is skipped, not failed.
    small = LocalDagRunner().run(_pipeline(root, n=2))
    statuses = {n: r.status for n, r in small.nodes.items()}
    assert statuses["Celebrate"] == "SKIPPED" and statuses["Summarize"] == "COMPLETE"
    assert "condition" in small.nodes["Celebrate"].error


def test_test_call_and_declared_interface(tmp_path) -> None:
    examples = Examples(str(tmp_path))
    assert Count.test_call(examples=examples, n=2) == {"count": 2, "name": "rows", "stats": {"mean": 0.5},
                                                       "missing": None}
    assert open(os.path.join(str(tmp_path), "rows.txt")).read() == "0\n1\n"
    assert set(Summarize.INPUTS) == {"count", "name", "stats", "examples", "missing", "extra"}
    assert Summarize.INPUTS["missing"].optional and not Summarize.INPUTS["count"].optional
    assert set(Summarize.OUTPUTS) == {"report", "total", "line"} and set(Summarize.PARAMETERS) == {"scale"}
    assert Count.RETURNED == {"count": False, "name": False, "stats": False, "missing": True}
    assert Count().exec_properties == {"n": 3, "label": "rows"}


def test_public_base_types_hold_for_beampipe_classes() -> None:
    types = tfx.types
    count = Count()
    assert isinstance(count, types.BaseFunctionalComponent) and isinstance(count, types.BaseComponent)
    assert isinstance(count, types.BaseNode) and not isinstance(count, types.BaseBeamComponent)
    assert isinstance(Squares(count=count.outputs["count"]), types.BaseBeamComponent)
    assert isinstance(Count, types.BaseFunctionalComponentFactory)
    assert isinstance(count.outputs["count"], types.BaseChannel)
    gen = tfx.components.CsvExampleGen(input_base="/tmp")
    stats = tfx.components.StatisticsGen(examples=gen.outputs["examples"])
    schema = tfx.components.SchemaGen(statistics=stats.outputs["statistics"])
    assert isinstance(gen, types.BaseBeamComponent) and isinstance(stats, types.BaseBeamComponent)
    assert not isinstance(schema, types.BaseBeamComponent) and isinstance(schema, types.BaseComponent)
    assert issubclass(tfx.components.Evaluator, types.BaseBeamComponent)
    assert isinstance(tfx.dsl.Importer(source_uri="/tmp", artifact_type=Model), types.BaseNode)


def test_tfx_spec_style_subclass_and_async_are_refused_with_the_reason() -> None:
    with pytest.raises(TypeError, match="SPEC_CLASS.*not supported"):
        type("Mine", (tfx.types.BaseComponent,), {"SPEC_CLASS": object, "EXECUTOR_SPEC": None})
    with pytest.raises(WiringError, match="AsyncOutputArtifact is not supported: beampipe runs pipelines "
                                          "synchronously"):
        def Streamer(out: dsl.AsyncOutputArtifact[Model]) -> None: ...
        dsl.component(Streamer)
    with pytest.raises(WiringError, match="execution_mode=ExecutionMode.ASYNC is not supported"):
        tfx.dsl.Pipeline("p", "/tmp/r", [], execution_mode=tfx.dsl.ExecutionMode.ASYNC)
    assert tfx.dsl.Pipeline("p", "/tmp/r", [], execution_mode=tfx.dsl.ExecutionMode.SYNC).components == []


@pytest.mark.parametrize("source,needle", [
    ("def F(m: Model) -> None: ...", "say InputArtifact[Model]"),
    ("def F(m: OutputArtifact[Model] = None) -> None: ...", "cannot have a default"),
    ("def F(m: InputArtifact[Model] = 3) -> None: ...", "must default to None"),
    ("def F(n: Parameter[int] = 'x') -> None: ...", "default 'x' of 'n' is not a int"),
    ("def F(x) -> None: ...", "needs a type annotation"),
    ("def F(*xs: int) -> None: ...", "*args"),
    ("def F() -> OutputDict(m=Model): ...", "goes in the arguments"),
    ("def F() -> int: ...", "OutputDict(...), a TypedDict or None"),
    ("def F(b: BeamComponentParameter[beam.Pipeline] = None) -> None: ...\nF.use_beam = 1", None),
])
def test_bad_signatures_name_the_argument(source: str, needle: str | None) -> None:
    scope = {**vars(dsl), "Model": Model, "beam": beam, "InputArtifact": dsl.InputArtifact,
             "OutputArtifact": dsl.OutputArtifact, "Parameter": dsl.Parameter, "OutputDict": dsl.OutputDict,
             "BeamComponentParameter": dsl.BeamComponentParameter}
    exec(source, scope)  # noqa: S102 - test signatures
    if needle is None:  # use_beam=True needs the BeamComponentParameter; without it, it is refused
        assert dsl.component(scope["F"]).ARG_FORMATS == {"b": "beam"}
        with pytest.raises(WiringError, match="exactly one argument"):
            exec("def G() -> None: ...", scope)  # noqa: S102
            dsl.component(use_beam=True)(scope["G"])
        return
    with pytest.raises(WiringError, match=needle.replace("(", r"\(").replace(")", r"\)")
                       .replace("[", r"\[").replace("]", r"\]").replace("*", r"\*")):
        dsl.component(scope["F"])


def test_annotation_errors_at_the_annotation() -> None:
    with pytest.raises(ValueError, match="InputArtifact\\[T\\] needs an artifact type"):
        dsl.InputArtifact[int]
    with pytest.raises(ValueError, match="Parameter\\[T\\] needs int"):
        dsl.Parameter[Model]
    with pytest.raises(ValueError, match="needs T = beam.Pipeline"):
        dsl.BeamComponentParameter[int]
    with pytest.raises(WiringError, match="input 'count' takes a channel of Integer"):
        Summarize(count=3)
    class Train:  # what TFX's tfx.dsl.standard_annotations.Train is: a marker class
        pass

    def Fit(model: dsl.OutputArtifact[Model]) -> None: ...
    assert dsl.component(component_annotation=Train)(Fit).TYPE_ANNOTATION is Train
    with pytest.raises(WiringError, match="component_annotation must be a class"):
        dsl.component(component_annotation="Train")(Fit)
    with pytest.raises(TypeError, match=".value needs a channel of a value artifact"):
        Count().outputs["examples"].future()[0].value
