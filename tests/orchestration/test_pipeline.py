"""Wiring mistakes fail at build time, naming the nodes and the channel; the IR is JSON."""
from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from beampipe.components import WiringError
from beampipe.components.base import RuntimeParameter
from beampipe.metadata.artifacts import Model
from beampipe.components.base import Channel
from beampipe.orchestration import ir
from beampipe.orchestration.pipeline import Pipeline
from tests.support.toy import Consume, Produce


def test_wrong_type_names_nodes_and_channel(tmp_path):
    c1 = Consume(examples=Produce().outputs["examples"])
    with pytest.raises(WiringError, match=r"node 'Consume' \(Consume\): input 'examples' expects "
                                          r"Examples but is wired to Model from node 'Consume' output 'model'"):
        bad = Consume(examples=c1.outputs["model"])
        Pipeline("p", str(tmp_path), [bad])


def test_missing_required_input(tmp_path):
    with pytest.raises(WiringError, match="node 'Consume' .*required input 'examples'"):
        Pipeline("p", str(tmp_path), [Consume()])


def test_duplicate_ids(tmp_path):
    a, b = Produce(), Produce()
    with pytest.raises(WiringError, match="two nodes have the id 'Produce'"):
        Pipeline("p", str(tmp_path), [a, b])


def test_producer_missing_from_pipeline(tmp_path):
    p = Produce()
    c = Consume(examples=p.outputs["examples"])
    with pytest.raises(WiringError, match="node 'Produce' is not in the pipeline"):
        Pipeline("p", str(tmp_path), [c])


def test_cycle_is_reported(tmp_path):
    a = Consume(examples=Channel(Produce.OUTPUTS["examples"].type)).with_id("A")
    b = Consume(examples=Channel(Produce.OUTPUTS["examples"].type, a, "examples")).with_id("B")
    a.inputs["examples"] = Channel(Produce.OUTPUTS["examples"].type, b, "examples")
    with pytest.raises(WiringError, match="cycle: A -> B -> A|cycle: B -> A -> B"):
        Pipeline("p", str(tmp_path), [a, b])


def test_unknown_input_or_parameter():
    with pytest.raises(WiringError, match="unknown parameters"):
        Produce(colour="red")


def test_ir_is_json_with_topological_nodes_and_parameters(tmp_path):
    p = Produce(text=RuntimeParameter("greeting", str, "hi"))
    c = Consume(examples=p.outputs["examples"])
    pipe = Pipeline("p", str(tmp_path), [c, p], beam_pipeline_args=["--direct_num_workers=2"])
    doc = json.loads(ir.dumps(ir.compile_pipeline(pipe)))
    assert [n["id"] for n in doc["nodes"]] == ["Produce", "Consume"]
    assert doc["pipeline"]["parameters"] == {"greeting": {"type": "str", "default": "hi"}}
    consume = doc["nodes"][1]
    assert consume["inputs"]["examples"] == {"producer": "Produce", "output_key": "examples",
                                             "type": "Examples"}
    assert doc["nodes"][0]["exec_properties"]["text"] == {"__runtime_parameter__": "greeting"}
    assert doc["pipeline"]["beam_pipeline_args"] == ["--direct_num_workers=2"]
    assert ir.load_component_class(consume["component"]) is Consume


def test_import_and_build_load_no_ml_library():
    code = ("import sys, beampipe\n"
            "from beampipe import Pipeline\n"
            "from beampipe.components import CsvExampleGen, StatisticsGen\n"
            "g = CsvExampleGen(input_base='/tmp')\n"
            "s = StatisticsGen(examples=g.outputs['examples'])\n"
            "Pipeline('p', '/tmp/r', [g, s])\n"
            "heavy = [m for m in ('tensorflow', 'apache_beam', 'tensorflow_data_validation',\n"
            "         'tensorflow_transform', 'tensorflow_model_analysis', 'tfx_bsl') if m in sys.modules]\n"
            "print(heavy)\n")
    root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    env = {**os.environ, "PYTHONPATH": root}
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "[]"
