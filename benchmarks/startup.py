"""Start-up figures: `import beampipe` + building the penguin pipeline, and `beampipe --help`.

Each is a fresh interpreter (what a user waits for); medians of several runs.

    python benchmarks/startup.py [--repeats 7]
"""
from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)
PENGUIN = os.path.join(ROOT, "examples", "penguin", "penguin_pipeline.py")

BUILD = f"""
import time
t0 = time.perf_counter()
import beampipe
from beampipe.orchestration.ir import load_module_from_file
pipeline = load_module_from_file({PENGUIN!r}).pipeline
t1 = time.perf_counter()
import sys
heavy = [m for m in ('tensorflow', 'apache_beam', 'tensorflow_model_analysis') if m in sys.modules]
print(f"{{t1 - t0:.4f}} {{len(pipeline.components)}} {{heavy}}")
"""


def timed(cmd: list[str]) -> tuple[float, str]:
    env = {**os.environ, "PYTHONPATH": ROOT}
    t0 = time.perf_counter()
    out = subprocess.run(cmd, capture_output=True, text=True, env=env, check=True).stdout
    return time.perf_counter() - t0, out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--repeats", type=int, default=7)
    args = ap.parse_args()
    inner, whole, helps = [], [], []
    detail = ""
    for _ in range(args.repeats):
        wall, out = timed([sys.executable, "-c", BUILD])
        seconds, count, *heavy = out.split(maxsplit=2)
        inner.append(float(seconds))
        whole.append(wall)
        detail = f"{count} components, heavy modules loaded: {' '.join(heavy).strip()}"
        helps.append(timed([sys.executable, "-m", "beampipe", "--help"])[0])
    print(f"import beampipe + build penguin pipeline: {statistics.median(inner):.3f}s in-process, "
          f"{statistics.median(whole):.3f}s with interpreter start (median of {args.repeats}; {detail})")
    print(f"beampipe --help: {statistics.median(helps):.3f}s (median of {args.repeats})")
    from benchmarks.results import record
    command = f"python benchmarks/startup.py --repeats {args.repeats}"
    record("startup.py", "import beampipe + build penguin (target ≤ 0.25 s)",
           f"{statistics.median(whole):.3f} s with interpreter start, {statistics.median(inner):.3f} s in-process "
           f"(median of {args.repeats})", command)
    record("startup.py", "beampipe --help (target ≤ 0.2 s)",
           f"{statistics.median(helps):.3f} s (median of {args.repeats})", command)


if __name__ == "__main__":
    main()
