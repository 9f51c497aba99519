"""The local runner on both orchestrators: the same scenarios, threads and the Beam DAG."""
from __future__ import annotations

import json
import os
import threading
import time
from typing import Any

import pytest

from beampipe.components import InputArtifact, OutputArtifact, component
from beampipe.metadata.artifacts import Model, PushedModel
from beampipe.metadata.store import RUN_CONTEXT, MetadataStore
from beampipe.orchestration import ir as ir_mod, local_runner
from beampipe.orchestration.launcher import NodeError
from beampipe.orchestration.local_runner import LocalDagRunner
from beampipe.orchestration.pipeline import Pipeline
from tests.support.toy import CRASH_FLAG, Consume, Produce, chain

HERE = os.path.dirname(os.path.abspath(__file__))


@pytest.fixture(params=["threads", "beam"])
def orchestrator(request) -> str:
    return request.param


@component
def Inspect(model: InputArtifact[Model], report: OutputArtifact[Model]) -> None:
    """Reads what Consume wrote: a node downstream of the one that crashes."""
    with open(os.path.join(model.uri, "len.txt")) as f, open(os.path.join(report.uri, "seen.txt"), "w") as g:
        g.write(f.read())


class Recorder:
    """A thread-safe reporter that keeps (node, event, status, time)."""

    def __init__(self) -> None:
        self.events: list[tuple[str, str, str | None, float]] = []
        self._lock = threading.Lock()

    def __call__(self, node_id: str, event: str, result: Any) -> None:
        with self._lock:
            self.events.append((node_id, event, result.status if result else None, time.monotonic()))

    def of(self, node_id: str) -> list[tuple[str, str | None]]:
        return [(e, s) for n, e, s, _ in self.events if n == node_id]

    def at(self, node_id: str, event: str) -> float:
        [t] = [t for n, e, _, t in self.events if n == node_id and e == event]
        return t


def _crashing(root: str) -> Pipeline:
    """Produce -> Consume -> Inspect, and Side on its own."""
    produce = Produce()
    consume = Consume(examples=produce.outputs["examples"])
    inspect = Inspect(model=consume.outputs["model"])
    side = Produce(text="side").with_id("Side")
    return Pipeline("crashy", root, [produce, consume, inspect, side])


def _statuses(result) -> dict[str, str]:
    return {n: r.status for n, r in result.nodes.items()}


def _read_store(root: str, fn):
    store = MetadataStore(os.path.join(root, "metadata.sqlite"))
    try:
        return fn(store)
    finally:
        store.close()


def _run_state(root: str, pipeline: str, run_id: str) -> str:
    runs = _read_store(root, lambda s: s.runs(pipeline))
    return next(r["state"] for r in runs if r["run_id"] == run_id)


def test_toy_pipeline_completes_then_reruns_fully_cached(tmp_path, orchestrator):
    root = str(tmp_path)
    first = LocalDagRunner(orchestrator=orchestrator).run(chain(root, 3))
    assert first.status == "COMPLETE"
    assert set(_statuses(first).values()) == {"COMPLETE"} and len(first.nodes) == 5
    assert _run_state(root, "toy", first.run_id) == "COMPLETE"
    second = LocalDagRunner(orchestrator=orchestrator).run(chain(root, 3))
    assert second.status == "COMPLETE" and set(_statuses(second).values()) == {"CACHED"}
    assert list(second.nodes) == list(first.nodes)  # in pipeline order


def test_failure_stops_downstream_records_failed_and_resume_completes(tmp_path, orchestrator, monkeypatch):
    root = str(tmp_path)
    monkeypatch.setenv(CRASH_FLAG, "Consume")
    failed = LocalDagRunner(orchestrator=orchestrator).run(_crashing(root))
    assert failed.status == "FAILED"
    assert _statuses(failed) == {"Produce": "COMPLETE", "Consume": "FAILED", "Inspect": "NOT_RUN",
                                 "Side": "COMPLETE"}
    assert "simulated crash" in failed.nodes["Consume"].error
    assert [r.node_id for r in failed.failed] == ["Consume"]
    recorded = _read_store(root, lambda s: {e["node_id"]: e["state"]
                                            for e in s.executions_in_context(RUN_CONTEXT, failed.run_id)})
    assert recorded["Consume"] == "FAILED" and "Inspect" not in recorded
    assert _run_state(root, "crashy", failed.run_id) == "FAILED"

    monkeypatch.delenv(CRASH_FLAG)
    resumed = LocalDagRunner(orchestrator=orchestrator).run(_crashing(root), from_node="Consume")
    assert resumed.status == "COMPLETE"
    assert _statuses(resumed) == {"Consume": "COMPLETE", "Inspect": "COMPLETE"}


def test_runtime_parameters_and_a_false_condition_skips(tmp_path, orchestrator):
    module = ir_mod.load_module_from_file(os.path.join(HERE, "backend_pipeline.py"), "backend_pipeline")
    root = str(tmp_path / "root")
    runner = LocalDagRunner(orchestrator=orchestrator)
    # Defaults: 5 rows, threshold 10: Judge does not bless, Push and Announce after it are skipped.
    skipped = runner.run(module.make_pipeline(root))
    assert skipped.status == "COMPLETE"
    assert _statuses(skipped) == {"MakeRows": "COMPLETE", "CountRows": "COMPLETE", "Judge": "COMPLETE",
                                  "Push": "SKIPPED", "Announce": "SKIPPED"}
    assert "condition is false" in skipped.nodes["Push"].error
    # threshold=3 blesses; only Judge's inputs are unchanged, so the producers come from the cache.
    blessed = runner.run(module.make_pipeline(root), params={"threshold": "3"})
    assert _statuses(blessed) == {"MakeRows": "CACHED", "CountRows": "CACHED", "Judge": "COMPLETE",
                                  "Push": "COMPLETE", "Announce": "COMPLETE"}
    judge = _read_store(root, lambda s: s.execution(blessed.nodes["Judge"].execution_id))
    assert json.loads(judge["exec_properties"]) == {"threshold": 3}
    with pytest.raises(NodeError, match="unknown runtime parameter"):
        runner.run(module.make_pipeline(root), params={"nope": "1"})


def test_independent_nodes_overlap_in_time(tmp_path, orchestrator):
    produce = Produce()
    slow = [Consume(examples=produce.outputs["examples"], sleep=0.8).with_id(f"Slow{i}") for i in (1, 2)]
    recorder = Recorder()
    result = LocalDagRunner(parallelism=2, reporter=recorder, orchestrator=orchestrator).run(
        Pipeline("overlap", str(tmp_path), [produce, *slow]))
    assert result.status == "COMPLETE"
    starts = [recorder.at(n, "started") for n in ("Slow1", "Slow2")]
    finishes = [recorder.at(n, "finished") for n in ("Slow1", "Slow2")]
    assert max(starts) < min(finishes), "the two independent nodes ran one after the other"


def test_reporter_hears_every_node(tmp_path, orchestrator, monkeypatch):
    monkeypatch.setenv(CRASH_FLAG, "Consume")
    recorder = Recorder()
    failed = LocalDagRunner(reporter=recorder, orchestrator=orchestrator).run(_crashing(str(tmp_path)))
    for node in ("Produce", "Consume", "Side"):  # ran: started, then finished with its status
        assert recorder.of(node) == [("started", None), ("finished", failed.nodes[node].status)]
    assert recorder.of("Inspect") == [("finished", "NOT_RUN")]  # never started
    assert recorder.at("Consume", "finished") < recorder.at("Inspect", "finished")

    monkeypatch.delenv(CRASH_FLAG)
    recorder.events.clear()
    LocalDagRunner(reporter=recorder, orchestrator=orchestrator).run(_crashing(str(tmp_path)))
    assert recorder.of("Produce") == [("finished", "CACHED")]  # settled by the cache: no start
    assert recorder.of("Inspect") == [("started", None), ("finished", "COMPLETE")]


class _Tracked:
    """Every store the runner opens (through launcher.open_store), and whether it was closed."""

    def __init__(self, monkeypatch) -> None:
        self.stores: list[tuple[MetadataStore, str]] = []  # (store, thread that opened it)
        self.closed: set[int] = set()
        real_open = local_runner.open_store

        def tracked_open(ir: dict) -> MetadataStore:
            store = real_open(ir)
            self.stores.append((store, threading.current_thread().name))
            real_close = store.close

            def close() -> None:
                self.closed.add(id(store))
                real_close()

            monkeypatch.setattr(store, "close", close)
            return store

        monkeypatch.setattr(local_runner, "open_store", tracked_open)

    def unclosed(self) -> list[str]:
        return [thread for store, thread in self.stores if id(store) not in self.closed]


@pytest.fixture
def tracked_stores(monkeypatch) -> _Tracked:
    return _Tracked(monkeypatch)


def test_every_store_is_closed_even_when_nodes_raise(tmp_path, orchestrator, monkeypatch, tracked_stores):
    monkeypatch.setenv(CRASH_FLAG, "Consume")  # the executor raises
    real_run_node = local_runner.run_node

    def side_raises(ir, node_id, *args, allow_execute=True, **kwargs):
        if node_id == "Side" and allow_execute:  # raises out of the launcher, as resolution errors do
            raise RuntimeError("resolution failed")
        return real_run_node(ir, node_id, *args, allow_execute=allow_execute, **kwargs)

    monkeypatch.setattr(local_runner, "run_node", side_raises)
    result = LocalDagRunner(orchestrator=orchestrator).run(_crashing(str(tmp_path)))
    assert _statuses(result)["Side"] == "FAILED" and result.nodes["Side"].error == "resolution failed"
    assert len(tracked_stores.stores) >= 2  # the run's own, then one per worker thread
    assert tracked_stores.unclosed() == []


def test_an_error_before_scheduling_closes_the_store_and_fails_the_run(tmp_path, tracked_stores):
    root = str(tmp_path)
    with pytest.raises(NodeError, match="run the pipeline from the start first"):
        LocalDagRunner().run(_crashing(root), run_id="early", from_node="Consume")
    assert len(tracked_stores.stores) == 1 and tracked_stores.unclosed() == []
    assert _run_state(root, "crashy", "early") == "FAILED"


def test_concurrent_runs_keep_their_results_apart(tmp_path, orchestrator):
    pipelines = {"a": chain(str(tmp_path / "a"), 2, name="a"), "b": chain(str(tmp_path / "b"), 3, name="b")}
    results, recorders, errors = {}, {k: Recorder() for k in pipelines}, []

    def run(key: str) -> None:
        try:
            runner = LocalDagRunner(reporter=recorders[key], orchestrator=orchestrator)
            results[key] = runner.run(pipelines[key], run_id=f"run-{key}")
        except BaseException as err:  # noqa: BLE001 - re-raised in the test thread
            errors.append(err)

    threads = [threading.Thread(target=run, args=(k,)) for k in pipelines]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors, errors
    for key, pipeline in pipelines.items():
        names = [c.id for c in pipeline.components]
        assert results[key].run_id == f"run-{key}" and results[key].status == "COMPLETE"
        assert list(results[key].nodes) == names
        assert {n for n, *_ in recorders[key].events} == set(names)
    # Nothing of a run outlives it at module level.
    held = {k: v for k, v in vars(local_runner).items()
            if isinstance(v, (dict, list, set, threading.local)) and not k.startswith("__")}
    assert held == {}


@pytest.mark.e2e
def test_penguin_on_the_beam_orchestrator(tmp_path):
    from tests.examples.test_penguin import _build

    root = str(tmp_path / "root")
    result = LocalDagRunner(orchestrator="beam").run(_build(root))
    assert result.status == "COMPLETE", {n: (r.status, r.error) for n, r in result.nodes.items()}
    [pushed] = _read_store(root, lambda s: s.artifacts_of(result.nodes["Pusher"].execution_id))["pushed_model"]
    assert pushed.custom_properties[PushedModel.PUSHED_KEY] == 1
    assert os.path.isdir(pushed.custom_properties[PushedModel.DESTINATION_KEY])
