"""The launcher through the local runner: caching, atomic publish, failure, lineage."""
from __future__ import annotations

import os

from beampipe.metadata import lineage
from beampipe.metadata.store import RUN_CONTEXT, MetadataStore
from beampipe.orchestration.local_runner import LocalDagRunner
from beampipe.orchestration.pipeline import Pipeline
from tests.support.toy import CRASH_FLAG, Consume, MaybeExtra, Produce


def _pipeline(root: str, text: str = "hello", source: str = "") -> Pipeline:
    produce = Produce(text=text, source=source)
    consume = Consume(examples=produce.outputs["examples"])
    return Pipeline("toy", root, [produce, consume])


def _executions(root: str, run_id: str) -> dict[str, dict]:
    store = MetadataStore(os.path.join(root, "metadata.sqlite"))
    return {e["node_id"]: e for e in store.executions_in_context(RUN_CONTEXT, run_id)}


def test_run_records_outputs_and_lineage(tmp_path):
    root = str(tmp_path)
    result = LocalDagRunner().run(_pipeline(root))
    assert result.status == "COMPLETE"
    assert [r.status for r in result.nodes.values()] == ["COMPLETE", "COMPLETE"]
    store = MetadataStore(os.path.join(root, "metadata.sqlite"))
    consume_exec = result.nodes["Consume"].execution_id
    [model] = store.artifacts_of(consume_exec)["model"]
    # <root>/<node>/<key>/<execution id>-<attempt token>: unique across stores and attempts
    assert os.path.dirname(model.uri) == os.path.join(root, "Consume", "model")
    assert os.path.basename(model.uri).startswith(f"{consume_exec}-")
    assert open(os.path.join(model.uri, "len.txt")).read() == "5"
    assert model.state == "LIVE" and len(model.custom_properties["fingerprint"]) == 64
    [(producer, read)] = lineage.upstream(store, model.id)[:1]
    assert producer["node_id"] == "Consume" and read[0].TYPE_NAME == "Examples"
    assert os.path.exists(os.path.join(root, ".beampipe", "logs", result.run_id, "Consume.log"))


def test_rerun_is_fully_cached_and_points_at_earlier_outputs(tmp_path):
    root = str(tmp_path)
    first = LocalDagRunner().run(_pipeline(root))
    second = LocalDagRunner().run(_pipeline(root))
    assert [r.status for r in second.nodes.values()] == ["CACHED", "CACHED"]
    store = MetadataStore(os.path.join(root, "metadata.sqlite"))
    for node in ("Produce", "Consume"):
        before = store.artifacts_of(first.nodes[node].execution_id)
        after = store.artifacts_of(second.nodes[node].execution_id)
        assert {k: [a.id for a in v] for k, v in before.items()} == \
               {k: [a.id for a in v] for k, v in after.items()}
    assert _executions(root, second.run_id)["Consume"]["state"] == "CACHED"


def test_changed_property_reruns_that_node_and_downstream(tmp_path):
    root = str(tmp_path)
    LocalDagRunner().run(_pipeline(root, text="hello"))
    again = LocalDagRunner().run(_pipeline(root, text="changed"))
    assert {n: r.status for n, r in again.nodes.items()} == {"Produce": "COMPLETE", "Consume": "COMPLETE"}


def test_changed_input_content_reruns_only_downstream_of_change(tmp_path):
    root = str(tmp_path)
    src = tmp_path / "in.txt"
    src.write_text("aaaa")
    LocalDagRunner().run(_pipeline(root, source=str(src)))
    # Produce's own properties are unchanged, so it is cached; the content fingerprint
    # of its output is what Consume's key sees.
    src.write_text("bbbb")
    again = LocalDagRunner().run(_pipeline(root, source=str(src)))
    assert again.nodes["Produce"].status == "CACHED"
    assert again.nodes["Consume"].status == "CACHED"
    # A run with caching off for the producer picks the edit up, and the consumer follows.
    pipe = _pipeline(root, source=str(src))
    pipe.components[0].with_caching(False)
    third = LocalDagRunner().run(pipe)
    assert third.nodes["Produce"].status == "COMPLETE"
    assert third.nodes["Consume"].status == "COMPLETE"


def test_pipeline_cache_switch(tmp_path):
    root = str(tmp_path)
    LocalDagRunner().run(_pipeline(root))
    pipe = _pipeline(root)
    pipe.enable_cache = False
    again = LocalDagRunner().run(pipe)
    assert [r.status for r in again.nodes.values()] == ["COMPLETE", "COMPLETE"]


def test_crash_leaves_nothing_live_and_rerun_completes(tmp_path, monkeypatch):
    root = str(tmp_path)
    monkeypatch.setenv(CRASH_FLAG, "Consume")
    failed = LocalDagRunner().run(_pipeline(root))
    assert failed.status == "FAILED"
    crash = failed.nodes["Consume"]
    assert crash.status == "FAILED" and "simulated crash" in crash.error
    store = MetadataStore(os.path.join(root, "metadata.sqlite"))
    assert store.execution(crash.execution_id)["state"] == "FAILED"
    assert "simulated crash" in store.execution(crash.execution_id)["error"]
    assert store.artifacts_of(crash.execution_id) == {}
    live_models = [a for a in store.call("get_artifacts_by_type", "Model")]
    assert live_models == []
    assert not os.path.exists(os.path.join(root, "Consume"))  # staging never moved into place
    assert "simulated crash" in open(crash.log_path).read()

    monkeypatch.delenv(CRASH_FLAG)
    again = LocalDagRunner().run(_pipeline(root))
    assert {n: r.status for n, r in again.nodes.items()} == {"Produce": "CACHED", "Consume": "COMPLETE"}


def test_failure_stops_downstream(tmp_path, monkeypatch):
    root = str(tmp_path)
    produce = Produce()
    consume = Consume(examples=produce.outputs["examples"])
    after = Consume(examples=produce.outputs["examples"]).with_id("Sibling")
    monkeypatch.setenv(CRASH_FLAG, "Consume")
    result = LocalDagRunner().run(Pipeline("toy", root, [produce, consume, after]))
    assert result.nodes["Consume"].status == "FAILED"
    assert result.status == "FAILED"


def test_independent_nodes_run_at_the_same_time(tmp_path):
    produce = Produce()
    a = Consume(examples=produce.outputs["examples"], sleep=1.5).with_id("A")
    b = Consume(examples=produce.outputs["examples"], sleep=1.5).with_id("B")
    result = LocalDagRunner(parallelism=2).run(Pipeline("par", str(tmp_path), [produce, a, b]))
    store = MetadataStore(os.path.join(str(tmp_path), "metadata.sqlite"))
    ea, eb = (store.execution(result.nodes[n].execution_id) for n in ("A", "B"))
    # The two sleeping nodes overlap in time.
    assert ea["started_at"] < eb["finished_at"] and eb["started_at"] < ea["finished_at"]


def test_dropped_output_is_not_recorded(tmp_path):
    """An output the executor drops (ctx.drop_output) is not recorded, not moved into place,
    and its staging directory goes; a re-run is a cache hit on what was recorded."""
    root = str(tmp_path)
    first = LocalDagRunner().run(Pipeline("drop", root, [MaybeExtra()]))
    assert first.status == "COMPLETE", first.nodes["MaybeExtra"].error
    store = MetadataStore(os.path.join(root, "metadata.sqlite"))
    outputs = store.artifacts_of(first.nodes["MaybeExtra"].execution_id)
    assert sorted(outputs) == ["model"] and outputs["model"][0].state == "LIVE"
    assert store.call("get_artifacts_by_type", "Examples") == []
    assert not os.path.exists(os.path.join(root, "MaybeExtra", "extra"))
    staging = os.path.join(root, ".beampipe", "staging")
    assert not os.path.isdir(staging) or os.listdir(staging) == []
    again = LocalDagRunner().run(Pipeline("drop", root, [MaybeExtra()]))
    assert again.nodes["MaybeExtra"].status == "CACHED"

    both = LocalDagRunner().run(Pipeline("drop", root, [MaybeExtra(with_extra=True)]))
    assert both.nodes["MaybeExtra"].status == "COMPLETE"
    assert sorted(store.artifacts_of(both.nodes["MaybeExtra"].execution_id)) == ["extra", "model"]


def test_drop_output_names_only_declared_outputs():
    import pytest

    from beampipe.components.base import ExecContext
    ctx = ExecContext(node_id="n", run_id="r", pipeline_name="p", pipeline_root="/tmp", inputs={},
                      outputs={"a": []}, exec_properties={})
    with pytest.raises(KeyError, match="no output 'b'"):
        ctx.drop_output("b")
    ctx.drop_output("a")
    assert ctx.outputs == {}
