"""tfx.testing.Channel: wire a component with nothing upstream; run it on fixed MLMD artifacts."""
from __future__ import annotations

import os

import pytest

import beampipe as tfx
from beampipe.metadata import lineage
from beampipe.metadata.artifacts import Examples, Model
from beampipe.metadata.store import MetadataStore
from beampipe.orchestration.launcher import NodeError
from beampipe.orchestration.local_runner import LocalDagRunner
from beampipe.orchestration.pipeline import Pipeline
from tests.support.toy import Consume, Produce


def test_wires_a_component_in_a_unit_test():
    channel = tfx.testing.Channel(tfx.types.standard_artifacts.Examples)
    consume = Consume(examples=channel)
    assert consume.inputs["examples"] is channel and consume.outputs["model"].type is Model
    assert channel == tfx.testing.Channel(Examples) and channel != tfx.testing.Channel(Model)


def test_runs_a_component_on_existing_artifacts_by_id(tmp_path):
    root = str(tmp_path)
    first = LocalDagRunner().run(Pipeline("p", root, [Produce(text="fixed input")]))
    store = MetadataStore(os.path.join(root, "metadata.sqlite"))
    [examples] = store.artifacts_of(first.nodes["Produce"].execution_id)["examples"]

    consume = Consume(examples=tfx.testing.Channel(Examples, artifact_ids=[examples.id]))
    second = LocalDagRunner().run(Pipeline("p", root, [consume]))
    assert second.status == "COMPLETE", [(r.node_id, r.error) for r in second.failed]
    [model] = store.artifacts_of(second.nodes["Consume"].execution_id)["model"]
    assert open(os.path.join(model.uri, "len.txt")).read() == str(len("fixed input"))
    [(_, read)] = lineage.upstream(store, model.id)[:1]
    assert [a.id for a in read] == [examples.id]

    with pytest.raises(NodeError, match=r"input 'examples' wants Examples, got artifacts \['\d+: Model'\]"):
        LocalDagRunner().run(Pipeline("p", root, [
            Consume(examples=tfx.testing.Channel(Examples, artifact_ids=[model.id]))]))
    store.close()


def test_artifact_ids_travel_in_the_ir(tmp_path):
    from beampipe.orchestration import ir
    pipeline = Pipeline("p", str(tmp_path), [Consume(examples=tfx.testing.Channel(Examples, artifact_ids=[7]))])
    [node] = ir.compile_pipeline(pipeline)["nodes"]
    assert node["inputs"]["examples"]["artifact_ids"] == [7] and node["inputs"]["examples"]["producer"] is None
