"""The penguin pipeline under Airflow 3's ``dag.test()``: per-task overhead, and whose it is.

Compiles the penguin pipeline to an Airflow DAG (local flavour: each task starts the ML
venv's python for one node), migrates a throwaway SQLite Airflow home, runs the DAG cold
once and then fully cached ``--repeats`` times, and prints wall times and the per-task
overhead: (wall time - the nodes' own execution time recorded in MLMD) / Airflow tasks.

The overhead is split in two with a baseline: the same DAG (same tasks, same edges) whose
callables do nothing, run under ``dag.test()`` before the cold run and before each cached
run. Its per-task time is Airflow's own; the rest is beampipe's: starting the ML venv's
python, imports, MLMD, the cache check, publishing.

Two ways to run, both measured (``--api``):

- ``per-task``: ``dag.test()`` as Airflow ships it. It builds a new in-process Execution API
  for every task, and building one (a FastAPI app whose ~215 routes cadwyn copies per API
  version) is ~2 s of each task's time here.
- ``shared``: the same ``dag.test()`` with one in-process Execution API for the whole run
  (Airflow's ``supervisor.in_process_api_server`` memoized in the test process), as a
  deployment has one API server for all its tasks. Nothing else changes: each task still
  gets its own supervisor, task runner and ML-venv process.

Bytecode writing is left on for the tasks (``PYTHONDONTWRITEBYTECODE`` is dropped): an
Airflow worker writes ``.pyc`` files, an installed wheel has them; without it every task
would compile beampipe's sources again.

    bash .ci/install_airflow.sh   # once
    python benchmarks/airflow_penguin.py [--repeats 3] [--no-record]
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)
PENGUIN = os.path.join(ROOT, "examples", "penguin", "penguin_pipeline.py")
AIRFLOW_PYTHON = os.path.join(os.environ.get("BEAMPIPE_AIRFLOW_VENV", os.path.expanduser(
    "~/.cache/beampipe/airflow-venv")), "bin", "python")

# argv: DAG file, "shared" or "per-task" (Execution API), "noop" to replace every task's
# callable by one that does nothing.
DAG_TEST = """
import functools, importlib.util, json, sys, time
if sys.argv[2] == "shared":  # one in-process Execution API for the run, as a deployment's API server
    from airflow.sdk.execution_time import supervisor
    supervisor.in_process_api_server = functools.cache(supervisor.in_process_api_server)
spec = importlib.util.spec_from_file_location("penguin_dag", sys.argv[1])
mod = importlib.util.module_from_spec(spec); spec.loader.exec_module(mod)
if sys.argv[3:] == ["noop"]:
    def noop(**context):
        return {}
    for task in mod.dag.tasks:
        task.python_callable = noop
t = time.time()
dr = mod.dag.test()
print("RESULT " + json.dumps({"state": str(dr.state), "seconds": time.time() - t, "run_id": dr.run_id,
                              "tasks": len(mod.dag.tasks)}))
"""


def node_seconds(db: str, run_id: str) -> float:
    """Sum of the nodes' own execution time in a run (launcher start to MLMD commit)."""
    from beampipe.metadata.store import RUN_CONTEXT, MetadataStore

    store = MetadataStore(db)
    try:
        execs = store.executions_in_context(RUN_CONTEXT, run_id)
    finally:
        store.close()
    return sum(e["finished_at"] - e["started_at"] for e in execs if "finished_at" in e)


def dag_test(env: dict[str, str], dag_file: str, api: str, noop: bool = False) -> dict:
    out = subprocess.run([AIRFLOW_PYTHON, "-c", DAG_TEST, dag_file, api, *(["noop"] if noop else [])],
                         env=env, capture_output=True, text=True, check=True).stdout
    return json.loads([ln for ln in out.splitlines() if ln.startswith("RESULT ")][-1][7:])


def timed_run(env: dict[str, str], dag_file: str, db: str, api: str, label: str) -> tuple[float, float]:
    """One dag.test of the real DAG: (overhead per task, wall seconds)."""
    from beampipe.orchestration.entrypoint import sanitize_run_id

    result = dag_test(env, dag_file, api)
    work = node_seconds(db, sanitize_run_id(result["run_id"]))
    overhead = (result["seconds"] - work) / result["tasks"]
    print(f"dag.test {label:<24} {result['seconds']:6.1f}s  state {result['state']}  node work "
          f"{work:5.1f}s  overhead per task {overhead:4.2f}s ({result['tasks']} tasks)", flush=True)
    return overhead, result["seconds"]


def measure(api: str, repeats: int, tmp: str) -> dict[str, str]:
    """Cold run and ``repeats`` cached runs of penguin with the Execution API ``api``, each after
    a no-op baseline: {measure: figure line}. Its own Airflow home and pipeline root."""
    home, root = os.path.join(tmp, api, "airflow"), os.path.join(tmp, api, "root")
    env = {**os.environ, "AIRFLOW_HOME": home, "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
           "AIRFLOW__CORE__DAGS_FOLDER": os.path.join(home, "dags"), "PYTHONPATH": ROOT,
           "PENGUIN_ROOT": root}
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    os.makedirs(os.path.join(home, "dags"))
    subprocess.run([AIRFLOW_PYTHON, "-m", "airflow", "db", "migrate"], env=env, check=True,
                   capture_output=True)
    dag_file = os.path.join(home, "dags", "penguin.py")
    subprocess.run([sys.executable, "-m", "beampipe", "compile", PENGUIN, "--target", "airflow",
                    "--output", dag_file, "--python", sys.executable], env=env, check=True)
    db = os.path.join(root, "metadata.sqlite")
    baseline: list[float] = []

    def measure_baseline() -> None:  # interleaved with the real runs: the load drifts
        result = dag_test(env, dag_file, api, noop=True)
        baseline.append(result["seconds"] / result["tasks"])
        print(f"[{api}] dag.test baseline (no-op callables) {result['seconds']:6.1f}s  "
              f"Airflow's own per task {baseline[-1]:4.2f}s", flush=True)

    measure_baseline()
    cold, _ = timed_run(env, dag_file, db, api, f"[{api}] cold")
    cached = []
    for i in range(max(repeats, 1)):
        measure_baseline()
        cached.append(timed_run(env, dag_file, db, api, f"[{api}] cached #{i + 1}")[0])
    airflow_own = statistics.median(baseline)
    spread = f"{min(baseline):.2f}-{max(baseline):.2f}"  # dag.test's own noise: read beampipe's within it
    figures = {
        f"overhead per task, cached (median of {len(cached)})": statistics.median(cached),
        "overhead per task, cold": cold,
    }
    lines = {}
    for measure_name, overhead in figures.items():
        lines[f"{measure_name}, {api} Execution API"] = (
            f"{overhead:.2f} s = Airflow dag.test's own {airflow_own:.2f} s (no-op tasks, {spread}) "
            f"+ beampipe's {overhead - airflow_own:.2f} s")
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3, help="cached runs and baseline runs (median)")
    parser.add_argument("--api", choices=["both", "shared", "per-task"], default="both",
                        help="one in-process Execution API for the run (as a deployment's API server), one "
                             "per task (dag.test as shipped), or both (default)")
    parser.add_argument("--no-record", action="store_true", help="print only; leave benchmarks/README.md")
    args = parser.parse_args()
    if not os.path.exists(AIRFLOW_PYTHON):
        sys.exit(f"no Airflow venv at {AIRFLOW_PYTHON}: run bash .ci/install_airflow.sh")
    lines: dict[str, str] = {}
    with tempfile.TemporaryDirectory() as tmp:
        for api in (["shared", "per-task"] if args.api == "both" else [args.api]):
            lines.update(measure(api, args.repeats, tmp))
    print()
    for measure_name, line in lines.items():
        print(f"{measure_name}: {line}")
    if not args.no_record:
        from benchmarks.results import record

        command = "python benchmarks/airflow_penguin.py"
        command += f" --repeats {args.repeats}" if args.repeats != 3 else ""
        command += f" --api {args.api}" if args.api != "both" else ""
        for measure_name, line in lines.items():
            record("airflow_penguin.py", measure_name, line, command)

if __name__ == "__main__":
    main()
