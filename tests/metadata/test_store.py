"""The MLMD store: round trip on SQLite and on a real PostgreSQL server; lineage."""
from __future__ import annotations

import pytest

from beampipe.metadata import lineage
from beampipe.metadata.artifacts import Examples, ExampleStatistics, Model
from beampipe.metadata.connection import MetadataConfigError, connection_config
from beampipe.metadata.store import MetadataStore


def _round_trip(store: MetadataStore) -> None:
    ctxs = store.contexts("p", "run-1", "gen")
    assert [c.name for c in ctxs] == ["p", "run-1", "p.gen"]
    gen = store.start_execution("t.Gen", ctxs, {}, {"node_id": "gen", "run_id": "run-1"})
    ex = Examples("/data/examples")
    ex.splits = ["train", "eval"]
    ex.span = 3
    ex.custom_properties["fingerprint"] = "abc"
    store.finish_execution(gen, "COMPLETE", ctxs, {"examples": [ex]})
    assert ex.id is not None and ex.state == "LIVE"

    ctxs2 = store.contexts("p", "run-1", "stats")
    stats_exec = store.start_execution("t.Stats", ctxs2, {"examples": [ex]},
                                       {"node_id": "stats", "run_id": "run-1"})
    st = ExampleStatistics("/data/stats")
    store.finish_execution(stats_exec, "COMPLETE", ctxs2, {"statistics": [st]})

    [back] = store.artifacts_of(gen)["examples"]
    assert (back.uri, back.splits, back.span, back.state) == ("/data/examples", ["train", "eval"], 3, "LIVE")
    assert back.custom_properties["fingerprint"] == "abc"
    assert store.execution(gen)["state"] == "COMPLETE"
    assert store.execution(gen)["node_id"] == "gen"

    # lineage: producer, inputs, everything upstream
    assert lineage.producer_of(store, st.id)["id"] == stats_exec
    assert [a.id for a in lineage.inputs_of(store, stats_exec)["examples"]] == [ex.id]
    chain = lineage.upstream(store, st.id)
    assert [e["type"] for e, _ in chain] == ["t.Stats", "t.Gen"]

    # run listing and artifacts of a run
    store.set_run_state("p", "run-1", "COMPLETE")
    [run] = store.runs("p")
    assert run["run_id"] == "run-1" and run["state"] == "COMPLETE" and run["finished_at"] >= run["started_at"]
    produced = {(a.TYPE_NAME, node) for a, node in store.artifacts_in_run("run-1")}
    assert produced == {("Examples", "gen"), ("ExampleStatistics", "stats")}

    # a failed execution records its error and leaves no artifact
    ctxs3 = store.contexts("p", "run-1", "train")
    bad = store.start_execution("t.Train", ctxs3, {"examples": [ex]}, {"node_id": "train"})
    store.finish_execution(bad, "FAILED", ctxs3, props={"error": "boom"})
    assert store.execution(bad)["error"] == "boom"
    assert store.artifacts_of(bad) == {}


def test_sqlite_round_trip(tmp_path):
    store = MetadataStore(str(tmp_path / "m.sqlite"))
    _round_trip(store)
    # reopening sees the same data
    again = MetadataStore(f"sqlite://{tmp_path / 'm.sqlite'}")
    assert again.runs("p")[0]["run_id"] == "run-1"


def test_postgresql_round_trip(postgres_server):
    store = MetadataStore(postgres_server.uri("mlmd_roundtrip"))
    _round_trip(store)


def test_postgresql_keeps_backslashes_in_string_properties(postgres_server):
    """ml-metadata 1.16 on PostgreSQL fails on any string with a backslash (it quotes it as
    'E'...''): the Evaluator's eval_config JSON has escaped quotes, a traceback may hold
    backslashes. The store swaps them for a private-use character and back."""
    store = MetadataStore(postgres_server.uri("mlmd_backslash"))
    ctxs = store.contexts("p", "r", "n")
    text = '{"eval_config": "{\\"a\\": 1}"} C:\\path'
    exec_id = store.start_execution("t.N", ctxs, {}, {"exec_properties": text})
    model = Model("/m")
    model.custom_properties["note"] = text
    store.finish_execution(exec_id, "COMPLETE", ctxs, {"model": [model]}, {"error": text})
    assert store.execution(exec_id)["exec_properties"] == text
    assert store.execution(exec_id)["error"] == text
    assert store.artifacts_of(exec_id)["model"][0].custom_properties["note"] == text


def test_find_cached_matches_key_and_state(tmp_path):
    store = MetadataStore(str(tmp_path / "m.sqlite"))
    ctxs = store.contexts("p", "r", "n")
    ok = store.start_execution("t.N", ctxs, {}, {"cache_key": "k1"})
    store.finish_execution(ok, "COMPLETE", ctxs, {"model": [Model("/m")]})
    failed = store.start_execution("t.N", ctxs, {}, {"cache_key": "k2"})
    store.finish_execution(failed, "FAILED", ctxs)
    again = store.start_execution("t.N", ctxs, {}, {"cache_key": "k1"})
    store.finish_execution(again, "COMPLETE", ctxs, {"model": [Model("/m2")]})
    assert store.find_cached("t.N", "k1") == [again, ok]  # newest first
    assert store.find_cached("t.N", "k2") == []
    assert store.find_cached("t.Other", "k1") == []


@pytest.mark.parametrize("uri,field", [
    ("/tmp/x.sqlite", "sqlite"), ("sqlite:///tmp/x.sqlite", "sqlite"),
    ("postgresql://u:p@h:5433/db", "postgresql"), ("mysql://u:p@h:3307/db", "mysql"),
])
def test_connection_config_from_uri(uri, field):
    assert connection_config(uri).WhichOneof("config") == field


def test_postgres_uri_fields():
    cfg = connection_config("postgresql://ann:s%40cret@db.local:5433/meta")
    assert (cfg.postgresql.host, cfg.postgresql.port, cfg.postgresql.user) == ("db.local", "5433", "ann")
    assert (cfg.postgresql.password, cfg.postgresql.dbname) == ("s@cret", "meta")


def test_bad_uri_is_one_clear_message():
    with pytest.raises(MetadataConfigError, match="unsupported metadata URI 'redis://x'"):
        connection_config("redis://x")


def test_one_artifact_read_under_two_keys(tmp_path):
    """A model that is also its own baseline: MLMD takes one event per artifact and kind."""
    store = MetadataStore(str(tmp_path / "m.sqlite"))
    ctxs = store.contexts("p", "r", "train")
    train = store.start_execution("t.Train", ctxs, {}, {})
    model = Model("/m")
    store.finish_execution(train, "COMPLETE", ctxs, {"model": [model]})
    ev_ctxs = store.contexts("p", "r", "eval")
    ev = store.record_execution("t.Eval", "COMPLETE", ev_ctxs,
                                {"model": [model], "baseline_model": [model]}, None, {})
    assert [a.id for a in lineage.inputs_of(store, ev)["model"]] == [model.id]
