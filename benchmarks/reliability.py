"""The reliability matrices in full, with counts (the tests run a short version).

    python benchmarks/reliability.py [--rounds 10] [--processes 8] [--randoms 20] [--only kills|concurrency]

Concurrency: per store kind (SQLite, PostgreSQL, MariaDB as MySQL), ``--rounds`` rounds of
``--processes`` processes starting one pipeline at once on a FRESH store, each followed by
a warm round on the same store; prints failures, duplicate MLMD types, and the median
fresh / warm wall-clock ratio.
Kills: every launcher fault point of every node of the toy pipeline (started, executed,
renamed = between the rename into place and the MLMD commit, committed) and ``--randoms``
SIGKILLs at random times; after each, one re-run; prints how many trials left RUNNING
executions or runs, staging, unrecorded output bytes, or outputs unequal to a clean run.
"""
from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)

from tests.support.reliability import baseline_run, concurrent_round, kill_points, kill_trial  # noqa: E402

KILL_NODES = ["Produce", "Consume1", "Produce1", "Consume2", "Produce2"]


def concurrency(kind: str, uri_for: "callable", rounds: int, processes: int) -> None:
    failures = duplicates = 0
    ratios, fresh_walls, warm_walls = [], [], []
    with tempfile.TemporaryDirectory() as work:
        for i in range(rounds):
            uri = uri_for(work, i)
            fresh = concurrent_round(uri, work, processes, tag=f"fresh{i}")
            warm = concurrent_round(uri, work, processes, tag=f"warm{i}")
            failures += fresh.failures + warm.failures
            duplicates += len(fresh.duplicate_types) + len(warm.duplicate_types)
            fresh_walls.append(fresh.wall_s)
            warm_walls.append(warm.wall_s)
            ratios.append(fresh.wall_s / warm.wall_s)
            for err in fresh.errors + warm.errors:
                print(f"  {kind} round {i}: {err.strip().splitlines()[-1]}")
    print(f"concurrency {kind:10s} rounds={rounds} processes={processes} runs={2 * rounds * processes} "
          f"failures={failures} duplicate_types={duplicates} "
          f"fresh_wall_median={statistics.median(fresh_walls):.1f}s warm_wall_median={statistics.median(warm_walls):.1f}s "
          f"fresh/warm median={statistics.median(ratios):.2f} max={max(ratios):.2f}", flush=True)
    from benchmarks.results import record
    record("reliability.py", f"{processes} concurrent first runs on {kind}",
           f"{2 * rounds * processes} runs, {failures} failures, {duplicates} duplicate types",
           "python benchmarks/reliability.py")


def kills(randoms: int) -> None:
    with tempfile.TemporaryDirectory() as work:
        baseline = baseline_run(os.path.join(work, "baseline"))
        print(f"uninterrupted run: {baseline.seconds:.1f}s (random kills land within it)", flush=True)
        outcomes = [kill_trial(os.path.join(work, f"t{i}"), baseline, how)
                    for i, how in enumerate(kill_points(KILL_NODES, randoms))]
    bad = [o for o in outcomes if o.rerun_status != "COMPLETE" or o.running_executions or o.running_runs
           or o.staging_dirs or o.unrecorded_bytes or not o.outputs_equal]
    for o in bad:
        print(f"  {o}")
    print(f"kills trials={len(outcomes)} killed={sum(o.killed for o in outcomes)} "
          f"rerun_failed={sum(o.rerun_status != 'COMPLETE' for o in outcomes)} "
          f"running_left={sum(o.running_executions + o.running_runs for o in outcomes)} "
          f"staging_left={sum(o.staging_dirs for o in outcomes)} "
          f"unrecorded_bytes={sum(o.unrecorded_bytes for o in outcomes)} "
          f"outputs_unequal={sum(not o.outputs_equal for o in outcomes)}", flush=True)
    from benchmarks.results import record
    record("reliability.py", "kill -9 matrix",
           f"{len(outcomes)} trials, {len(bad)} with a failed re-run, debris or unequal outputs",
           "python benchmarks/reliability.py")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=10)
    parser.add_argument("--processes", type=int, default=8)
    parser.add_argument("--randoms", type=int, default=20)
    parser.add_argument("--only", choices=["kills", "concurrency"])
    args = parser.parse_args()
    if args.only != "concurrency":
        kills(args.randoms)
    if args.only == "kills":
        return
    concurrency("sqlite", lambda work, i: os.path.join(work, f"fresh{i}.sqlite"), args.rounds, args.processes)
    from tests.support.mysql import MySQLServer, find_binaries
    from tests.support.postgres import PostgresServer, find_bin_dir

    for kind, binaries, server_class, package in (("postgresql", find_bin_dir(), PostgresServer, "postgresql"),
                                                  ("mysql", find_binaries(), MySQLServer, "mariadb-server")):
        if not binaries:
            print(f"concurrency {kind}: skipped (apt-get install {package})")
            continue
        server = server_class(binaries).start()
        try:
            concurrency(kind, lambda work, i: server.uri(f"fresh{i}"), args.rounds, args.processes)
        finally:
            server.stop()

if __name__ == "__main__":
    main()
