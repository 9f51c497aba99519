"""The penguin pipeline: cold run, fully cached re-run, per-node times, peak RSS.

Each run is a fresh Python process (what `beampipe run` costs a user), medians of
--repeats. The cached figure is the second run on the same root (nothing changed).

    python benchmarks/penguin.py [--repeats 3] [--beam-statistics]

--beam-statistics turns off the in-process statistics shortcut (tfdv_io.IN_MEMORY_MAX_BYTES),
to measure what it saves.
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

CHILD = """
import json, os, resource, sys, time
os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
t0 = time.perf_counter()
if os.environ.get("BENCH_BEAM_STATISTICS") == "1":
    from beampipe.transforms import tfdv_io
    tfdv_io.IN_MEMORY_MAX_BYTES = -1
from beampipe.orchestration.ir import load_module_from_file
from beampipe.orchestration.local_runner import LocalDagRunner
pipeline = load_module_from_file(sys.argv[1]).pipeline
result = LocalDagRunner().run(pipeline)
wall = time.perf_counter() - t0
rss = max(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss,
          resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss) / 1024
print(json.dumps({"status": result.status, "wall": wall, "rss_mb": rss,
                  "nodes": {n: [r.status, r.seconds] for n, r in result.nodes.items()}}))
sys.stdout.flush()
os._exit(0)
"""


def run_once(root: str) -> dict:
    env = {**os.environ, "PYTHONPATH": ROOT, "PENGUIN_ROOT": root}
    pipeline_file = os.path.join(ROOT, "examples", "penguin", "penguin_pipeline.py")
    t0 = time.perf_counter()
    out = subprocess.run([sys.executable, "-c", CHILD, pipeline_file], capture_output=True, text=True,
                         env=env, check=True).stdout
    report = json.loads(out.strip().splitlines()[-1])
    report["process_wall"] = time.perf_counter() - t0
    assert report["status"] == "COMPLETE", report
    return report


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--beam-statistics", action="store_true",
                    help="compute statistics on Beam even for small data")
    args = ap.parse_args()
    if args.beam_statistics:
        os.environ["BENCH_BEAM_STATISTICS"] = "1"
    sys.path.insert(0, ROOT)
    from benchmarks.results import record
    cold, cached = [], []
    for _ in range(args.repeats):
        with tempfile.TemporaryDirectory() as tmp:
            root = os.path.join(tmp, "root")
            cold.append(run_once(root))
            cached.append(run_once(root))
    for label, runs in (("cold run", cold), ("fully cached re-run", cached)):
        walls = [r["process_wall"] for r in runs]
        rss = [r["rss_mb"] for r in runs]
        print(f"{label:<20} wall {statistics.median(walls):6.1f}s (runs: "
              f"{', '.join(f'{w:.1f}' for w in walls)})   peak RSS {statistics.median(rss):6.0f} MB")
        record("penguin.py", f"penguin {label} (median of {args.repeats})",
               f"{statistics.median(walls):.1f} s, peak RSS {statistics.median(rss) / 1024:.2f} GB",
               "python benchmarks/penguin.py" + (" --beam-statistics" if args.beam_statistics else ""))
    print("\nper-node seconds in the cold run (median):")
    for node in cold[0]["nodes"]:
        secs = statistics.median(r["nodes"][node][1] for r in cold)
        print(f"  {node:<32} {secs:6.1f}s")
    statuses = sorted({s for r in cached for s, _ in r["nodes"].values()})
    print(f"\ncached re-run node states: {statuses}")


if __name__ == "__main__":
    main()
