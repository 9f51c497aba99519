"""Compile-time figures: pipeline -> IR -> Airflow DAG / KFP YAML.

For the penguin pipeline (when examples/penguin/penguin_pipeline.py exists), the
backend test pipeline, and a generated 200-node ``@component`` pipeline (target: each
compile <= 1 s). Medians of several runs; the first KFP compile also pays the
kfp-pipeline-spec/protobuf import, reported separately.

    python benchmarks/compile_time.py [--nodes 200] [--repeats 5]
"""
from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from typing import Any, Callable

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)

from beampipe.orchestration import ir as ir_mod  # noqa: E402
from beampipe.orchestration.compilers.airflow import compile_dag  # noqa: E402
from beampipe.orchestration.compilers.kubeflow import compile_yaml  # noqa: E402

PENGUIN = os.path.join(ROOT, "examples", "penguin", "penguin_pipeline.py")
BACKEND = os.path.join(ROOT, "tests", "orchestration", "backend_pipeline.py")
GENERATED = '''
from beampipe.components.decorator import InputArtifact, OutputArtifact, Parameter, component
from beampipe.metadata.artifacts import Examples


@component
def Source(out: OutputArtifact[Examples], seed: Parameter[int] = 0) -> None:
    pass


@component
def Step(a: InputArtifact[Examples], out: OutputArtifact[Examples],
         b: InputArtifact[Examples] = None, k: Parameter[int] = 0) -> None:
    pass
'''


def generated_pipeline(n: int, root: str) -> Any:
    """n nodes: a source, then each node reads the previous one and one 10 steps back."""
    from beampipe.orchestration.pipeline import Pipeline

    path = os.path.join(root, "generated_components.py")
    with open(path, "w") as f:
        f.write(GENERATED)
    mod = ir_mod.load_module_from_file(path, "generated_components")
    nodes = [mod.Source(seed=1).with_id("n0")]
    for i in range(1, n):
        extra = {"b": nodes[i - 10].outputs["out"]} if i >= 10 else {}
        node = mod.Step(a=nodes[i - 1].outputs["out"], k=i, **extra).with_id(f"n{i}")
        node.with_resources(cpu="500m", memory="1Gi")
        nodes.append(node)
    return Pipeline("generated", root, nodes)


def timed(fn: Callable[[], Any], repeats: int) -> tuple[float, Any]:
    times, result = [], None
    for _ in range(repeats):
        t0 = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times), result


def report(name: str, build: Callable[[], Any], repeats: int) -> dict[str, float]:
    t_build, pipeline = timed(build, repeats)
    t_ir, ir = timed(lambda: ir_mod.compile_pipeline(pipeline), repeats)
    t_af, dag = timed(lambda: compile_dag(ir, python=sys.executable), repeats)
    mounted = [ir["pipeline"]["root"], ROOT]  # local paths, declared mounted in every pod
    t_kfp, yml = timed(lambda: compile_yaml(ir, mounted=mounted), repeats)
    n = len(ir["nodes"])
    print(f"{name:<28} {n:>4} nodes  build {t_build * 1000:7.1f} ms  IR {t_ir * 1000:7.1f} ms  "
          f"airflow {(t_ir + t_af) * 1000:7.1f} ms ({len(dag) / 1024:.0f} KiB)  "
          f"kubeflow {(t_ir + t_kfp) * 1000:7.1f} ms ({len(yml) / 1024:.0f} KiB)")
    return {"airflow": t_ir + t_af, "kubeflow": t_ir + t_kfp}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--nodes", type=int, default=200)
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()

    t0 = time.perf_counter()
    import kfp.pipeline_spec.pipeline_spec_pb2  # noqa: F401
    import yaml  # noqa: F401
    print(f"first KFP compile pays the proto/yaml import once: {(time.perf_counter() - t0) * 1000:.0f} ms")
    print("compile times (median of %d; airflow/kubeflow include pipeline -> IR)" % args.repeats)
    with tempfile.TemporaryDirectory() as tmp:
        if os.path.exists(PENGUIN):
            report("penguin", lambda: ir_mod.load_module_from_file(PENGUIN, "penguin_pipeline").pipeline,
                   args.repeats)
        report("backend test pipeline",
               lambda: ir_mod.load_module_from_file(BACKEND, "backend_pipeline").make_pipeline(tmp),
               args.repeats)
        figures = report(f"generated @component x{args.nodes}",
                         lambda: generated_pipeline(args.nodes, tmp), args.repeats)
    worst = max(figures.values())
    verdict = "within" if worst <= 1.0 else "OVER"
    print(f"{args.nodes}-node pipeline: slowest target {worst:.3f} s ({verdict} the 1 s target)")
    from benchmarks.results import record
    record("compile_time.py", f"compile {args.nodes} nodes (target ≤ 0.25 s to KFP)",
           f"Airflow {figures['airflow'] * 1000:.0f} ms, Kubeflow {figures['kubeflow'] * 1000:.0f} ms "
           f"(median of {args.repeats})", f"python benchmarks/compile_time.py --nodes {args.nodes}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
