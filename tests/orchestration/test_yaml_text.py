"""The KFP YAML writer: whatever it writes plain or quoted, loading it gives back the data."""
from __future__ import annotations

import math

import pytest
import yaml

from beampipe.orchestration import ir as ir_mod
from beampipe.orchestration.compilers.kubeflow import compile_yaml
from beampipe.orchestration.compilers.yaml_text import dump_all

TRICKY = ["yes", "No", "ON", "y", "N", "1", "-1", "1.5", ".5", "1e5", "0x1f", "0o17", "1_000", "1:20", "", " x", "x ",
          "x: y", "a #b", "#c", "~", "null", "Null", "True", "-", "--- x", "a b", "é", "x\ny", "tab\there", "_a",
          "a/b.c-d", "@x", "'q'", '"q"', "2026-11-26", ".inf", ".NaN", "=", "<<", "{a}", "[a]", "*x", "&x", "!x",
          "%x", "|", ">", "a,b", "?", "? x", "{{$.inputs.parameters['x']}}"]


def test_tricky_scalars_read_back_as_written():
    data = {"strings": TRICKY, "numbers": [0, -7, 2**63 - 1, 1.5, 1e-05, -0.0, 1e300, float("inf"), float("-inf")],
            "other": [True, False, None, [], {}], "yes": {"no": "on"}}
    loaded = yaml.safe_load(dump_all([data]))
    assert loaded == data
    nan = yaml.safe_load(dump_all([{"x": float("nan")}]))["x"]
    assert math.isnan(nan)


def test_plain_only_where_safe():
    text = dump_all([{"name": "comp-trainer", "flag": "yes", "num": "1.5"}])
    assert "name: comp-trainer" in text  # readable where it can be
    assert "flag: 'yes'" in text and "num: '1.5'" in text


def test_several_documents_and_unsupported_values():
    docs = [{"a": 1}, {"b": ["x"]}]
    assert list(yaml.safe_load_all(dump_all(docs))) == docs
    with pytest.raises(TypeError, match="cannot write set"):
        dump_all([{"a": {1, 2}}])


def test_compiled_pipeline_loads_as_pyyaml_would_write_it(tmp_path):
    """The whole KFP document (spec + Kubernetes platform spec) equals what PyYAML's own dump reads back as."""
    import os
    here = os.path.dirname(os.path.abspath(__file__))
    module = ir_mod.load_module_from_file(os.path.join(here, "backend_pipeline.py"), "backend_pipeline")
    pipeline = module.make_pipeline(str(tmp_path / "root"))
    next(c for c in pipeline.components if c.id == "Judge").with_node_selector({"pool": "gpu"})
    text = compile_yaml(ir_mod.compile_pipeline(pipeline), mounted=[str(tmp_path)], image="registry.example/b:1",
                        metadata_secret=("mlmd-db", "pw"))
    docs = list(yaml.safe_load_all(text))
    assert len(docs) == 2
    again = yaml.dump_all(docs, Dumper=yaml.SafeDumper, sort_keys=True)
    assert list(yaml.safe_load_all(again)) == docs
    assert list(yaml.safe_load_all(dump_all(docs))) == docs
