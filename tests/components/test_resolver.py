"""Resolver through the real launcher and a real MLMD store holding several models."""
from __future__ import annotations

import os

import pytest

from beampipe.components.base import Channel, WiringError
from beampipe.components.resolver import LatestArtifactStrategy, LatestBlessedModelStrategy, Resolver
from beampipe.metadata.artifacts import Model, ModelBlessing
from beampipe.metadata.store import MetadataStore
from beampipe.orchestration import ir as ir_mod
from beampipe.orchestration.launcher import latest_outputs, run_node
from beampipe.orchestration.pipeline import Pipeline

PIPE = "resolver_test"


def _record(store: MetadataStore, root: str, node: str, run: str, inputs: dict, outputs: dict) -> dict:
    """Record one COMPLETE execution of `node` with new output artifacts (dirs created)."""
    contexts = store.contexts(PIPE, run, node)
    exec_id = store.start_execution(f"fake.{node}", contexts, inputs, {"node_id": node, "run_id": run})
    for key, arts in outputs.items():
        for art in arts:
            art.uri = os.path.join(root, node, key, str(exec_id))
            os.makedirs(art.uri, exist_ok=True)
    store.finish_execution(exec_id, "COMPLETE", contexts, outputs)
    return outputs


def _blessing(blessed: int) -> ModelBlessing:
    art = ModelBlessing()
    art.custom_properties["blessed"] = blessed
    return art


def _run_resolver(tmp_path, store: MetadataStore, strategy: type, run: str) -> dict:
    resolver = Resolver(strategy_class=strategy, model=Channel(type=Model),
                        model_blessing=Channel(type=ModelBlessing)
                        ).with_id("latest_blessed_model_resolver")
    if strategy is LatestArtifactStrategy:
        resolver = Resolver(strategy_class=strategy, model=Channel(type=Model)).with_id("latest_model")
    pipe = Pipeline(PIPE, str(tmp_path), [resolver], metadata_uri=store.uri)
    ir = ir_mod.compile_pipeline(pipe)
    result = run_node(ir, resolver.id, run, {}, store)
    assert result is not None and result.status == "COMPLETE", result
    return latest_outputs(store, PIPE, resolver.id, run)


@pytest.fixture
def store(tmp_path):
    s = MetadataStore(str(tmp_path / "metadata.sqlite"))
    yield s
    s.close()


def _history(tmp_path, store: MetadataStore) -> list[Model]:
    """Three trainer runs; models 1 and 2 blessed, model 3 (newest) not."""
    models = []
    for run, blessed in (("r1", 1), ("r2", 1), ("r3", 0)):
        model = _record(store, str(tmp_path), "Trainer", run, {}, {"model": [Model()]})["model"][0]
        _record(store, str(tmp_path), "Evaluator", run, {"model": [model]},
                {"blessing": [_blessing(blessed)]})
        models.append(model)
    return models


def test_latest_blessed_model_from_several(tmp_path, store):
    models = _history(tmp_path, store)
    out = _run_resolver(tmp_path, store, LatestBlessedModelStrategy, "r4")
    assert [m.id for m in out["model"]] == [models[1].id]
    assert out["model"][0].uri == models[1].uri  # the existing artifact, not a copy
    assert out["model_blessing"][0].custom_properties["blessed"] == 1
    assert not os.path.exists(os.path.join(str(tmp_path), "latest_blessed_model_resolver"))


def test_no_blessed_model_is_an_empty_result(tmp_path, store):
    model = _record(store, str(tmp_path), "Trainer", "r1", {}, {"model": [Model()]})["model"][0]
    _record(store, str(tmp_path), "Evaluator", "r1", {"model": [model]}, {"blessing": [_blessing(0)]})
    out = _run_resolver(tmp_path, store, LatestBlessedModelStrategy, "r2")
    assert out.get("model", []) == [] and out.get("model_blessing", []) == []


def test_empty_store(tmp_path, store):
    out = _run_resolver(tmp_path, store, LatestBlessedModelStrategy, "r1")
    assert out.get("model", []) == []


def test_latest_artifact(tmp_path, store):
    models = _history(tmp_path, store)
    out = _run_resolver(tmp_path, store, LatestArtifactStrategy, "r4")
    assert [m.id for m in out["model"]] == [models[2].id]


def test_wiring():
    resolver = Resolver(strategy_class=LatestBlessedModelStrategy, model=Channel(type=Model),
                        model_blessing=Channel(type=ModelBlessing))
    assert set(resolver.outputs) == {"model", "model_blessing"}
    assert resolver.outputs["model"].type is Model
    assert resolver.enable_cache is False
    with pytest.raises(WiringError):
        Resolver(strategy_class=object, model=Channel(type=Model))


def test_model_side_modules_load_no_ml_library():
    """Building a pipeline with these components must not import TF, TFMA, Beam or tfx-bsl."""
    import subprocess
    import sys
    code = ("import sys\n"
            "from beampipe.components import Evaluator, Resolver, Pusher, BulkInferrer, InfraValidator\n"
            "from beampipe.proto import PushDestination, ServingSpec, ValidationSpec, RequestSpec\n"
            "from beampipe.components.base import Channel\n"
            "from beampipe.metadata.artifacts import Model, Examples\n"
            "Pusher(model=Channel(Model), push_destination=PushDestination("
            "filesystem=PushDestination.Filesystem(base_directory='/tmp/x')))\n"
            "InfraValidator(model=Channel(Model), examples=Channel(Examples), "
            "request_spec=RequestSpec(num_examples=2))\n"
            "heavy = [m for m in ('tensorflow', 'tensorflow_model_analysis', 'apache_beam', 'tfx_bsl')"
            " if m in sys.modules]\n"
            "print(heavy)\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         cwd=os.path.dirname(os.path.dirname(os.path.dirname(__file__))))
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "[]"
