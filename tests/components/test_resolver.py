"""Resolver through the real launcher and a real MLMD store holding several models."""
from __future__ import annotations

import os
from typing import Optional

import pytest

from beampipe.components.base import BaseComponent, Channel, ExecContext, In, Out, WiringError
from beampipe.components.decorator import InputArtifact, OutputArtifact, component
from beampipe.components.resolver import LatestArtifactStrategy, LatestBlessedModelStrategy, Resolver
from beampipe.dsl import experimental
from beampipe.metadata.artifacts import Examples, Model, ModelBlessing, ModelRun
from beampipe.metadata.store import MetadataStore
from beampipe.orchestration import ir as ir_mod
from beampipe.orchestration.launcher import latest_outputs, run_node
from beampipe.orchestration.pipeline import Pipeline
from beampipe.proto import RangeConfig, RollingRange, StaticRange

ResolverStrategy = experimental.ResolverStrategy  # the public spelling, as a TFX file imports it
SpanRangeStrategy = experimental.SpanRangeStrategy

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


# -- ResolverStrategy: span ranges and strategies of the user's own --------------------------

def _examples(tmp_path, store: MetadataStore, spans: list[int]) -> list[Examples]:
    """One ExampleGen run per span (in order), each recording Examples with that span."""
    made = []
    for i, span in enumerate(spans):
        art = Examples()
        art.span = span
        art.set_int_custom_property("span", span)
        made += _record(store, str(tmp_path), "CsvExampleGen", f"e{i}", {}, {"examples": [art]})["examples"]
    return made


def _resolve(tmp_path, store: MetadataStore, resolver: Resolver, run: str = "rr") -> dict:
    pipe = Pipeline(PIPE, str(tmp_path), [resolver], metadata_uri=store.uri)
    ir = ir_mod.compile_pipeline(pipe)
    result = run_node(ir, resolver.id, run, {}, store)
    assert result is not None and result.status == "COMPLETE", result
    return latest_outputs(store, PIPE, resolver.id, run)


@pytest.mark.parametrize("range_config,expected", [
    (RangeConfig(rolling_range=RollingRange(num_spans=2)), [5, 4, 4]),  # span 4 re-ingested: both kept
    (RangeConfig(rolling_range=RollingRange(start_span_number=5, num_spans=3)), [5]),
    (RangeConfig(static_range=StaticRange(start_span_number=1, end_span_number=3)), [3, 2, 1]),
    (RangeConfig(static_range=RangeConfig.StaticRange(2, 2)), [2]),
])
def test_span_range_strategy(tmp_path, store, range_config, expected):
    _examples(tmp_path, store, [1, 2, 3, 4, 4, 5])
    resolver = Resolver(strategy_class=SpanRangeStrategy, config={"range_config": range_config},
                        examples=Channel(type=Examples)).with_id("span_resolver")
    out = _resolve(tmp_path, store, resolver)
    assert [a.span for a in out["examples"]] == expected


def test_span_range_nothing_in_range_skips_the_resolver(tmp_path, store):
    _examples(tmp_path, store, [1, 2])
    resolver = Resolver(strategy_class=SpanRangeStrategy,
                        config={"range_config": RangeConfig(static_range=StaticRange(7, 9))},
                        examples=Channel(type=Examples))
    pipe = Pipeline(PIPE, str(tmp_path), [resolver], metadata_uri=store.uri)
    result = run_node(ir_mod.compile_pipeline(pipe), resolver.id, "r1", {}, store)
    assert result.status == "SKIPPED"  # "no inputs available": recorded as skipped, not failed
    assert "SpanRangeStrategy.resolve_artifacts returned None" in result.error


def test_span_range_config_checked_at_build_time():
    with pytest.raises(WiringError, match="does not fit SpanRangeStrategy"):
        Resolver(strategy_class=SpanRangeStrategy, config={"rangeconfig": RangeConfig()},
                 examples=Channel(type=Examples))
    with pytest.raises(ValueError, match="not both"):
        RangeConfig(static_range=StaticRange(1, 1), rolling_range=RollingRange(num_spans=1))


class EvenSpans(ResolverStrategy):
    """A user's strategy: the Examples with an even span, at most ``limit``, newest first;
    it checks it gets the real MLMD handle by reading the artifacts back through it."""

    def __init__(self, limit: int = 10) -> None:
        self.limit = limit

    def resolve_artifacts(self, store, input_dict):
        arts = [a for a in input_dict["examples"] if a.span % 2 == 0]
        protos = store.get_artifacts_by_id([a.id for a in arts])
        assert sorted(p.uri for p in protos) == sorted(a.uri for a in arts)
        return {"examples": sorted(arts, key=lambda a: a.span, reverse=True)[:self.limit]}


def test_user_strategy(tmp_path, store):
    _examples(tmp_path, store, [1, 2, 3, 4, 6])
    resolver = Resolver(strategy_class=EvenSpans, config={"limit": 2}, examples=Channel(type=Examples))
    assert resolver.exec_properties["module_file"] == os.path.abspath(__file__)
    out = _resolve(tmp_path, store, resolver)
    assert [a.span for a in out["examples"]] == [6, 4]


STRATEGY_FILE = '''
from beampipe.dsl import experimental

class OddSpans(experimental.ResolverStrategy):
    def __init__(self, range_config):
        self.range_config = range_config  # rebuilt as a RangeConfig, as TFX passes its proto

    def resolve_artifacts(self, store, input_dict):
        assert type(self.range_config).__name__ == "RangeConfig", self.range_config
        end = self.range_config.static_range.end_span_number
        return {k: [a for a in arts if a.span % 2 and a.span <= end] for k, arts in input_dict.items()}
'''


def test_user_strategy_from_a_file_in_a_fresh_process(tmp_path, store):
    """A compiled pipeline's task imports the strategy from its file (not importable by name)."""
    import json
    import subprocess
    import sys

    from beampipe.proto import RangeConfig as RC
    path = tmp_path / "my_strategies_xyz.py"
    path.write_text(STRATEGY_FILE)
    module = ir_mod.load_module_from_file(str(path), "user_pipeline_module_xyz")
    _examples(tmp_path, store, [1, 2, 3, 5])
    resolver = Resolver(strategy_class=module.OddSpans, config={"range_config": RC(static_range=StaticRange(0, 3))},
                        examples=Channel(type=Examples)).with_id("odd")
    ir = ir_mod.compile_pipeline(Pipeline(PIPE, str(tmp_path), [resolver], metadata_uri=store.uri))
    props = ir_mod.node(ir, "odd")["exec_properties"]
    assert props["strategy_class"] == "user_pipeline_module_xyz:OddSpans"
    assert props["module_file"] == str(path)
    from beampipe.orchestration.shipping import ship_code
    ir = ship_code(ir)  # as a compiled DAG/YAML carries it: the file shipped under <root>/_code/
    shipped = ir_mod.node(ir, "odd")["exec_properties"]["module_file"]
    assert shipped.startswith(str(tmp_path / "_code")) and shipped.endswith("/my_strategies_xyz.py")
    path.unlink()  # the task must use the shipped copy
    (tmp_path / "ir.json").write_text(ir_mod.dumps(ir))
    code = ("import sys\n"
            "from beampipe.orchestration import ir as m\n"
            "from beampipe.orchestration.launcher import run_node\n"
            "from beampipe.metadata.store import MetadataStore\n"
            f"ir = m.load({str(tmp_path / 'ir.json')!r})\n"
            "store = MetadataStore(ir['pipeline']['metadata_uri'])\n"
            "r = run_node(ir, 'odd', 'fresh', {}, store)\n"
            "print(r.status, r.error)\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd="/")
    assert out.returncode == 0 and out.stdout.startswith("COMPLETE"), out.stdout + out.stderr
    resolved = latest_outputs(store, PIPE, "odd", "fresh")["examples"]
    assert sorted(a.span for a in resolved) == [1, 3]
    json.dumps(props)  # the IR holds JSON only


@component
def UsesCacheIfAny(out: OutputArtifact[Model], cache: Optional[InputArtifact[Model]] = None) -> None:
    with open(os.path.join(out.uri, "had_cache.txt"), "w") as f:
        f.write(str(cache is not None))


@component
def NeedsModel(model: InputArtifact[Model], out: OutputArtifact[Model]) -> None:
    raise AssertionError("must not run without its model")


def test_latest_artifact_with_too_few_skips_and_only_optional_readers_run(tmp_path, store):
    """TFX 1.16: LatestArtifactStrategy returns None when a key has fewer than n ("no inputs
    available"). The Resolver is skipped; a node reading it through an optional input runs without
    it (TFX's transform-cache resolver on a first run), a node that needs it is skipped."""
    from beampipe.orchestration.local_runner import LocalDagRunner

    resolver = Resolver(strategy_class=LatestArtifactStrategy, model=Channel(type=Model)).with_id("latest")
    optional = UsesCacheIfAny(cache=resolver.outputs["model"])
    required = NeedsModel(model=resolver.outputs["model"])
    pipe = Pipeline(PIPE, str(tmp_path / "root"), [resolver, optional, required], metadata_uri=store.uri)
    result = LocalDagRunner().run(pipe)
    statuses = {n: r.status for n, r in result.nodes.items()}
    assert statuses == {"latest": "SKIPPED", "UsesCacheIfAny": "COMPLETE", "NeedsModel": "SKIPPED"}, result.nodes
    assert result.status == "COMPLETE" and "returned None" in result.nodes["latest"].error


# -- a retraining window on the local runner: ExampleGen per span, the latest 2 spans counted --

class CountRows(BaseComponent):
    """Counts the rows of every Examples artifact it is given (a list: one per span)."""

    INPUTS = {"examples": In(Examples)}
    OUTPUTS = {"counts": Out(ModelRun)}

    def __init__(self, examples: Channel) -> None:
        super().__init__({"examples": examples})

    @classmethod
    def execute(cls, ctx: ExecContext) -> None:
        import glob
        import json

        from beampipe.transforms.example_io import tfrecords
        counts = {}
        for art in ctx.inputs["examples"]:
            files = [f for split in art.splits for f in glob.glob(art.split_files(split))]
            counts[str(art.span)] = sum(1 for f in files for _ in tfrecords(f))
        with open(os.path.join(ctx.output("counts").uri, "counts.json"), "w") as f:
            json.dump(counts, f)


@pytest.mark.e2e
def test_span_window_pipeline_on_the_local_runner(tmp_path):
    import json

    from beampipe.components.example_gen import CsvExampleGen
    from beampipe.orchestration.local_runner import LocalDagRunner
    from beampipe.proto import Input

    base = tmp_path / "data"

    def add_span(span: int, rows: int) -> None:
        (base / f"span-{span}").mkdir(parents=True)
        lines = "".join(f"{i},{span}.{i}\n" for i in range(rows))
        (base / f"span-{span}" / "data.csv").write_text("x,y\n" + lines)

    def run() -> dict:
        example_gen = CsvExampleGen(input_base=str(base), input_config=Input(
            splits=[Input.Split(name="single_split", pattern="span-{SPAN}/*.csv")]))
        resolver = Resolver(strategy_class=SpanRangeStrategy,
                            config={"range_config": RangeConfig(rolling_range=RollingRange(num_spans=2))},
                            examples=Channel(type=Examples, producer_component_id=example_gen.id)
                            ).with_id("span_resolver")
        count = CountRows(examples=resolver.outputs["examples"])
        pipe = Pipeline("window", str(tmp_path / "root"), [count, resolver, example_gen])
        assert [c.id for c in pipe.components] == ["CsvExampleGen", "span_resolver", "CountRows"]
        result = LocalDagRunner().run(pipe)
        assert result.status == "COMPLETE", [(n.node_id, n.error) for n in result.failed]
        store = MetadataStore(pipe.metadata_uri)
        try:
            [counts] = latest_outputs(store, "window", "CountRows", result.run_id)["counts"]
        finally:
            store.close()
        with open(os.path.join(counts.uri, "counts.json")) as f:
            return json.load(f)

    add_span(1, 3)
    assert run() == {"1": 3}
    add_span(2, 4)
    assert run() == {"2": 4, "1": 3}
    add_span(3, 5)
    assert run() == {"3": 5, "2": 4}  # the window rolled: span 1 left it


def test_tfx_names_resolve_lazily_and_load_no_ml_library():
    import subprocess
    import sys
    code = ("import sys\n"
            "import beampipe as tfx\n"
            "assert not any(m.startswith('beampipe.components.resolver') for m in sys.modules)\n"
            "rc = tfx.proto.RangeConfig(rolling_range=tfx.proto.RollingRange(num_spans=2))\n"
            "assert tfx.proto.RangeConfig.StaticRange is tfx.proto.StaticRange\n"
            "class Mine(tfx.dsl.experimental.ResolverStrategy):\n"
            "    def resolve_artifacts(self, store, input_dict):\n"
            "        return input_dict\n"
            "Examples = tfx.types.standard_artifacts.Examples\n"
            "tfx.dsl.Resolver(strategy_class=tfx.dsl.experimental.SpanRangeStrategy, config={'range_config': rc},\n"
            "                 examples=tfx.dsl.Channel(type=Examples, producer_component_id='CsvExampleGen'))\n"
            "tfx.dsl.Resolver(strategy_class=Mine, examples=tfx.dsl.Channel(type=Examples))\n"
            "heavy = [m for m in ('tensorflow', 'apache_beam', 'tfx_bsl', 'ml_metadata') if m in sys.modules]\n"
            "print(heavy)\n")
    root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         env={**os.environ, "PYTHONPATH": root})
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "[]"


def test_producer_component_id_binds_in_the_pipeline(tmp_path):
    from beampipe.components.example_gen import CsvExampleGen
    gen = CsvExampleGen(input_base=str(tmp_path)).with_id("gen")
    resolver = Resolver(strategy_class=LatestArtifactStrategy,
                        examples=Channel(type=Examples, producer_component_id="gen"))
    pipe = Pipeline(PIPE, str(tmp_path), [resolver, gen])
    assert [c.id for c in pipe.components] == ["gen", "Resolver"]
    node = ir_mod.node(ir_mod.compile_pipeline(pipe), "Resolver")
    assert node["inputs"]["examples"]["producer"] == "gen" and node["upstream"] == ["gen"]
    assert node["exec_properties"]["input_channels"] == {"examples": {"producer": "gen", "output_key": "examples"}}
    with pytest.raises(WiringError, match="'nope', which is not in the pipeline"):
        Pipeline(PIPE, str(tmp_path), [Resolver(strategy_class=LatestArtifactStrategy,
                                                examples=Channel(type=Examples, producer_component_id="nope"))])
