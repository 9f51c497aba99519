"""A store for the browser tests, made by real pipelines (TF, TFDV, TFMA, Beam):

- ``penguin``: examples/penguin/penguin_pipeline.py once with the local runner (blessed, pushed);
- ``penguin-drift``: CsvExampleGen + StatisticsGen over a modified copy of the penguin data
  (body mass x1.5, bills +10 mm: drift against the penguin statistics) with an extra column whose
  name and values are a ``<script>`` payload, then a node that fails (a failed run);
- ``second_run``: the penguin pipeline again through ``beampipe run`` in a subprocess with fewer
  training steps, started by the test that watches it live (the first run's data nodes are cached).
"""
from __future__ import annotations

import csv
import os
import subprocess
import sys
from dataclasses import dataclass, field

from beampipe.components.decorator import InputArtifact, Parameter, component
from beampipe.metadata.artifacts import ExampleStatistics

REPO = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
PENGUIN_DIR = os.path.join(REPO, "examples", "penguin")
PENGUIN_FILE = os.path.join(PENGUIN_DIR, "penguin_pipeline.py")
PAYLOAD = "<script>alert(1)</script>"
NUMERIC = ("bill_length_mm", "bill_depth_mm", "flipper_length_mm", "body_mass_g", "year")
SECOND_STEPS = 20


@component
def DriftGate(statistics: InputArtifact[ExampleStatistics], limit: Parameter[str] = "body_mass_g") -> None:
    # a stand-in for a team's gate on the statistics: it refuses this data
    raise ValueError(f"drift gate: {limit} moved too far from the training data; not training on it")


def penguin_pipeline(root: str, pipeline_name: str = "penguin"):
    from beampipe.orchestration.ir import load_module_from_file

    module = load_module_from_file(PENGUIN_FILE, "penguin_pipeline_for_ui")
    pipe = module.create_pipeline(
        pipeline_name=pipeline_name, pipeline_root=root, data_root=module.DATA_ROOT,
        module_file=module.MODULE_FILE, serving_model_dir=os.path.join(root, "serving_model"))
    pipe.source_file = PENGUIN_FILE  # the run page's resume command names it
    return pipe


def drift_data(directory: str) -> str:
    """The penguin CSV with shifted numbers and a ``<script>`` column (name and values)."""
    os.makedirs(directory, exist_ok=True)
    with open(os.path.join(PENGUIN_DIR, "data", "penguins.csv")) as f:
        rows = list(csv.DictReader(f))
    with open(os.path.join(directory, "penguins.csv"), "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=[*rows[0], PAYLOAD])
        writer.writeheader()
        for row in rows:
            if row["body_mass_g"]:
                row["body_mass_g"] = str(int(float(row["body_mass_g"]) * 1.5))
            if row["bill_length_mm"]:
                row["bill_length_mm"] = f"{float(row['bill_length_mm']) + 10:.1f}"
            writer.writerow({**row, PAYLOAD: PAYLOAD})
    return directory


def drift_pipeline(root: str, data_dir: str):
    import beampipe as tfx

    example_gen = tfx.components.CsvExampleGen(input_base=data_dir)
    statistics_gen = tfx.components.StatisticsGen(examples=example_gen.outputs["examples"])
    gate = DriftGate(statistics=statistics_gen.outputs["statistics"])
    return tfx.dsl.Pipeline(pipeline_name="penguin-drift", pipeline_root=root,
                            components=[example_gen, statistics_gen, gate])


@dataclass
class PenguinStore:
    root: str
    uri: str
    runs: dict[str, str]  # "penguin", "drift" (failed), later "second"
    results: dict[str, object] = field(default_factory=dict)
    second: "SecondRun | None" = None


def build(root: str) -> PenguinStore:
    from beampipe.orchestration.local_runner import LocalDagRunner

    first = LocalDagRunner().run(penguin_pipeline(root))
    assert first.status == "COMPLETE", {n: (r.status, r.error) for n, r in first.nodes.items()}
    drift = LocalDagRunner().run(drift_pipeline(root, drift_data(os.path.join(os.path.dirname(root), "drift-data"))))
    assert drift.status == "FAILED", {n: (r.status, r.error) for n, r in drift.nodes.items()}
    assert drift.nodes["StatisticsGen"].status == "COMPLETE"
    return PenguinStore(root, os.path.join(root, "metadata.sqlite"), {"penguin": first.run_id, "drift": drift.run_id},
                        {"penguin": first, "drift": drift})


class SecondRun:
    """``beampipe run examples/penguin/penguin_pipeline.py --param train_steps=20`` in the
    background, into the same root: started once, by whoever needs it first."""

    def __init__(self, root: str, log_path: str) -> None:
        self.root, self.log_path = root, log_path
        self.proc: subprocess.Popen | None = None

    def start(self) -> "SecondRun":
        if self.proc is None:
            env = {**os.environ, "PENGUIN_ROOT": self.root, "PYTHONPATH": REPO}
            with open(self.log_path, "wb") as log:
                self.proc = subprocess.Popen(
                    [sys.executable, "-m", "beampipe", "run", PENGUIN_FILE, "--pipeline-root", self.root,
                     "--param", f"train_steps={SECOND_STEPS}"], cwd=REPO, env=env, stdout=log,
                    stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
        return self

    def wait(self, timeout: float = 600) -> None:
        self.start()
        rc = self.proc.wait(timeout=timeout)
        if rc != 0:
            with open(self.log_path, "rb") as f:
                raise AssertionError(f"the second penguin run exited {rc}:\n"
                                     + f.read()[-4000:].decode("utf-8", "replace"))

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
