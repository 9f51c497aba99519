"""Four processes running pipelines against one new SQLite store at the same time."""
from __future__ import annotations

import os
import subprocess
import sys

from beampipe.metadata.store import MetadataStore

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

SCRIPT = """
import sys
from beampipe.orchestration.local_runner import LocalDagRunner
from tests.support.toy import Consume, Produce
from beampipe.orchestration.pipeline import Pipeline
root, db, i = sys.argv[1], sys.argv[2], sys.argv[3]
p = Produce(text="worker" + i)
nodes = [p] + [Consume(examples=p.outputs["examples"], sleep=0.01 * k).with_id(f"C{k}") for k in range(3)]
result = LocalDagRunner().run(Pipeline("conc" + i, root, nodes, metadata_uri=db))
print(result.status)
sys.exit(0 if result.status == "COMPLETE" else 1)
"""


def test_four_processes_one_new_sqlite_store(tmp_path):
    db = str(tmp_path / "shared.sqlite")  # does not exist yet: all four race to create it
    env = {**os.environ, "PYTHONPATH": ROOT}
    procs = [subprocess.Popen([sys.executable, "-c", SCRIPT, str(tmp_path / f"root{i}"), db, str(i)],
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
             for i in range(4)]
    outs = [p.communicate(timeout=600) for p in procs]
    for proc, (out, err) in zip(procs, outs):
        assert proc.returncode == 0, err[-2000:]
        assert out.strip().endswith("COMPLETE")
    store = MetadataStore(db)
    runs = store.runs(limit=100)
    assert sorted(r["pipeline"] for r in runs) == ["conc0", "conc1", "conc2", "conc3"]
    assert all(r["state"] == "COMPLETE" for r in runs)
    for r in runs:
        execs = store.executions_in_context("pipeline_run", r["run_id"])
        assert sorted(e["state"] for e in execs) == ["COMPLETE"] * 4
