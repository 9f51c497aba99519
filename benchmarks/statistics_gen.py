"""Time StatisticsGen alone on the taxi-like data: rows/s and peak RSS, one path at a time.

ExampleGen runs once per ``--work`` directory (its output is reused); then StatisticsGen's
executor runs on it, through the path asked for:

    python benchmarks/statistics_gen.py --rows 200000 --work /tmp/stats-bench [--path auto|beam] \
        [--beam-args="--direct_num_workers=2 --direct_running_mode=multi_processing"]

``auto`` is what the component picks (no Beam args, or only DirectRunner's multi_processing:
``tfdv_stream``, then with a second process); ``beam`` forces the Beam path
(``--runner=DirectRunner``, in-order read); ``--beam-args`` are added to either;
``--profile FILE`` writes a cProfile of the StatisticsGen step. TFDV's import is timed apart
(a pipeline run pays it once); CPU seconds (this process and its children) are printed too, as
the machine may be shared.
"""
from __future__ import annotations

import argparse
import os
import resource
import shutil
import sys
import time

os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))

from beampipe.components.base import ExecContext  # noqa: E402
from beampipe.components.example_gen import CsvExampleGen  # noqa: E402
from beampipe.components.statistics_gen import StatisticsGen  # noqa: E402
from beampipe.metadata.artifacts import Examples, ExampleStatistics  # noqa: E402


def peak_rss_mb() -> float:
    own = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    children = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    return max(own, children) / 1024


def examples_for(rows: int, work: str) -> Examples:
    """CsvExampleGen's output for ``rows`` taxi rows, made once per work directory."""
    data, out = os.path.join(work, "data"), os.path.join(work, "CsvExampleGen", "examples")
    marker = os.path.join(work, f"examples-{rows}.done")
    examples = Examples(uri=out)
    examples.splits = ["train", "eval"]
    if os.path.exists(marker):
        return examples
    from benchmarks.make_taxi_csv import write
    shutil.rmtree(os.path.join(work, "CsvExampleGen"), ignore_errors=True)
    for name in os.listdir(work) if os.path.isdir(work) else []:
        if name.startswith("examples-"):
            os.remove(os.path.join(work, name))
    write(rows, os.path.join(data, "taxi.csv"))
    gen = CsvExampleGen(input_base=data)
    os.makedirs(out, exist_ok=True)
    ctx = ExecContext(node_id="CsvExampleGen", run_id="bench", pipeline_name="bench", pipeline_root=work,
                      inputs={}, outputs={"examples": [examples]}, exec_properties=gen.exec_properties,
                      temp_dir=os.path.join(work, "tmp"))
    CsvExampleGen.execute(ctx)
    open(marker, "w").close()
    return ctx.output("examples")


def cpu_seconds() -> float:
    own, children = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


def run_statistics(examples: Examples, work: str, path: str, extra_args: list[str]) -> tuple[float, str]:
    out_dir = os.path.join(work, "StatisticsGen", path)
    shutil.rmtree(out_dir, ignore_errors=True)
    os.makedirs(out_dir)
    beam_args = ["--runner=DirectRunner"] if path == "beam" else []
    beam_args += extra_args
    ctx = ExecContext(node_id="StatisticsGen", run_id="bench", pipeline_name="bench", pipeline_root=work,
                      inputs={"examples": [examples]}, outputs={"statistics": [ExampleStatistics(uri=out_dir)]},
                      exec_properties={}, temp_dir=os.path.join(work, "tmp"), beam_pipeline_args=beam_args)
    started = time.time()
    StatisticsGen.execute(ctx)
    return time.time() - started, out_dir


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=200_000)
    parser.add_argument("--work", default="/tmp/beampipe-stats-bench")
    parser.add_argument("--path", choices=["auto", "beam"], default="auto")
    parser.add_argument("--beam-args", default="", help="Beam args of the StatisticsGen node")
    parser.add_argument("--profile", default="")
    args = parser.parse_args()
    examples = examples_for(args.rows, args.work)
    started, cpu = time.time(), time.process_time()
    import tensorflow_data_validation  # noqa: F401  - timed apart: a pipeline run pays it once
    print(f"import TFDV {time.time() - started:6.1f} s (cpu {time.process_time() - cpu:.1f} s)")
    cpu = cpu_seconds()
    if args.profile:
        import cProfile
        profiler = cProfile.Profile()
        profiler.enable()
    seconds, out_dir = run_statistics(examples, args.work, args.path, args.beam_args.split())
    if args.profile:
        profiler.disable()
        profiler.dump_stats(args.profile)
    cpu = cpu_seconds() - cpu
    label = args.path + (f" {args.beam_args}" if args.beam_args else "")
    print(f"StatisticsGen[{label}] {args.rows} rows  {seconds:6.1f} s  {args.rows / seconds:9.0f} rows/s  "
          f"cpu {cpu:6.1f} s  {args.rows / cpu:9.0f} rows/cpu-s  peak RSS {peak_rss_mb():6.0f} MB  -> {out_dir}",
          flush=True)


if __name__ == "__main__":
    main()
