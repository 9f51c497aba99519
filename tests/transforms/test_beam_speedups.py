"""Beam's per-step lookups, cached by ``beam_speedups``, give Beam's own answers.

``userstate.get_dofn_specs`` per DoFn class and ``PipelineOptions`` parses per (class, flags)
are compared with Beam's unpatched functions: on hand-made DoFns that must (or must not) share
an answer, on every DoFn of a real TFT analyze-and-transform pipeline, and on every options
class of Beam with several flag lists. A stateful pipeline still runs as one.
"""
from __future__ import annotations

import apache_beam as beam
import pytest
from apache_beam.coders import VarIntCoder
from apache_beam.testing.util import assert_that, equal_to
from apache_beam.options.pipeline_options import DebugOptions, PipelineOptions, TypeOptions
from apache_beam.transforms import userstate
from apache_beam.transforms.timeutil import TimeDomain

from beampipe.transforms import beam_speedups, dofn_specs
from beampipe.transforms.beam_util import make_pipeline

beam_speedups.install()
SPECS = userstate.get_dofn_specs
BEAM_SPECS = SPECS.__wrapped_get_dofn_specs__
BEAM_OPTIONS_INIT = PipelineOptions.__init__.__wrapped_init__

BAG = userstate.BagStateSpec("seen", VarIntCoder())
TIMER = userstate.TimerSpec("flush", TimeDomain.WATERMARK)


class Stateful(beam.DoFn):
    def process(self, kv, seen=beam.DoFn.StateParam(BAG), flush=beam.DoFn.TimerParam(TIMER)):
        seen.add(kv[1])
        flush.set(0)
        return []

    @userstate.on_timer(TIMER)
    def on_flush(self, seen=beam.DoFn.StateParam(BAG)):
        yield sum(seen.read())


class Plain(beam.DoFn):
    def process(self, x):
        yield x


class Counter:
    def bump(self, x, seen=beam.DoFn.StateParam(BAG)):
        return x


class StatefulAttribute(beam.DoFn):
    """An instance attribute that is a bound method with a state parameter."""

    def __init__(self, fn=None):
        super().__init__()
        if fn is not None:
            self.extra = fn

    def process(self, x):
        yield x


class MethodProperty(beam.DoFn):
    """A property giving a bound method: its answer may depend on the instance."""

    @property
    def hook(self):
        return Counter().bump

    def process(self, x):
        yield x


class Slotted(beam.DoFn):
    __slots__ = ("hook",)

    def process(self, x):
        yield x


class Duplicate(beam.DoFn):
    def process(self, x, a=beam.DoFn.StateParam(BAG), b=beam.DoFn.StateParam(BAG)):
        yield x


def _same_answer(dofn) -> None:
    first, again = SPECS(dofn), SPECS(dofn)
    assert first == again == BEAM_SPECS(dofn)
    assert all(isinstance(s, set) for s in first)


def test_hand_made_dofns_get_beams_answer() -> None:
    dofns = [Stateful(), Stateful(), Plain(), StatefulAttribute(), StatefulAttribute(Counter().bump),
             MethodProperty(), Slotted(), beam.core.CallableWrapperDoFn(len),
             beam.core.CallableWrapperDoFn(lambda x, ts=beam.DoFn.TimestampParam: x),
             beam.core.CallableWrapperDoFn(Counter().bump), beam.core.CallableWrapperDoFn(str.upper)]
    for dofn in dofns:
        _same_answer(dofn)
    assert SPECS(Stateful()) == ({BAG}, {TIMER})
    # An instance holding a stateful bound method has it found: not from Plain's cache.
    assert SPECS(StatefulAttribute(Counter().bump)) == ({BAG}, set())
    assert SPECS(StatefulAttribute()) == (set(), set())
    assert SPECS(beam.core.CallableWrapperDoFn(Counter().bump)) == ({BAG}, set())


def test_only_instances_that_cannot_differ_share_an_answer() -> None:
    assert dofn_specs.instance_key(Stateful()) == dofn_specs.instance_key(Stateful())
    assert dofn_specs.instance_key(beam.core.CallableWrapperDoFn(len)) is not None
    for dofn in (StatefulAttribute(Counter().bump), MethodProperty(), Slotted(),
                 beam.core.CallableWrapperDoFn(Counter().bump)):
        assert dofn_specs.instance_key(dofn) is None, dofn
    # Different attribute names: different keys (an attribute may hide a method).
    assert dofn_specs.instance_key(StatefulAttribute()) != dofn_specs.instance_key(StatefulAttribute(len))


def test_beams_errors_are_raised_every_time() -> None:
    for _ in range(2):
        with pytest.raises(ValueError, match="duplicate"):
            SPECS(Duplicate())


def _dofns(pipeline) -> list:
    found = []

    class Visitor(beam.pipeline.PipelineVisitor):
        def visit_transform(self, node) -> None:
            fn = getattr(node.transform, "fn", None)
            if isinstance(fn, beam.DoFn):
                found.append(fn)

    pipeline.visit(Visitor())
    return found


def test_every_dofn_of_a_tft_pipeline_gets_beams_answer(tmp_path) -> None:
    import tensorflow as tf
    import tensorflow_transform as tft
    import tensorflow_transform.beam as tft_beam
    from tensorflow_transform.tf_metadata import dataset_metadata, schema_utils

    def preprocessing_fn(inputs):
        return {"z": tft.scale_to_z_score(inputs["x"]),
                "id": tft.compute_and_apply_vocabulary(inputs["s"])}

    rows = [{"x": float(i), "s": "ab"[i % 2]} for i in range(20)]
    metadata = dataset_metadata.DatasetMetadata(schema_utils.schema_from_feature_spec(
        {"x": tf.io.FixedLenFeature([], tf.float32), "s": tf.io.FixedLenFeature([], tf.string)}))
    with tft_beam.Context(temp_dir=str(tmp_path)):
        p = make_pipeline([])
        (transformed, _), _ = ((p | beam.Create(rows), metadata)
                               | tft_beam.AnalyzeAndTransformDataset(preprocessing_fn))
        _ = transformed | beam.Map(lambda r: r)
        result = p.run()
        result.wait_until_finish()
    dofns = _dofns(p)
    assert len(dofns) > 20
    for dofn in dofns:
        _same_answer(dofn)


def test_stateful_pipeline_runs_as_stateful() -> None:
    with make_pipeline([]) as p:
        sums = (p | beam.Create([("a", 1), ("a", 2), ("b", 5)]) | beam.ParDo(Stateful()))
        assert_that(sums, equal_to([3, 5]))


def _all_options_classes() -> list[type]:
    found, todo = [], [PipelineOptions]
    while todo:
        cls = todo.pop()
        found.append(cls)
        todo += cls.__subclasses__()
    return found


FLAG_LISTS = [[], ["--runner=DirectRunner", "--direct_num_workers=2", "--direct_running_mode=multi_processing"],
              ["--runner=DirectRunner", "--experiments=a", "--experiments=b", "--pickle_library=cloudpickle",
               "--temp_location=/tmp/x", "--unknown_flag=3", "--no_pipeline_type_check"],
              ["--labels", "k=v", "--sdk_location=container", "--beam_plugins=beampipe.transforms.fast_crc"]]


@pytest.mark.parametrize("flags", FLAG_LISTS)
def test_options_views_equal_beams(flags) -> None:
    import apache_beam.options.pipeline_options  # noqa: F401 - every options class defined

    for cls in _all_options_classes():
        if cls.__init__ is not PipelineOptions.__init__:
            continue
        for _ in range(2):  # a parse, then a hit
            cached = cls(list(flags))
            reference = cls.__new__(cls)
            BEAM_OPTIONS_INIT(reference, list(flags))
            assert vars(cached._visible_options) == vars(reference._visible_options), cls
            assert cached._all_options == reference._all_options, cls
            assert cached.get_all_options() == reference.get_all_options(), cls
        assert PipelineOptions(list(flags)).view_as(cls).get_all_options() == \
            reference.view_as(cls).get_all_options()


def test_options_objects_share_no_mutable_value() -> None:
    flags = ["--experiments=a"]
    first = PipelineOptions(list(flags))
    first.view_as(DebugOptions).add_experiment("b")
    assert PipelineOptions(list(flags)).view_as(DebugOptions).experiments == ["a"]
    assert first.view_as(DebugOptions).experiments == ["a", "b"]
    # Flags as an iterator go to Beam's own __init__ (which reads them once).
    reference = PipelineOptions.__new__(PipelineOptions)
    BEAM_OPTIONS_INIT(reference, iter(["--experiments=c"]))
    assert PipelineOptions(iter(["--experiments=c"])).get_all_options() == reference.get_all_options()
    # Overrides given as keywords still win, as in Beam.
    assert PipelineOptions(list(flags), pipeline_type_check=False).view_as(TypeOptions).pipeline_type_check is False
