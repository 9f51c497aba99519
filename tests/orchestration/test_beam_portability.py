"""A Beam-based component (CsvExampleGen) through the launcher on several Beam runners.

In-process DirectRunner, multi-processing DirectRunner, PortableRunner against a local
job service with an EXTERNAL worker pool; DataflowRunner is refused for a local root
(its workers could not read it). Flink and Spark need job-server downloads that cannot happen here: the test
checks their args reach the executor unchanged. Servers listen on loopback only and
are killed (with their process groups) when the test ends.
"""
from __future__ import annotations

import glob
import gzip
import os
import shutil
import signal
import socket
import struct
import subprocess
import sys
import time

import pytest

from beampipe.metadata import layout
from beampipe.metadata.artifacts import Examples
from beampipe.metadata.store import MetadataStore
from beampipe.orchestration import ir as ir_mod
from beampipe.orchestration.launcher import open_store, run_node
from beampipe.orchestration.pipeline import Pipeline

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def _records(examples_uri: str) -> dict[str, list[bytes]]:
    """Split -> sorted serialized records, read from gzip TFRecord framing (no TF needed)."""
    out = {}
    examples = Examples(examples_uri)
    for split in layout.splits_in(os.listdir(examples_uri)):
        records = []
        for path in glob.glob(layout.join(examples.split_uri(split), Examples.SHARD_PATTERN)):
            data = gzip.open(path).read()
            pos = 0
            while pos < len(data):
                (length,) = struct.unpack("<Q", data[pos:pos + 8])
                records.append(data[pos + 12:pos + 12 + length])
                pos += 12 + length + 4
        out[split] = sorted(records)
    return out


def _run_example_gen(tmp_path, penguin_csv: str, name: str, beam_args: list[str]):
    from beampipe.components import CsvExampleGen

    data = tmp_path / "data"
    if not data.exists():
        data.mkdir()
        shutil.copy(penguin_csv, data / "penguins.csv")
    root = tmp_path / name
    pipeline = Pipeline(f"beam-{name}", str(root), [CsvExampleGen(input_base=str(data))],
                        beam_pipeline_args=beam_args)
    ir = ir_mod.compile_pipeline(pipeline)
    store = open_store(ir)  # creates the new pipeline root
    try:
        result = run_node(ir, "CsvExampleGen", "r1", {}, store)
        outputs = store.artifacts_of(result.execution_id) if result.status == "COMPLETE" else {}
    finally:
        store.close()
    return result, outputs


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _wait_for_port(port: int, proc: subprocess.Popen, timeout: float = 60) -> None:
    deadline = time.time() + timeout
    while time.time() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"server exited early with {proc.returncode}: see {proc.args}")
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.3)
    raise TimeoutError(f"nothing listens on port {port} after {timeout}s")


@pytest.fixture
def beam_servers(tmp_path):
    """A local job service and an EXTERNAL worker pool; both killed at the end."""
    job_port, pool_port = _free_port(), _free_port()
    # The pool starts workers as plain `python`: make that this interpreter.
    path = os.pathsep.join([os.path.dirname(sys.executable), os.environ.get("PATH", "")])
    env = {**os.environ, "PYTHONPATH": REPO, "PATH": path}
    procs = []
    try:
        for args, port in (
                (["apache_beam.runners.portability.local_job_service_main", "--port", str(job_port)],
                 job_port),
                (["apache_beam.runners.worker.worker_pool_main", "--service_port", str(pool_port)],
                 pool_port)):
            log = open(tmp_path / f"{args[0].rsplit('.', 1)[-1]}.log", "w+")
            proc = subprocess.Popen([sys.executable, "-m", *args], env=env, stdout=log,
                                    stderr=subprocess.STDOUT, text=True, start_new_session=True)
            procs.append(proc)
            _wait_for_port(port, proc)
        yield job_port, pool_port
    finally:
        for proc in procs:
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGTERM)
                try:
                    proc.wait(timeout=10)
                except subprocess.TimeoutExpired:
                    os.killpg(proc.pid, signal.SIGKILL)
                    proc.wait()
        assert all(p.poll() is not None for p in procs)


@pytest.mark.e2e
def test_same_examples_on_direct_multiprocess_and_portable_runners(tmp_path, penguin_csv, beam_servers):
    job_port, pool_port = beam_servers
    runs = {
        "direct": [],
        "multiprocess": ["--runner=DirectRunner", "--direct_num_workers=2",
                         "--direct_running_mode=multi_processing"],
        "portable": ["--runner=PortableRunner", f"--job_endpoint=localhost:{job_port}",
                     "--environment_type=EXTERNAL", f"--environment_config=localhost:{pool_port}"],
    }
    seen = {}
    for name, args in runs.items():
        result, outputs = _run_example_gen(tmp_path, penguin_csv, name, args)
        assert result.status == "COMPLETE", (name, result.error)
        [examples] = outputs["examples"]
        seen[name] = _records(examples.uri)
        assert sorted(seen[name]) == ["eval", "train"], name
        assert sum(len(r) for r in seen[name].values()) == 344, name
    assert seen["direct"] == seen["multiprocess"] == seen["portable"]


def test_dataflow_with_a_local_root_is_refused_before_any_beam_work(tmp_path, penguin_csv, monkeypatch):
    """Dataflow's workers cannot read this machine's disk: with a local root (and the launcher's
    local staging) the node fails with one message before a Beam job is built, and nothing is
    recorded. (Before, a dry run COMPLETED with an empty Examples artifact LIVE.) The dry run
    of a job on gs:// URIs: tests/orchestration/test_dataflow_dry_run.py."""
    from beampipe.transforms import beam_util

    built = []
    real = beam_util.make_pipeline

    def capture(args, temp_dir=""):
        built.append(args)
        return real(args, temp_dir)

    monkeypatch.setattr(beam_util, "make_pipeline", capture)
    args = ["--runner=DataflowRunner", "--dry_run=True", "--no_auth", "--project=placeholder-project",
            "--region=us-central1", "--temp_location=gs://placeholder-bucket/tmp"]
    result, outputs = _run_example_gen(tmp_path, penguin_csv, "dataflow", args)
    assert result.status == "FAILED" and outputs == {}
    assert "DataflowRunner workers cannot read this machine's files" in result.error
    assert f"output 'examples' is the local path {tmp_path}" in result.error
    assert built == []


def test_beam_args_pass_through_unchanged_to_the_executor(tmp_path):
    """Flink/Spark (and any runner's) args reach ctx.beam_pipeline_args as given."""
    from apache_beam.options.pipeline_options import PipelineOptions

    from beampipe.orchestration import entrypoint

    module = ir_mod.load_module_from_file(os.path.join(os.path.dirname(__file__), "beam_args_pipeline.py"),
                                          "beam_args_pipeline")
    pipe_args = ["--runner=FlinkRunner", "--flink_master=localhost:8081", "--flink_version=1.18",
                 "--environment_type=LOOPBACK", "--parallelism=2"]
    node_args = ["--runner=SparkRunner", "--spark_master_url=spark://localhost:7077",
                 "--spark_version=3", "--experiments=use_runner_v2"]
    ir = ir_mod.compile_pipeline(module.make_pipeline(str(tmp_path / "root"), pipe_args, node_args))
    assert ir["pipeline"]["beam_pipeline_args"] == pipe_args
    ir_path = tmp_path / "ir.json"
    ir_path.write_text(ir_mod.dumps(ir))
    assert entrypoint.main(["--ir", str(ir_path), "--node", "RecordArgs", "--run-id", "r1"]) == 0
    store = MetadataStore(ir["pipeline"]["metadata_uri"])
    try:
        [ex] = store.executions_in_context("pipeline_run", "r1")
        [art] = store.artifacts_of(ex["id"])["record"]
    finally:
        store.close()
    import json
    assert json.loads(art.custom_properties["beam_args"]) == pipe_args + node_args
    options = PipelineOptions(pipe_args + node_args).get_all_options()
    assert options["runner"] == "SparkRunner"  # the node's args come last and win
    assert options["flink_master"] == "localhost:8081"
    assert options["spark_master_url"] == "spark://localhost:7077"
