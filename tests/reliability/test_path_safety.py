"""Ids that become paths cannot escape the pipeline root, and nothing outside it is deleted."""
from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from beampipe.components.base import WiringError
from beampipe.metadata.ids import InvalidIdError
from beampipe.metadata.store import MetadataStore
from beampipe.orchestration import ir as ir_mod
from beampipe.orchestration.launcher import run_node
from beampipe.orchestration.local_runner import LocalDagRunner
from beampipe.orchestration.pipeline import Pipeline
from tests.support.toy import Consume, Produce

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
BAD_IDS = ["../../x", "/abs/path", "a/b", "..", ".hidden", "", "x" * 200, "a..b", "tab\tid", "new\nline"]


@pytest.mark.parametrize("bad", BAD_IDS)
def test_with_id_refuses_ids_that_are_not_one_path_segment(bad):
    with pytest.raises(WiringError, match="not allowed"):
        Produce().with_id(bad)


@pytest.mark.parametrize("bad", ["../x", "/abs", "a/b", "a..b"])
def test_pipeline_name_must_be_one_path_segment(tmp_path, bad):
    with pytest.raises(WiringError, match="pipeline name"):
        Pipeline(bad, str(tmp_path), [Produce()])


def _ir(tmp_path) -> dict:
    produce = Produce()
    return ir_mod.compile_pipeline(Pipeline("safe", str(tmp_path / "root"),
                                            [produce, Consume(examples=produce.outputs["examples"])]))


@pytest.mark.parametrize("field,bad", [("node", "../../victim"), ("node", "/tmp/victim"),
                                       ("output", "../../victim"), ("run", "../../..")])
def test_hand_made_ir_with_escaping_ids_is_refused_before_anything_is_written(tmp_path, field, bad):
    victim = tmp_path / "victim"
    victim.mkdir()
    (victim / "precious.txt").write_text("keep me")
    ir = _ir(tmp_path)
    run_id = "r1"
    node_id = "Produce"
    if field == "node":
        ir["nodes"][0]["id"] = node_id = bad
        ir["nodes"][1]["inputs"]["examples"]["producer"] = bad
    elif field == "output":
        ir["nodes"][0]["outputs"] = {bad: ir["nodes"][0]["outputs"]["examples"]}
    else:
        run_id = bad
    os.makedirs(ir["pipeline"]["root"])
    store = MetadataStore(ir["pipeline"]["metadata_uri"])
    with pytest.raises(InvalidIdError, match="not allowed"):
        run_node(ir, node_id, run_id, {}, store)
    assert (victim / "precious.txt").read_text() == "keep me"
    assert all(name.startswith("metadata.sqlite") for name in os.listdir(ir["pipeline"]["root"]))
    assert store.call("get_executions") == []


def test_run_node_cli_refuses_a_run_id_that_climbs_out(tmp_path):
    ir = _ir(tmp_path)
    ir_path = tmp_path / "ir.json"
    ir_path.write_text(json.dumps(ir))
    proc = subprocess.run([sys.executable, "-m", "beampipe", "run-node", "--ir", str(ir_path), "--node",
                           "Produce", "--run-id", "../../.."], capture_output=True, text=True,
                          env={**os.environ, "PYTHONPATH": REPO}, timeout=120)
    assert proc.returncode != 0
    assert "run id '../../..' is not allowed" in proc.stderr
    assert "Traceback" not in proc.stderr
    assert not (tmp_path / ".beampipe").exists() and not (tmp_path.parent / "Produce.log").exists()


def test_existing_files_where_old_layouts_put_outputs_are_never_deleted(tmp_path):
    """Publish used to rmtree whatever sat at <node>/<key>/<execution id>."""
    root = tmp_path / "root"
    for exec_id in ("1", "2"):
        (root / "Produce" / "examples" / exec_id).mkdir(parents=True)
        (root / "Produce" / "examples" / exec_id / "mine.txt").write_text("not beampipe's")
    produce = Produce()
    result = LocalDagRunner().run(Pipeline("safe", str(root), [produce]))
    assert result.status == "COMPLETE"
    for exec_id in ("1", "2"):
        assert (root / "Produce" / "examples" / exec_id / "mine.txt").read_text() == "not beampipe's"


def test_a_pipeline_root_that_is_a_file_fails_cleanly_and_records_nothing_running(tmp_path):
    root_file = tmp_path / "root"
    root_file.write_text("a file, not a directory")
    ir = _ir(tmp_path)
    ir["pipeline"]["metadata_uri"] = str(tmp_path / "m.sqlite")
    store = MetadataStore(str(tmp_path / "m.sqlite"))
    from beampipe.orchestration.launcher import NodeError

    with pytest.raises(NodeError, match="is a file, not a directory"):
        run_node(ir, "Produce", "r1", {}, store)
    assert [e for e in store.call("get_executions") if e.last_known_state == e.RUNNING] == []
    assert root_file.read_text() == "a file, not a directory"
