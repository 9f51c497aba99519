"""How fast `beampipe ui` answers on a big store: 1,000 runs and 20,000 artifacts.

Builds (once, then reuses) a real MLMD SQLite store written directly through
MetadataStore, in beampipe's shapes: one pipeline context, a run context per run (with
``nodes``, ``dag`` and ``params`` as the local runner records them), a node context per
node, 10 executions per run each writing 2 artifacts and reading its upstream's. Then it
starts the UI server on a free port and prints the median wall time of the runs page and
of a run page, fetched over HTTP. Target: <= 300 ms each.

    python benchmarks/ui_pages.py [--store DIR] [--runs 1000] [--repeat 15]
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import threading
import time
import urllib.request

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))

NODES = ["CsvExampleGen", "StatisticsGen", "SchemaGen", "ExampleValidator", "Transform", "Trainer",
         "Evaluator", "Pusher", "BulkInferrer", "InfraValidator"]
OUTPUTS = ["out_a", "out_b"]
PIPELINE = "bench"


def build(root: str, runs: int) -> str:
    """Write the store under root (if it is not there yet); return its URI."""
    from beampipe.metadata.store import NODE_CONTEXT, PIPELINE_CONTEXT, RUN_CONTEXT, MetadataStore, _set

    uri = os.path.join(root, "metadata.sqlite")
    done = os.path.join(root, f"built-{runs}")
    if os.path.exists(done):
        return uri
    os.makedirs(root, exist_ok=True)
    store = MetadataStore(uri)
    pb = store.pb
    [pipe_ctx] = store.contexts(PIPELINE, "bench-run-0")[:1]
    node_ctx = {n: store.contexts(PIPELINE, "bench-run-0", n)[2] for n in NODES}
    exec_type = store.type_id("execution", "BenchComponent")
    art_type = store.type_id("artifact", "Examples", {"span": int, "version": int, "split_names": str})
    run_type = store.type_id("context", RUN_CONTEXT)
    t0 = 1.7e9
    for r in range(runs):
        run_id = f"bench-run-{r}"
        start = t0 + r * 600
        run_ctx = store.call("get_context_by_type_and_name", RUN_CONTEXT, run_id) or pb.Context(
            type_id=run_type, name=run_id)
        failed = r % 50 == 7
        props = {"pipeline": PIPELINE, "state": "FAILED" if failed else "COMPLETE", "started_at": start,
                 "finished_at": start + 120, "params": json.dumps({"train_steps": 100 + r % 7, "lr": 0.01}),
                 "nodes": json.dumps(NODES), "pipeline_root": root,
                 "dag": json.dumps({n: ([NODES[i - 1]] if i else []) for i, n in enumerate(NODES)})}
        for k, v in props.items():
            _set(run_ctx.custom_properties, k, v)
        [run_ctx.id] = store.call("put_contexts", [run_ctx])
        for i, node in enumerate(NODES):
            state = "FAILED" if failed and i == 5 else "CACHED" if r % 3 == 1 and i < 4 else "COMPLETE"
            ex = pb.Execution(type_id=exec_type, last_known_state=getattr(pb.Execution, state))
            for k, v in {"node_id": node, "run_id": run_id, "pipeline": PIPELINE, "started_at": start + i * 10,
                         "finished_at": start + i * 10 + 9, "exec_properties": "{}"}.items():
                _set(ex.custom_properties, k, v)
            arts, edges = [], []
            for j, key in enumerate(OUTPUTS):
                art = pb.Artifact(type_id=art_type, uri=f"{root}/{node}/{key}/{r}-{i}-{j}", state=pb.Artifact.LIVE)
                _set(art.properties, "split_names", '["train", "eval"]')
                arts.append(art)
                ev = pb.Event(type=pb.Event.OUTPUT)
                ev.path.steps.add().key = key
                ev.path.steps.add().index = 0
                edges.append((0, j, ev))
            if i:
                for j, art_id in enumerate(previous):
                    ev = pb.Event(type=pb.Event.INPUT, artifact_id=art_id)
                    ev.path.steps.add().key = "examples"
                    ev.path.steps.add().index = j
                    edges.append((0, None, ev))
            _, previous, _ = store.call("put_lineage_subgraph", [ex], arts,
                                        [pipe_ctx, run_ctx, node_ctx[node]], edges)
        if r % 100 == 99:
            print(f"  built {r + 1} runs", file=sys.stderr)
    store.close()
    open(done, "w").close()
    return uri


def timed(url: str, repeat: int) -> tuple[float, int]:
    times, size = [], 0
    for _ in range(repeat):
        t = time.perf_counter()
        with urllib.request.urlopen(url) as resp:
            size = len(resp.read())
        times.append(time.perf_counter() - t)
    return statistics.median(times) * 1000, size


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--store", default=os.path.join(tempfile.gettempdir(), "beampipe-ui-bench"))
    parser.add_argument("--runs", type=int, default=1000)
    parser.add_argument("--repeat", type=int, default=15)
    args = parser.parse_args()
    t = time.time()
    uri = build(args.store, args.runs)
    print(f"store {uri}: {args.runs} runs, {args.runs * len(NODES) * len(OUTPUTS)} artifacts "
          f"(ready in {time.time() - t:.1f}s)")
    from beampipe.metadata.store import MetadataStore
    from beampipe.ui.server import make_server

    store = MetadataStore(uri)
    server = make_server(store, "127.0.0.1", 0, pipeline_root=args.store)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    base = f"http://127.0.0.1:{server.server_address[1]}"
    last = f"bench-run-{args.runs - 1}"
    pages = [("runs page /", "/"), ("runs page, failed only", "/?state=FAILED"),
             ("runs page 10", "/?page=10"), (f"run page /runs/{last}", f"/runs/{last}"),
             ("run page of a failed run", f"/runs/bench-run-{(args.runs - 1) // 50 * 50 - 43}"),
             ("artifact page /artifacts/10000", "/artifacts/10000"),
             ("lineage /artifacts/10000/lineage", "/artifacts/10000/lineage"),
             ("live-update JSON /api/runs", "/api/runs")]
    from benchmarks.results import record
    for name, path in pages:
        timed(base + path, 2)  # warm the type caches
        median, size = timed(base + path, args.repeat)
        print(f"{name:<40} median {median:7.1f} ms over {args.repeat} ({size / 1024:.0f} KiB)")
        if name in ("runs page /", f"run page /runs/{last}", "lineage /artifacts/10000/lineage"):
            record("ui_pages.py", f"{args.runs} runs: {name.split(' /')[0]}",
                   f"{median:.0f} ms (median of {args.repeat})", f"python benchmarks/ui_pages.py --runs {args.runs}")
    server.shutdown()
    store.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
