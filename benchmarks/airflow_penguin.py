"""The penguin pipeline under Airflow 3's ``dag.test()`` against the local runner.

Compiles the penguin pipeline to an Airflow DAG (local flavour: each task starts the
ML venv's python for one node), migrates a throwaway SQLite Airflow home, runs the DAG
cold and then fully cached, and prints wall times and the per-task overhead (wall time
minus the nodes' own execution time, divided by the task count).

    bash .ci/install_airflow.sh   # once
    python benchmarks/airflow_penguin.py
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PENGUIN = os.path.join(ROOT, "examples", "penguin", "penguin_pipeline.py")
AIRFLOW_PYTHON = os.path.join(os.environ.get("BEAMPIPE_AIRFLOW_VENV", os.path.expanduser(
    "~/.cache/beampipe/airflow-venv")), "bin", "python")

DAG_TEST = """
import importlib.util, json, sys, time
spec = importlib.util.spec_from_file_location("penguin_dag", sys.argv[1])
mod = importlib.util.module_from_spec(spec); spec.loader.exec_module(mod)
t = time.time()
dr = mod.dag.test()
print("RESULT " + json.dumps({"state": str(dr.state), "seconds": time.time() - t, "run_id": dr.run_id}))
"""


def node_seconds(db: str, run_id: str) -> tuple[float, int]:
    """Sum of the nodes' own execution time in a run, and how many nodes ran."""
    sys.path.insert(0, ROOT)
    from beampipe.metadata.store import RUN_CONTEXT, MetadataStore

    store = MetadataStore(db)
    execs = store.executions_in_context(RUN_CONTEXT, run_id)
    total = sum(e["finished_at"] - e["started_at"] for e in execs if "finished_at" in e)
    return total, len(execs)


def main() -> None:
    if not os.path.exists(AIRFLOW_PYTHON):
        sys.exit(f"no Airflow venv at {AIRFLOW_PYTHON}: run bash .ci/install_airflow.sh")
    with tempfile.TemporaryDirectory() as tmp:
        home, root = os.path.join(tmp, "airflow"), os.path.join(tmp, "root")
        env = {**os.environ, "AIRFLOW_HOME": home, "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
               "AIRFLOW__CORE__DAGS_FOLDER": os.path.join(home, "dags"), "PYTHONPATH": ROOT,
               "PENGUIN_ROOT": root}
        os.makedirs(os.path.join(home, "dags"))
        subprocess.run([AIRFLOW_PYTHON, "-m", "airflow", "db", "migrate"], env=env, check=True,
                       capture_output=True)
        dag_file = os.path.join(home, "dags", "penguin.py")
        t0 = time.perf_counter()
        subprocess.run([sys.executable, "-m", "beampipe", "compile", PENGUIN, "--target", "airflow",
                        "--output", dag_file, "--python", sys.executable], env=env, check=True)
        print(f"compile: {time.perf_counter() - t0:.2f}s (process included)")
        db = os.path.join(root, "metadata.sqlite")
        for label in ("cold", "second (fully cached)"):
            out = subprocess.run([AIRFLOW_PYTHON, "-c", DAG_TEST, dag_file], env=env,
                                 capture_output=True, text=True, check=True).stdout
            result = json.loads([ln for ln in out.splitlines() if ln.startswith("RESULT ")][-1][7:])
            run_id = [r for r in _runs(db)][0]
            work, tasks = node_seconds(db, run_id)
            overhead = (result["seconds"] - work) / max(tasks, 1)
            print(f"dag.test {label:<40} {result['seconds']:6.1f}s  state {result['state']}  "
                  f"node work {work:5.1f}s  overhead per task {overhead:4.1f}s ({tasks} tasks)")


def _runs(db: str) -> list[str]:
    sys.path.insert(0, ROOT)
    from beampipe.metadata.store import MetadataStore
    return [r["run_id"] for r in MetadataStore(db).runs(limit=5)]


if __name__ == "__main__":
    main()
