"""Reliability trials shared by tests/reliability and benchmarks/reliability.py.

- ``concurrent_round``: N processes start the same small pipeline at once against one
  store (fresh or warm), and the store is then checked for duplicate MLMD types, runs
  that are missing, and executions that are not COMPLETE.
- ``kill_trial``: a pipeline run in a child process is killed (SIGKILL) at a fault point
  or after a random delay, the pipeline is run again to completion, and what is left is
  counted: RUNNING executions and runs, staging directories, output directories that no
  LIVE artifact names, and whether the outputs equal an uninterrupted run's.
"""
from __future__ import annotations

import collections
import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

WORKER = """
import sys
from beampipe.orchestration.local_runner import LocalDagRunner
from tests.support.toy import chain
root, uri, name, cache = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4] == "1"
pipe = chain(root, n=3, name=name, metadata_uri=uri)
pipe.enable_cache = cache
result = LocalDagRunner().run(pipe)
print(result.run_id, result.status)
sys.exit(0 if result.status == "COMPLETE" else 1)
"""


def _env(extra: dict[str, str] | None = None) -> dict[str, str]:
    env = {**os.environ, "PYTHONPATH": REPO}
    env.update(extra or {})
    return env


@dataclass
class RoundResult:
    processes: int
    failures: int
    duplicate_types: list[str]
    wall_s: float
    errors: list[str] = field(default_factory=list)


def duplicate_types(uri: str) -> list[str]:
    """Type names recorded more than once (MLMD's Type table has no unique constraint)."""
    from beampipe.metadata.store import MetadataStore

    store = MetadataStore(uri)
    try:
        names = [f"artifact:{t.name}" for t in store.call("get_artifact_types")]
        names += [f"execution:{t.name}" for t in store.call("get_execution_types")]
        names += [f"context:{t.name}" for t in store.call("get_context_types")]
    finally:
        store.close()
    return sorted(n for n, c in collections.Counter(names).items() if c > 1)


def concurrent_round(uri: str, workdir: str, processes: int = 8, tag: str = "r",
                     cache: bool = False, timeout: float = 600) -> RoundResult:
    """Start ``processes`` runs of one pipeline at once on one store; count what went wrong."""
    started = time.time()
    procs = [subprocess.Popen([sys.executable, "-c", WORKER, os.path.join(workdir, f"{tag}-{i}"), uri,
                               "conc", "1" if cache else "0"],
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=_env())
             for i in range(processes)]
    errors = []
    for proc in procs:
        out, err = proc.communicate(timeout=timeout)
        if proc.returncode != 0 or not out.strip().endswith("COMPLETE"):
            errors.append((out + err)[-1500:])
    wall = time.time() - started
    return RoundResult(processes, len(errors), duplicate_types(uri), wall, errors)


KILL_WORKER = """
import sys
from beampipe.orchestration.local_runner import LocalDagRunner
from tests.support.toy import chain
root, n, orchestrator = sys.argv[1], int(sys.argv[2]), sys.argv[3]
pipe = chain(root, n=n, name="kill")
for node in pipe.components:
    if "sleep" in node.PARAMETERS:
        node.exec_properties["sleep"] = 0.5
result = LocalDagRunner(orchestrator=orchestrator).run(pipe)
print(result.run_id, result.status)
sys.exit(0 if result.status == "COMPLETE" else 1)
"""
FAULT_POINTS = ("started", "executed", "renamed", "committed")


@dataclass
class KillOutcome:
    how: str
    killed: bool
    running_executions: int
    running_runs: int
    staging_dirs: int
    unrecorded_bytes: int
    outputs_equal: bool
    rerun_status: str


def run_kill_pipeline(root: str, n: int = 3, env: dict[str, str] | None = None,
                      kill_after: float | None = None, orchestrator: str = "threads") -> tuple[int, str]:
    """Run the kill pipeline in a child; SIGKILL it after kill_after seconds if given."""
    proc = subprocess.Popen([sys.executable, "-c", KILL_WORKER, root, str(n), orchestrator],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=_env(env))
    if kill_after is not None:
        try:
            proc.wait(timeout=kill_after)
        except subprocess.TimeoutExpired:
            proc.send_signal(signal.SIGKILL)
    out, err = proc.communicate(timeout=300)
    return proc.returncode, out + err


def output_fingerprints(root: str) -> dict[str, str]:
    """node id -> fingerprint of its outputs in the latest COMPLETE run (content only)."""
    from beampipe.metadata.store import MetadataStore

    store = MetadataStore(os.path.join(root, "metadata.sqlite"))
    try:
        [run] = [r for r in store.runs(limit=1000) if r.get("state") == "COMPLETE"][:1]
        return {f"{node}/{art.TYPE_NAME}": art.custom_properties.get("fingerprint", "")
                for art, node in store.artifacts_in_run(run["run_id"])}
    finally:
        store.close()


def debris(root: str) -> tuple[int, int, int, int]:
    """(RUNNING executions, RUNNING runs, staging dirs, bytes in output dirs no LIVE artifact names)."""
    from beampipe.metadata.store import MetadataStore

    store = MetadataStore(os.path.join(root, "metadata.sqlite"))
    try:
        executions = store.call("get_executions")
        running = sum(1 for e in executions if e.last_known_state == store.pb.Execution.RUNNING)
        runs = sum(1 for ctx in store.call("get_contexts_by_type", "pipeline_run")
                   if ctx.custom_properties["state"].string_value == "RUNNING")
        live = {a.uri for a in store.call("get_artifacts") if a.state == store.pb.Artifact.LIVE}
    finally:
        store.close()
    staging = os.path.join(root, ".beampipe", "staging")
    staged = len(os.listdir(staging)) if os.path.isdir(staging) else 0
    unrecorded = 0
    for node in os.listdir(root):
        node_dir = os.path.join(root, node)
        if node.startswith(".") or not os.path.isdir(node_dir):
            continue
        for key in os.listdir(node_dir):
            for name in os.listdir(os.path.join(node_dir, key)):
                path = os.path.join(node_dir, key, name)
                if path not in live:
                    unrecorded += _size(path)
    return running, runs, staged, unrecorded


def _size(path: str) -> int:
    total = 0
    for folder, _, files in os.walk(path):
        total += sum(os.path.getsize(os.path.join(folder, f)) for f in files)
    return total or 1  # an empty leftover directory still counts


def kill_trial(root: str, baseline: "Baseline", how: str, n: int = 3,
               orchestrator: str = "threads") -> KillOutcome:
    """Kill one run as ``how`` says, re-run, count. ``how`` is "<node>:<fault point>", or
    "at:<fraction>": a SIGKILL that fraction of an uninterrupted run's wall time after start."""
    if how.startswith("at:"):
        delay = float(how.split(":", 1)[1]) * baseline.seconds
        code, _ = run_kill_pipeline(root, n, kill_after=delay, orchestrator=orchestrator)
    else:
        code, _ = run_kill_pipeline(root, n, env={"BEAMPIPE_FAULT_KILL": how}, orchestrator=orchestrator)
    killed = code == -signal.SIGKILL
    rerun_code, text = run_kill_pipeline(root, n, orchestrator=orchestrator)
    running, runs, staged, unrecorded = debris(root)
    equal = output_fingerprints(root) == baseline.outputs
    return KillOutcome(how, killed, running, runs, staged, unrecorded, equal,
                       "COMPLETE" if rerun_code == 0 else f"FAILED: {text[-500:]}")


@dataclass
class Baseline:
    outputs: dict[str, str]
    seconds: float


def baseline_run(root: str, orchestrator: str = "threads") -> Baseline:
    """An uninterrupted run: its output fingerprints and its wall time (process start to exit)."""
    started = time.time()
    code, text = run_kill_pipeline(root, orchestrator=orchestrator)
    if code != 0:
        raise RuntimeError(f"the uninterrupted run failed:\n{text}")
    return Baseline(output_fingerprints(root), time.time() - started)


def kill_points(nodes: list[str], randoms: int, seed: int = 7) -> list[str]:
    """Every fault point of every node, then ``randoms`` kills at random fractions of a run."""
    import random

    rng = random.Random(seed)
    points = [f"{node}:{point}" for node in nodes for point in FAULT_POINTS]
    return points + [f"at:{rng.uniform(0.3, 0.98):.3f}" for _ in range(randoms)]
