"""Orchestration overhead per node: a chain of 20 no-op @component nodes.

Prints, as medians of several runs: the cold run (new store, nothing cached)
with the default thread orchestrator, the fully cached re-run, and the cold run
with the Beam orchestrator (the DAG as a Beam pipeline on DirectRunner).
Per-node figures divide by the node count.

    python benchmarks/orchestration_overhead.py [--nodes 20] [--repeats 3]
"""
from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, ROOT)

CHILD = """
import os, sys, time
t0 = time.perf_counter()
from beampipe import Pipeline
from beampipe.components import component, InputArtifact, OutputArtifact
from beampipe.metadata.artifacts import Examples
from beampipe.orchestration.local_runner import LocalDagRunner

@component
def Step(out: OutputArtifact[Examples], previous: InputArtifact[Examples] = None, i: int = 0) -> None:
    pass

root, n, orchestrator = sys.argv[1], int(sys.argv[2]), sys.argv[3]
nodes = [Step(i=0).with_id("Step0")]
for i in range(1, n):
    nodes.append(Step(previous=nodes[-1].outputs["out"], i=i).with_id(f"Step{i}"))
t1 = time.perf_counter()
result = LocalDagRunner(orchestrator=orchestrator).run(Pipeline("noop", root, nodes))
t2 = time.perf_counter()
assert result.status == "COMPLETE", result
print(f"{t2 - t1:.4f} {t1 - t0:.4f} " + ",".join(sorted({r.status for r in result.nodes.values()})))
"""


def run_child(root: str, n: int, orchestrator: str) -> tuple[float, str]:
    env = {**os.environ, "PYTHONPATH": ROOT}
    out = subprocess.run([sys.executable, "-c", CHILD, root, str(n), orchestrator],
                         capture_output=True, text=True, env=env, check=True).stdout.split()
    return float(out[0]), out[2]


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--nodes", type=int, default=20)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--beam", action="store_true", help="also time the Beam orchestrator (slow)")
    args = ap.parse_args()
    cold, warm, cached = [], [], []
    for _ in range(args.repeats):
        with tempfile.TemporaryDirectory() as tmp:
            seconds, status = run_child(os.path.join(tmp, "a"), args.nodes, "threads")
            assert status == "COMPLETE"
            cold.append(seconds)
            seconds, status = run_child(os.path.join(tmp, "a"), args.nodes, "threads")
            assert status == "CACHED"
            cached.append(seconds)
            if args.beam:
                seconds, status = run_child(os.path.join(tmp, "b"), args.nodes, "beam")
                warm.append(seconds)
    n = args.nodes
    from benchmarks.results import record
    for label, xs in (("cold run, thread orchestrator", cold),
                      ("fully cached re-run", cached),
                      ("cold run, Beam orchestrator", warm)):
        if not xs:
            continue
        med = statistics.median(xs)
        print(f"{label:<42} total {med:6.2f}s   per node {1000 * med / n:6.1f} ms   "
              f"(median of {len(xs)}: {', '.join(f'{x:.2f}' for x in xs)})")
        record("orchestration_overhead.py", f"{n} no-op nodes, {label}",
               f"{1000 * med / n:.0f} ms/node, {med:.2f} s in all (median of {len(xs)})",
               "python benchmarks/orchestration_overhead.py" + (" --beam" if args.beam else ""))


if __name__ == "__main__":
    main()
