"""TFX 1.16's own penguin pipeline against the same pipeline on beampipe, side by side.

Both sides run TFX's ``penguin_pipeline_local.create_pipeline`` (8 core nodes: CsvExampleGen,
StatisticsGen, SchemaGen, Transform, Trainer, the latest-blessed-model resolver, Evaluator,
Pusher) with TFX's ``penguin_utils_keras.py`` module file, the same CSV, train/eval steps,
EvalConfig and Beam args. TFX runs its files from the peer venv (``tfx_penguin_run.py``);
beampipe runs the same files with their import lines ported (``beampipe.utils.tfx_port``).
Each run is a fresh process on a fresh root, the two sides alternating, ``--repeats`` each.

    python benchmarks/vs_tfx.py [--repeats 3] [--peer /tmp/peer-tfx] [--no-record]
    python benchmarks/vs_tfx.py --only beampipe --compare ../main   # A/B two checkouts, no TFX

Wall time is the process's (interpreter start to exit); CPU is its user + system seconds,
children included (steadier than wall time on a shared machine). Peak RSS is the largest single process
of the tree (``wait4``'s ru_maxrss) and the peak of the tree's summed RSS (sampled from /proc
every 0.2 s: TFX's multi-processing DirectRunner starts worker processes).
Build the peer with ``bash /work/shared/peers/tfx/tfx_setup.sh`` (or $BEAMPIPE_TFX_PEER_SETUP).
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
if ROOT not in sys.path:
    sys.path.insert(0, ROOT)

from benchmarks.results import record  # noqa: E402

PEER_RUNNER = os.environ.get("BEAMPIPE_TFX_PEER_RUNNER", "/work/shared/peers/tfx/tfx_penguin_run.py")
TFX_BEAM_ARGS = ["--direct_running_mode=multi_processing", "--direct_num_workers=0"]  # tfx_penguin_run.py's
PENGUIN_FILES = ["penguin_pipeline_local.py", "penguin_utils_keras.py", "penguin_utils_base.py"]

# tfx_penguin_run.py's create_pipeline arguments, on beampipe (same module file, threshold, Beam args).
BEAMPIPE_CHILD = r"""
import json, os, sys, time
t0 = time.time()
os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")
ported, data, root = sys.argv[1:4]
sys.path.insert(0, ported)
from absl import flags
import penguin_pipeline_local as ppl
flags.FLAGS(["penguin_pipeline_local"])
t_import = time.time() - t0
p = ppl.create_pipeline(
    pipeline_name="penguin_core", pipeline_root=os.path.join(root, "pipelines"), data_root=data,
    module_file=os.path.join(ported, "penguin_utils_keras.py"), accuracy_threshold=0.6,
    serving_model_dir=os.path.join(root, "serving"), metadata_path=os.path.join(root, "metadata.db"),
    user_provided_schema_path=None, enable_tuning=False, enable_bulk_inferrer=False,
    enable_example_diff=False, examplegen_input_config=None, examplegen_range_config_date=None,
    resolver_range_config=None,
    beam_pipeline_args=json.loads(sys.argv[4]), enable_transform_input_cache=False)
t1 = time.time()
result = ppl.tfx.orchestration.LocalDagRunner().run(p)
print("RESULT " + json.dumps({"status": result.status, "import": t_import, "run": time.time() - t1,
                              "nodes": {n: [r.status, r.seconds] for n, r in result.nodes.items()}}))
sys.stdout.flush()
os._exit(0 if result.status == "COMPLETE" else 1)
"""


def _tree_rss_kb(pid: int) -> int:
    """Summed RSS (kB) of ``pid`` and its descendants, from /proc."""
    children: dict[int, list[int]] = {}
    rss: dict[int, int] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat", encoding="utf-8") as f:
                fields = f.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        children.setdefault(int(fields[1]), []).append(int(entry))
        rss[int(entry)] = int(fields[21]) * os.sysconf("SC_PAGE_SIZE") // 1024
    total, todo = 0, [pid]
    while todo:
        p = todo.pop()
        total += rss.get(p, 0)
        todo += children.get(p, [])
    return total


def measure(cmd: list[str], env: dict[str, str], log: str, cwd: str | None = None) -> dict:
    """Run ``cmd``: wall and CPU seconds, largest process's peak RSS and the tree's peak summed
    RSS (MB)."""
    peak = [0]
    t0 = time.perf_counter()
    with open(log, "w") as out:
        proc = subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT, env=env, cwd=cwd)
        done = threading.Event()

        def sample() -> None:
            while not done.wait(0.2):
                peak[0] = max(peak[0], _tree_rss_kb(proc.pid))

        sampler = threading.Thread(target=sample, daemon=True)
        sampler.start()
        _, status, usage = os.wait4(proc.pid, 0)
        proc.returncode = os.waitstatus_to_exitcode(status)
        done.set()
        sampler.join()
    wall = time.perf_counter() - t0
    with open(log) as f:
        text = f.read()
    if proc.returncode != 0:
        raise SystemExit(f"{cmd[:2]} failed ({proc.returncode}); its output ends:\n{text[-4000:]}")
    return {"wall": wall, "cpu": usage.ru_utime + usage.ru_stime, "rss_mb": usage.ru_maxrss / 1024,
            "tree_rss_mb": peak[0] / 1024, "output": text}


def port_tfx_penguin(peer_python: str, dest: str) -> None:
    """TFX's installed penguin files, import lines ported to beampipe, into ``dest``."""
    from beampipe.utils.tfx_port import port_file

    folder = subprocess.run([peer_python, "-c", "import os, tfx.examples.penguin as p; "
                             "print(os.path.dirname(p.__file__))"], capture_output=True, text=True,
                            check=True).stdout.strip()
    siblings = [f[:-3] for f in PENGUIN_FILES]
    for name in PENGUIN_FILES:
        left = port_file(os.path.join(folder, name), os.path.join(dest, name), siblings)
        if left:
            raise SystemExit(f"{name}: TFX imports the port does not cover: {left}")


def run_tfx(peer: str, data: str, root: str) -> dict:
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"}
    env.pop("PYTHONPATH", None)
    return measure([os.path.join(peer, "bin", "python"), PEER_RUNNER, data, root], env, root + ".log")


def run_beampipe(ported: str, data: str, root: str, beam_args: list[str], code: str = ROOT) -> dict:
    """beampipe's side, importing beampipe from the checkout ``code`` (its cwd and PYTHONPATH)."""
    env = {**os.environ, "PYTHONPATH": code, "TF_CPP_MIN_LOG_LEVEL": "3"}
    result = measure([sys.executable, "-c", BEAMPIPE_CHILD, ported, data, root, json.dumps(beam_args)],
                     env, root + ".log", cwd=code)
    line = [x for x in result["output"].splitlines() if x.startswith("RESULT ")][-1]
    result.update(json.loads(line[len("RESULT "):]))
    return result


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--peer", default=os.environ.get("BEAMPIPE_TFX_PEER", "/tmp/peer-tfx"))
    ap.add_argument("--only", choices=["tfx", "beampipe"], help="run one side only (no ratio)")
    ap.add_argument("--beampipe-beam-args", default=json.dumps(TFX_BEAM_ARGS),
                    help="beampipe's Beam args as JSON (default: the ones TFX's run uses)")
    ap.add_argument("--compare", action="append", default=[], metavar="CHECKOUT",
                    help="also run beampipe from this checkout (e.g. ../main), alternating: A/B")
    ap.add_argument("--no-record", action="store_true", help="print only; leave benchmarks/README.md")
    args = ap.parse_args()
    codes = {"beampipe": ROOT, **{f"beampipe@{os.path.abspath(c)}": os.path.abspath(c) for c in args.compare}}
    data = os.path.join(args.peer, "data")
    if not os.path.isfile(os.path.join(data, "labelled", "penguins_processed.csv")):
        raise SystemExit(f"no TFX peer at {args.peer}: build it with /work/shared/peers/tfx/tfx_setup.sh")
    sides = ["tfx", "beampipe"] if args.only is None else [args.only]
    sides += [s for s in codes if s != "beampipe"]
    runs: dict[str, list[dict]] = {s: [] for s in sides}
    with tempfile.TemporaryDirectory(prefix="vs_tfx-") as tmp:
        ported = os.path.join(tmp, "ported")
        port_tfx_penguin(os.path.join(args.peer, "bin", "python"), ported)
        for i in range(args.repeats):
            for side in sides if i % 2 == 0 else sides[::-1]:
                root = os.path.join(tmp, f"{side.replace('/', '_')}-{i}")
                r = run_tfx(args.peer, data, root) if side == "tfx" else \
                    run_beampipe(ported, data, root, json.loads(args.beampipe_beam_args), codes[side])
                runs[side].append(r)
                print(f"run {i + 1} {side:<8} wall {r['wall']:6.1f}s  CPU {r['cpu']:6.1f}s  peak RSS "
                      f"{r['rss_mb']:5.0f} MB (tree {r['tree_rss_mb']:5.0f} MB)", flush=True)
    med = {s: statistics.median(r["wall"] for r in rs) for s, rs in runs.items()}
    rss = {s: statistics.median(r["rss_mb"] for r in rs) for s, rs in runs.items()}
    tree = {s: statistics.median(r["tree_rss_mb"] for r in rs) for s, rs in runs.items()}
    print()
    for s in sides:
        walls = ", ".join(f"{r['wall']:.1f}" for r in runs[s])
        cpu = statistics.median(r["cpu"] for r in runs[s])
        print(f"{s:<9} cold wall median {med[s]:6.1f}s (runs: {walls}), CPU {cpu:6.1f}s   peak RSS "
              f"{rss[s]:5.0f} MB (process tree {tree[s]:5.0f} MB)")
    for s in [s for s in sides if s.startswith("beampipe")]:
        print(f"\n{s} per-node seconds (median):")
        for node in runs[s][0]["nodes"]:
            secs = statistics.median(r["nodes"][node][1] or 0.0 for r in runs[s])
            print(f"  {node:<32} {secs:6.1f}s")
        print(f"  {'(imports before the run)':<32} {statistics.median(r['import'] for r in runs[s]):6.1f}s")
    if sides[:2] == ["tfx", "beampipe"]:
        ratio = med["beampipe"] / med["tfx"]
        print(f"\nratio beampipe / TFX (cold wall, medians): {ratio:.3f}")
        command = f"python benchmarks/vs_tfx.py --repeats {args.repeats}"
        record("vs_tfx.py", f"penguin cold vs TFX 1.16, median of {args.repeats}",
               f"beampipe {med['beampipe']:.1f} s / TFX {med['tfx']:.1f} s = {ratio:.3f}; peak RSS "
               f"{rss['beampipe']:.0f} MB / {rss['tfx']:.0f} MB (tree {tree['beampipe']:.0f} / "
               f"{tree['tfx']:.0f} MB)", command)


if __name__ == "__main__":
    main()
