"""A small pipeline for backend tests: a runtime parameter, a condition, a skipped chain.

Loaded by path (never imported as a package module) so that a subprocess running one
node, as Airflow and KFP tasks do, imports the components from this file.
"""
from __future__ import annotations

import os

from beampipe.components.base import RuntimeParameter
from beampipe.components.condition import Cond
from beampipe.components.decorator import InputArtifact, OutputArtifact, Parameter, component
from beampipe.metadata.artifacts import Examples, Model, ModelBlessing, PushedModel
from beampipe.orchestration.pipeline import Pipeline


@component
def MakeRows(examples: OutputArtifact[Examples], rows: Parameter[int] = 5) -> None:
    with open(os.path.join(examples.uri, "rows.txt"), "w") as f:
        f.writelines(f"{i}\n" for i in range(rows))


@component
def CountRows(examples: InputArtifact[Examples], model: OutputArtifact[Model]) -> None:
    path = os.path.join(examples.uri, "rows.txt")
    with open(path) as f:
        n = len(f.readlines())
    if n == 0:
        raise ValueError(f"{path}: no rows")
    with open(os.path.join(model.uri, "count.txt"), "w") as f:
        f.write(str(n))
    model.custom_properties["rows"] = n


@component
def Judge(model: InputArtifact[Model], blessing: OutputArtifact[ModelBlessing],
          threshold: Parameter[int] = 10) -> None:
    blessed = int(model.custom_properties["rows"] >= threshold)
    open(blessing.marker(bool(blessed)), "w").close()
    blessing.custom_properties[blessing.BLESSED_KEY] = blessed


@component
def Push(model: InputArtifact[Model], pushed: OutputArtifact[PushedModel]) -> None:
    with open(os.path.join(pushed.uri, "pushed.txt"), "w") as f:
        f.write(model.uri)
    pushed.custom_properties["pushed"] = 1


@component
def Announce(pushed: InputArtifact[PushedModel], note: OutputArtifact[Model]) -> None:
    open(os.path.join(note.uri, "note.txt"), "w").close()


def make_pipeline(root: str) -> Pipeline:
    rows = MakeRows(rows=RuntimeParameter("rows", int, 5))
    count = CountRows(examples=rows.outputs["examples"])
    judge = Judge(model=count.outputs["model"], threshold=RuntimeParameter("threshold", int, 10))
    with Cond(judge.outputs["blessing"].future()[0].custom_property("blessed") == 1):
        push = Push(model=count.outputs["model"])
    announce = Announce(pushed=push.outputs["pushed"])
    return Pipeline("backend-test", root, [rows, count, judge, push, announce])


pipeline = make_pipeline(os.environ.get("BEAMPIPE_TEST_ROOT", "/tmp/beampipe-backend-test"))


def lineage_summary(store, run_id: str) -> dict:
    """Per node of a run: state, exec properties, and which node produced each input."""
    from beampipe.metadata.lineage import inputs_of, producer_of, outputs_of
    from beampipe.metadata.store import RUN_CONTEXT

    summary = {}
    for ex in store.executions_in_context(RUN_CONTEXT, run_id):
        ins = {k: sorted(producer_of(store, a.id)["node_id"] for a in arts)
               for k, arts in inputs_of(store, ex["id"]).items()}
        outs = {k: [a.TYPE_NAME for a in arts] for k, arts in outputs_of(store, ex["id"]).items()}
        summary[ex["node_id"]] = {"state": ex["state"], "inputs": ins, "outputs": outs,
                                  "exec_properties": ex["exec_properties"]}
    return summary
