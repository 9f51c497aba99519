"""Time ExampleGen -> StatisticsGen -> SchemaGen -> ExampleValidator -> Transform on a synthetic taxi CSV.

Runs each executor directly (no MLMD) and prints wall time, rows/s and the peak RSS of
this process and its children (Beam DirectRunner runs in-process by default).

    python benchmarks/data_components.py --rows 100000
    python benchmarks/data_components.py --rows 200000 --work /tmp/tft-bench   # keeps its outputs
    python benchmarks/data_components.py --rows 200000 --work /tmp/tft-bench --only-transform \
        [--beam-statistics] [--reference-io] [--transform-beam-args="..."]
"""
from __future__ import annotations

import argparse
import os
import resource
import shutil
import sys
import tempfile
import time

os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))

from beampipe.components.base import ExecContext  # noqa: E402
from beampipe.components.example_gen import CsvExampleGen  # noqa: E402
from beampipe.components.example_validator import ExampleValidator  # noqa: E402
from beampipe.components.schema_gen import SchemaGen  # noqa: E402
from beampipe.components.statistics_gen import StatisticsGen  # noqa: E402
from beampipe.components.transform import Transform  # noqa: E402
from beampipe.components.base import Channel  # noqa: E402
from beampipe.metadata import layout  # noqa: E402
from beampipe.metadata.artifacts import (ExampleAnomalies, Examples, ExampleStatistics, Schema,  # noqa: E402
                                         TransformGraph)


RATES: dict[str, float] = {}  # seconds per step, for the figures table


def peak_rss_mb() -> float:
    own = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    children = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    return max(own, children) / 1024


def cpu_seconds() -> float:
    own, children = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


def step(name: str, cls, inputs, out_key, out_cls, props, work: str, rows: int, beam_args=()):
    shutil.rmtree(os.path.join(work, name), ignore_errors=True)  # a reused --work dir starts clean
    outputs = {key: [spec.type(uri=os.path.join(work, name, key))] for key, spec in cls.OUTPUTS.items()}
    for arts in outputs.values():
        os.makedirs(arts[0].uri, exist_ok=True)
    out = outputs[out_key][0]
    ctx = ExecContext(node_id=name, run_id="bench", pipeline_name="bench", pipeline_root=work,
                      inputs=inputs, outputs=outputs, exec_properties=props,
                      temp_dir=os.path.join(work, "tmp"))
    ctx.beam_pipeline_args = list(beam_args)
    started, cpu = time.time(), cpu_seconds()
    cls.execute(ctx)
    seconds, cpu = time.time() - started, cpu_seconds() - cpu
    RATES[name] = seconds
    rate = f"{rows / seconds:10.0f} rows/s" if rows else f"{'-':>10s} (reads statistics, not rows)"
    # CPU seconds of this process (all its threads) and its children (Beam's worker processes):
    # on a shared machine, wall time also counts waiting
    print(f"{name:18s} {seconds:8.1f} s  {rate}  cpu {cpu:6.1f} s  peak RSS {peak_rss_mb():7.0f} MB", flush=True)
    return out


def run_transform(work: str, examples: Examples, schema: Schema, rows: int, beam_args=()) -> None:
    module = os.path.join(os.path.dirname(os.path.abspath(__file__)), "taxi_preprocessing.py")
    transform = Transform(examples=Channel(Examples), schema=Channel(Schema), module_file=module)
    if not examples.splits:
        examples.splits = layout.splits_in(os.listdir(examples.uri))
    step("Transform", Transform, {"examples": [examples], "schema": [schema]}, "transform_graph",
         TransformGraph, transform.exec_properties, work, rows, beam_args)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--work", default="")
    parser.add_argument("--no-record", action="store_true", help="print only; leave benchmarks/README.md alone")
    parser.add_argument("--only", choices=["CsvExampleGen"], default="",
                        help="time only this component (the data is still generated; nothing is recorded)")
    parser.add_argument("--only-transform", action="store_true",
                        help="reuse the ExampleGen and SchemaGen outputs already in --work; time Transform "
                             "only (nothing is recorded)")
    parser.add_argument("--beam-statistics", action="store_true",
                        help="Transform's pre/post statistics on Beam even below the in-memory size "
                             "(as at 1M rows and more; nothing is recorded)")
    parser.add_argument("--transform-beam-args", default="",
                        help="Beam args of the Transform node, e.g. '--direct_num_workers=2 "
                             "--direct_running_mode=multi_processing' (any arg: statistics on Beam; "
                             "nothing is recorded)")
    parser.add_argument("--example-gen-beam-args", default="",
                        help="Beam args of the CsvExampleGen node, e.g. '--direct_num_workers=2 "
                             "--direct_running_mode=multi_processing' (nothing is recorded)")
    parser.add_argument("--statistics-beam-args", default="",
                        help="Beam args of the StatisticsGen node, e.g. '--direct_num_workers=2 "
                             "--direct_running_mode=multi_processing' (nothing is recorded)")
    parser.add_argument("--reference-io", action="store_true",
                        help="Transform reads and writes through TFXIO and Beam's TFRecord sink "
                             "(the implementation before issue 13), for before/after figures; nothing is recorded")
    parser.add_argument("--cold-imports", action="store_true",
                        help="leave TF, TFDV, TFT and Beam to the first step that needs them (their import time "
                             "then counts in that step); by default they load first, on a line of their own, "
                             "as TFX's runner has them loaded before its components start")
    args = parser.parse_args()
    if not args.cold_imports:
        started = time.time()
        import apache_beam  # noqa: F401
        import tensorflow  # noqa: F401
        import tensorflow_data_validation  # noqa: F401
        import tensorflow_transform.beam  # noqa: F401
        print(f"{'imports':18s} {time.time() - started:8.1f} s  (TF, TFDV, TFT, Beam; not in the steps' figures)")
    if args.reference_io:
        from beampipe.components import transform
        transform._FAST_IO = False
    if args.beam_statistics:
        from beampipe.transforms import tfdv_io
        tfdv_io.IN_MEMORY_MAX_BYTES = -1
    work = args.work or tempfile.mkdtemp(prefix="beampipe-bench-")
    if args.only_transform:
        if not args.work:
            parser.error("--only-transform needs --work with an earlier run's outputs")
        run_transform(work, Examples(uri=os.path.join(work, "CsvExampleGen", "examples")),
                      Schema(uri=os.path.join(work, "SchemaGen", "schema")), args.rows,
                      args.transform_beam_args.split())
        return
    data = os.path.join(work, "data")
    from benchmarks.make_taxi_csv import write
    started = time.time()
    write(args.rows, os.path.join(data, "taxi.csv"))
    print(f"make_taxi_csv      {time.time() - started:8.1f} s  "
          f"({os.path.getsize(os.path.join(data, 'taxi.csv')) / 1e6:.1f} MB)")
    total = time.time()
    gen = CsvExampleGen(input_base=data)
    examples = step("CsvExampleGen", CsvExampleGen, {}, "examples", Examples, gen.exec_properties,
                    work, args.rows, args.example_gen_beam_args.split())
    if not args.only:
        stats = step("StatisticsGen", StatisticsGen, {"examples": [examples]}, "statistics",
                     ExampleStatistics, {}, work, args.rows, args.statistics_beam_args.split())
        schema = step("SchemaGen", SchemaGen, {"statistics": [stats]}, "schema", Schema, {}, work, 0)
        step("ExampleValidator", ExampleValidator, {"statistics": [stats], "schema": [schema]}, "anomalies",
             ExampleAnomalies, {}, work, 0)
        run_transform(work, examples, schema, args.rows, args.transform_beam_args.split())
    print(f"{'total':18s} {time.time() - total:8.1f} s  rows {args.rows}  peak RSS {peak_rss_mb():.0f} MB "
          f"(self and children)")
    variant = (args.beam_statistics or args.reference_io or args.transform_beam_args or args.cold_imports
               or args.example_gen_beam_args or args.statistics_beam_args)
    if not (args.no_record or args.only or variant):
        from benchmarks.results import record
        record("data_components.py", f"ExampleGen / StatisticsGen / Transform at {args.rows:,} rows, one process (ExampleGen gzips in a 2nd thread)",
               " / ".join(f"{args.rows / RATES[c] / 1000:.1f}k" for c in ("CsvExampleGen", "StatisticsGen", "Transform"))
               + f" rows/s; peak RSS {peak_rss_mb() / 1024:.2f} GB", f"python benchmarks/data_components.py --rows {args.rows}")
    if not args.work:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
