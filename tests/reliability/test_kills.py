"""kill -9 at every fault point of the launcher, and at random times; then re-run and count.

After each kill and one re-run: no execution or run left RUNNING, no staging directory,
no byte of output that no LIVE artifact names, and outputs equal to an uninterrupted run's.
The short version runs here; ``benchmarks/reliability.py`` runs the full matrix.
"""
from __future__ import annotations

import os

import pytest

from tests.support.reliability import Baseline, baseline_run, kill_points, kill_trial, run_kill_pipeline

NODES = ["Produce", "Consume1"]  # the first producer and its consumer; the bench kills every node


@pytest.fixture(scope="module")
def baseline(tmp_path_factory) -> Baseline:
    return baseline_run(str(tmp_path_factory.mktemp("baseline")))


@pytest.mark.parametrize("how", kill_points(NODES, randoms=2))
def test_kill_then_rerun_leaves_nothing_behind(tmp_path, baseline, how):
    outcome = kill_trial(str(tmp_path / "root"), baseline, how)
    if not how.startswith("at:"):
        assert outcome.killed, f"the fault point {how} was never reached"
    assert outcome.rerun_status == "COMPLETE"
    assert (outcome.running_executions, outcome.running_runs) == (0, 0)
    assert outcome.staging_dirs == 0
    assert outcome.unrecorded_bytes == 0
    assert outcome.outputs_equal


@pytest.mark.parametrize("how", ["Consume1:renamed", "Produce:executed"])
def test_kills_on_the_beam_orchestrator(tmp_path, baseline, how):
    """The DAG run as a Beam pipeline goes through the same launcher: same recovery."""
    outcome = kill_trial(str(tmp_path / "root"), baseline, how, orchestrator="beam")
    assert outcome.killed and outcome.rerun_status == "COMPLETE"
    assert (outcome.running_executions, outcome.running_runs, outcome.staging_dirs) == (0, 0, 0)
    assert outcome.unrecorded_bytes == 0 and outcome.outputs_equal


def test_a_live_owner_is_never_reclaimed(tmp_path):
    """A RUNNING execution whose process lives (this one) is left alone by reclaim."""
    import time

    from beampipe.metadata.owner import owner_token
    from beampipe.metadata.store import MetadataStore
    from beampipe.orchestration import recovery

    root = str(tmp_path)
    store = MetadataStore(os.path.join(root, "m.sqlite"))
    ctxs = store.contexts("p", "r", "n")
    live = store.start_execution("t.N", ctxs, {}, {"node_id": "n", "owner": owner_token(),
                                                   "started_at": time.time()})
    dead = store.start_execution("t.N", ctxs, {}, {"node_id": "n", "owner": "nohost|1|1",
                                                   "heartbeat_at": time.time() - 3600})
    assert recovery.reclaim_node(store, root, "p", "n") == 1
    assert store.execution(live)["state"] == "RUNNING"
    assert store.execution(dead)["state"] == "FAILED" and store.execution(dead)["abandoned"] == 1


def test_runs_never_shows_a_killed_run_as_running(tmp_path):
    """Before any re-run: the killed run and its execution read as FAILED, not RUNNING."""
    import signal
    import subprocess
    import sys

    from beampipe.metadata.store import MetadataStore
    from tests.support.reliability import REPO

    root = str(tmp_path / "root")
    code, _ = run_kill_pipeline(root, env={"BEAMPIPE_FAULT_KILL": "Consume1:executed"})
    assert code == -signal.SIGKILL
    store = MetadataStore(os.path.join(root, "metadata.sqlite"))
    [run] = store.runs()
    assert run["state"] == "FAILED" and run["abandoned"]
    proc = subprocess.run([sys.executable, "-m", "beampipe", "runs", "--pipeline-root", root],
                          capture_output=True, text=True, env={**os.environ, "PYTHONPATH": REPO}, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert run["run_id"] in proc.stdout and "RUNNING" not in proc.stdout.upper()


def test_reclaiming_a_dead_node_of_a_compiled_run_ends_that_run(tmp_path):
    """A compiled run (KFP, Airflow) has no owner process; its closing task may never run (kfp.local
    stops at a failed task). When a later run reclaims its dead node, the run is FAILED; a retry in
    the same run, and a finished run, keep their state."""
    import time

    from beampipe.metadata.store import MetadataStore
    from beampipe.orchestration import recovery

    root = str(tmp_path)
    store = MetadataStore(os.path.join(root, "m.sqlite"))
    dead = {"node_id": "n", "pipeline": "p", "owner": "nohost|1|1", "heartbeat_at": time.time() - 3600}
    for run_id in ("killed", "retried", "closed"):
        store.start_execution("t.N", store.contexts("p", run_id, "n"), {}, {**dead, "run_id": run_id})
    store.set_run_state("p", "closed", "COMPLETE")
    assert recovery.reclaim_node(store, root, "p", "n", current_run="retried") == 3
    assert store.run("killed")["state"] == "FAILED" and "'n' died" in store.run("killed")["abandoned"]
    assert store.run("retried")["state"] == "RUNNING"
    assert store.run("closed")["state"] == "COMPLETE"
