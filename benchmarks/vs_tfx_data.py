"""The data components side by side with TFX 1.16 on the same taxi-like CSV, one core each.

beampipe: ``benchmarks/data_components.py`` (its executors, no Beam args). TFX: its own CsvExampleGen,
StatisticsGen, SchemaGen and Transform (the same ``taxi_preprocessing.py``) under its LocalDagRunner with an
in-memory one-worker DirectRunner, in the peer venv ``../shared/peers/tfx/tfx_setup.sh`` builds
(``--tfx-python``, default /tmp/peer-tfx/bin/python). Both read the same file; the sides alternate, fresh
processes each time; medians of ``--repeats``. Prints seconds, rows/s and the TFX/beampipe ratio per component.

    python benchmarks/vs_tfx_data.py --rows 1000000 [--repeats 1]
"""
from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(HERE))
COMPONENTS = ["CsvExampleGen", "StatisticsGen", "Transform"]
LINE = re.compile(r"^(\w+)\s+([\d.]+) s .*peak RSS\s+(\d+) MB")


def run_beampipe(rows: int, work: str) -> tuple[dict[str, float], float]:
    """Seconds per component and peak RSS (MB) of one data_components.py run."""
    out = subprocess.run([sys.executable, os.path.join(HERE, "data_components.py"), "--rows", str(rows),
                          "--work", work, "--no-record"], capture_output=True, text=True)
    if out.returncode:
        raise SystemExit(f"data_components.py failed:\n{out.stderr[-3000:]}")
    seconds, rss = {}, 0.0
    for line in out.stdout.splitlines():
        match = LINE.match(line)
        if match:
            seconds[match.group(1)] = float(match.group(2))
            rss = max(rss, float(match.group(3)))
    return seconds, rss


def run_tfx(python: str, data: str, root: str) -> tuple[dict[str, float], float]:
    shutil.rmtree(root, ignore_errors=True)
    os.makedirs(root)
    out = subprocess.run([python, os.path.join(HERE, "peers", "tfx_data_run.py"), data,
                          os.path.join(HERE, "taxi_preprocessing.py"), root], capture_output=True, text=True)
    if out.returncode:
        raise SystemExit(f"TFX peer failed:\n{out.stderr[-3000:]}")
    result = json.loads(out.stdout.strip().splitlines()[-1])
    return result["seconds"], result["rss_mb"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=200_000)
    parser.add_argument("--repeats", type=int, default=1)
    parser.add_argument("--tfx-python", default="/tmp/peer-tfx/bin/python")
    parser.add_argument("--no-record", action="store_true", help="print only; leave benchmarks/README.md alone")
    args = parser.parse_args()
    if not os.path.exists(args.tfx_python):
        raise SystemExit(f"{args.tfx_python} not found: build the TFX peer with ../shared/peers/tfx/tfx_setup.sh")
    work = tempfile.mkdtemp(prefix="beampipe-vs-tfx-data-")
    ours: dict[str, list[float]] = {c: [] for c in COMPONENTS}
    theirs: dict[str, list[float]] = {c: [] for c in COMPONENTS}
    rss_ours, rss_tfx = [], []
    try:
        for i in range(args.repeats):
            seconds, rss = run_beampipe(args.rows, os.path.join(work, "beampipe"))
            for c in COMPONENTS:
                ours[c].append(seconds[c])
            rss_ours.append(rss)
            seconds, rss = run_tfx(args.tfx_python, os.path.join(work, "beampipe", "data"), os.path.join(work, "tfx"))
            for c in COMPONENTS:
                theirs[c].append(seconds[c])
            rss_tfx.append(rss)
            print(f"round {i + 1}: beampipe {[ours[c][-1] for c in COMPONENTS]} s, "
                  f"TFX {[theirs[c][-1] for c in COMPONENTS]} s", flush=True)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    from benchmarks.results import record
    print(f"{args.rows} rows, median of {args.repeats}, one core each")
    print(f"{'component':<16}{'beampipe s':>12}{'rows/s':>10}{'TFX s':>10}{'rows/s':>10}{'TFX/beampipe':>14}")
    for c in COMPONENTS:
        a, b = statistics.median(ours[c]), statistics.median(theirs[c])
        print(f"{c:<16}{a:>12.1f}{args.rows / a:>10.0f}{b:>10.1f}{args.rows / b:>10.0f}{b / a:>13.1f}x")
        if not args.no_record:
            record("vs_tfx_data.py", f"{c} at {args.rows:,} rows vs TFX 1.16 (target ≥ 3x)",
                   f"{args.rows / a / 1000:.0f}k rows/s vs TFX {args.rows / b / 1000:.1f}k rows/s: {b / a:.1f}x",
                   f"python benchmarks/vs_tfx_data.py --rows {args.rows} --repeats {args.repeats}")
    print(f"peak RSS: beampipe {statistics.median(rss_ours):.0f} MB, TFX {statistics.median(rss_tfx):.0f} MB")


if __name__ == "__main__":
    main()
