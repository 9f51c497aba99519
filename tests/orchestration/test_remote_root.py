"""Pipelines whose root is an object store (s3:// on a real SeaweedFS server).

The launcher localizes: executors read local copies of their inputs and write local
staging under the temp dir; publish uploads each output to its final unique URI and then
commits in MLMD. These tests check what that promises: every LIVE URI is s3://, the
recorded fingerprint is the uploaded tree's, a re-run is cached, a failure or a kill
leaves nothing LIVE and no unrecorded prefix, and nothing stays on local disk.
"""
from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import uuid

import pytest

from beampipe import io
from beampipe.metadata.store import MetadataStore
from beampipe.orchestration.local_runner import LocalDagRunner
from beampipe.orchestration.pipeline import Pipeline
from tests.support.toy import CRASH_FLAG, Consume, Produce

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


@pytest.fixture
def remote(s3_server, tmp_path, monkeypatch):
    """(s3 root, metadata URI, local temp dir): AWS settings in the environment, and a temp
    dir of this test's own, so what is left in it can be counted."""
    for name, value in s3_server.env.items():
        monkeypatch.setenv(name, value)
    scratch = tmp_path / "tmp"
    scratch.mkdir()
    monkeypatch.setenv("TMPDIR", str(scratch))
    monkeypatch.setattr(tempfile, "tempdir", str(scratch))
    root = f"s3://{s3_server.bucket}/remote-{uuid.uuid4().hex[:8]}/toy"
    return root, str(tmp_path / "md" / "metadata.sqlite"), scratch


def _pipeline(root: str, uri: str) -> Pipeline:
    os.makedirs(os.path.dirname(uri), exist_ok=True)
    produce = Produce(text="hello")
    consume = Consume(examples=produce.outputs["examples"])
    return Pipeline("toy", root, [produce, consume], metadata_uri=uri)


def _live(uri: str) -> list:
    store = MetadataStore(uri)
    try:
        return [a for a in store.call("get_artifacts") if a.state == store.pb.Artifact.LIVE]
    finally:
        store.close()


def _output_prefixes(root: str) -> set[str]:
    """Every ``<root>/<node>/<key>/<attempt>`` prefix that holds a file."""
    found = set()
    for node in io.listdir(root) if io.exists(root) else []:
        if node.startswith(".") or node == io.code.CODE_DIR:
            continue
        for key in io.listdir(io.join(root, node)):
            found.update(io.join(root, node, key, name) for name in io.listdir(io.join(root, node, key)))
    return found


def _left_locally(scratch) -> list[str]:
    """Files left under the test's temp dir (empty folders do not hold data)."""
    return [os.path.join(d, f) for d, _, files in os.walk(scratch) for f in files]


def test_s3_root_publishes_to_s3_and_reruns_from_cache(remote, tmp_path):
    root, uri, scratch = remote
    first = LocalDagRunner().run(_pipeline(root, uri))
    assert first.status == "COMPLETE", first.nodes
    live = _live(uri)
    assert len(live) == 2 and all(a.uri.startswith(root + "/") for a in live)
    for art in live:
        assert art.custom_properties["fingerprint"].string_value == io.fingerprint(art.uri)
    consume = next(a for a in live if "/Consume/model/" in a.uri)
    assert io.read_text(io.join(consume.uri, "len.txt")) == "5"
    # the node's log reaches the root; the executor's scratch and log scratch are gone
    assert first.nodes["Consume"].log_path == io.join(root, ".beampipe", "logs", first.run_id, "Consume.log")
    assert "execution" in io.read_text(first.nodes["Consume"].log_path)
    assert _left_locally(scratch) == []
    assert sorted(os.listdir(tmp_path)) == ["md", "tmp"]  # no local copy of the root anywhere
    assert not os.path.exists(os.path.join(REPO, "s3:")) and not os.path.exists("s3:")

    second = LocalDagRunner().run(_pipeline(root, uri))
    assert [r.status for r in second.nodes.values()] == ["CACHED", "CACHED"]
    assert _output_prefixes(root) == {a.uri for a in _live(uri)}


def test_gs_root_publishes_to_gs_and_reruns_from_cache(gcs_server, tmp_path, monkeypatch):
    """The same path on gs:// (the GCS emulator): nothing in the launcher is S3-specific."""
    from beampipe.io import backends

    monkeypatch.delenv("GOOGLE_APPLICATION_CREDENTIALS", raising=False)
    for name, value in gcs_server.env.items():
        monkeypatch.setenv(name, value)
    backends.clear_cache()
    scratch = tmp_path / "tmp"
    scratch.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(scratch))
    root = f"gs://{gcs_server.bucket}/remote-{uuid.uuid4().hex[:8]}/toy"
    uri = str(tmp_path / "md" / "metadata.sqlite")
    try:
        assert LocalDagRunner().run(_pipeline(root, uri)).status == "COMPLETE"
        live = _live(uri)
        assert len(live) == 2 and all(a.uri.startswith(root + "/") for a in live)
        assert all(a.custom_properties["fingerprint"].string_value == io.fingerprint(a.uri) for a in live)
        again = LocalDagRunner().run(_pipeline(root, uri))
        assert [r.status for r in again.nodes.values()] == ["CACHED", "CACHED"]
        assert _left_locally(scratch) == []
    finally:
        backends.clear_cache()


def test_s3_output_edited_after_publish_is_not_served_from_cache(remote):
    root, uri, _ = remote
    assert LocalDagRunner().run(_pipeline(root, uri)).status == "COMPLETE"
    produced = next(a for a in _live(uri) if "/Produce/" in a.uri)
    io.write_text(io.join(produced.uri, "data.txt"), "edited")
    again = LocalDagRunner().run(_pipeline(root, uri))
    assert again.nodes["Produce"].status == "COMPLETE"


def test_failing_node_on_s3_leaves_nothing_live_and_no_prefix(remote, monkeypatch):
    root, uri, scratch = remote
    monkeypatch.setenv(CRASH_FLAG, "Consume")
    result = LocalDagRunner().run(_pipeline(root, uri))
    assert result.nodes["Consume"].status == "FAILED"
    assert "simulated crash" in result.nodes["Consume"].error
    assert [a.uri for a in _live(uri) if "/Consume/" in a.uri] == []
    assert not io.exists(io.join(root, "Consume"))
    assert "simulated crash" in io.read_text(result.nodes["Consume"].log_path)
    assert _left_locally(scratch) == []


WORKER = """
import sys
from beampipe.orchestration.local_runner import LocalDagRunner
from tests.orchestration.test_remote_root import _pipeline
result = LocalDagRunner().run(_pipeline(sys.argv[1], sys.argv[2]))
sys.exit(0 if result.status == "COMPLETE" else 1)
"""


def _run_child(root: str, uri: str, **env: str) -> subprocess.CompletedProcess:
    full = {**os.environ, "PYTHONPATH": REPO, **env}
    return subprocess.run([sys.executable, "-c", WORKER, root, uri], env=full, capture_output=True,
                          text=True, timeout=300)


@pytest.mark.parametrize("point", ["renamed", "executed"])
def test_kill_after_upload_then_rerun_leaves_no_unrecorded_prefix(remote, point):
    """SIGKILL between upload and commit ('renamed') leaves an uploaded, unrecorded prefix and
    the process's local scratch; the next run deletes both and publishes again."""
    root, uri, scratch = remote
    killed = _run_child(root, uri, BEAMPIPE_FAULT_KILL=f"Consume:{point}")
    assert killed.returncode == -9, killed.stderr[-2000:]
    if point == "renamed":
        assert any("/Consume/model/" in p for p in _output_prefixes(root))  # uploaded, never recorded
    assert _left_locally(scratch)  # the dead process's staging, under the temp dir
    rerun = _run_child(root, uri)
    assert rerun.returncode == 0, rerun.stderr[-2000:]
    assert _output_prefixes(root) == {a.uri for a in _live(uri)}
    assert _left_locally(scratch) == []


def test_remote_root_needs_a_metadata_uri(s3_server, monkeypatch):
    from beampipe.orchestration.ir import compile_pipeline
    from beampipe.orchestration.launcher import NodeError, open_store

    monkeypatch.delenv("BEAMPIPE_METADATA_URI", raising=False)
    produce = Produce(text="x")
    ir = compile_pipeline(Pipeline("toy", f"s3://{s3_server.bucket}/nowhere", [produce]))
    assert ir["pipeline"]["root"] == f"s3://{s3_server.bucket}/nowhere"
    with pytest.raises(NodeError, match="--metadata-uri"):
        open_store(ir)


def test_cli_on_s3_root_prints_the_log_uri_and_needs_a_metadata_uri(remote, tmp_path):
    """``beampipe run --pipeline-root s3://...``: without a store, one message before anything
    runs; with one, a failed node's log is the uploaded object, named on the console."""
    from tests.cli.test_cli import PIPELINE, _beampipe

    root, uri, scratch = remote
    pipe_file = tmp_path / "toy_pipeline.py"
    pipe_file.write_text(PIPELINE)
    env = {"TOY_ROOT": "unused", "TMPDIR": str(scratch)}
    refused = _beampipe("run", str(pipe_file), "--pipeline-root", root, env=env)
    assert refused.returncode == 2 and "--metadata-uri" in refused.stderr, refused.stderr
    assert not io.exists(root)
    os.makedirs(os.path.dirname(uri), exist_ok=True)
    failed = _beampipe("run", str(pipe_file), "--pipeline-root", root, "--metadata-uri", uri,
                       env={**env, CRASH_FLAG: "Consume"})
    assert failed.returncode == 1
    log_uri = failed.stderr.split("log: ", 1)[1].split()[0]
    assert log_uri.startswith(root + "/.beampipe/logs/") and "simulated crash" in io.read_text(log_uri)
    assert _left_locally(scratch) == []
    listed = _beampipe("runs", "--pipeline-root", root, env=env)
    assert listed.returncode == 2 and "--metadata-uri" in listed.stderr


def test_example_gen_input_base_on_s3_matches_and_fingerprints_as_locally(remote, tmp_path):
    from beampipe.transforms import input_patterns

    root, _, _ = remote
    local = tmp_path / "data"
    for name, text in {"span-1/a.csv": "x\n1\n", "span-2/a.csv": "x\n2\n", "span-2/b.csv": "x\n3\n"}.items():
        (local / name).parent.mkdir(parents=True, exist_ok=True)
        (local / name).write_text(text)
    base = io.join(root, "input")
    io.copy(str(local), base)
    splits = [{"name": "all", "pattern": "span-{SPAN}/*.csv"}]
    here, there = input_patterns.resolve(str(local), splits), input_patterns.resolve(base, splits)
    assert there.span == here.span == 2
    assert there.files["all"] == [io.join(base, "span-2", n) for n in ("a.csv", "b.csv")]
    assert input_patterns.fingerprint_files(there.files["all"]) == input_patterns.fingerprint_files(here.files["all"])


def test_pusher_uploads_a_new_version_to_an_s3_base_directory(remote, tmp_path):
    from beampipe.components.pusher import push

    root, _, _ = remote
    model = tmp_path / "model"
    (model / "variables").mkdir(parents=True)
    (model / "saved_model.pb").write_bytes(b"pb")
    (model / "variables" / "variables.index").write_bytes(b"ix")
    base = io.join(root, "serving")
    first, target = push(str(model), base)
    second, again = push(str(model), base)
    assert second > first and target == io.join(base, str(first))
    assert io.read_bytes(io.join(again, "variables", "variables.index")) == b"ix"
    assert io.fingerprint(target) == io.fingerprint(str(model))


@pytest.mark.e2e
def test_penguin_on_s3_with_postgres_completes_then_is_cached(s3_server, postgres_server, tmp_path, monkeypatch):
    """The command of issue 9's first "Done when" bullet, run as a user runs it: ``beampipe
    run`` from an empty working directory, root on SeaweedFS, MLMD on PostgreSQL."""
    import time

    for name, value in s3_server.env.items():  # for this test's own checks
        monkeypatch.setenv(name, value)
    root = f"s3://{s3_server.bucket}/penguin-{uuid.uuid4().hex[:8]}"
    uri = postgres_server.uri("mlmd_penguin_s3")
    work, scratch = tmp_path / "work", tmp_path / "tmp"
    work.mkdir()
    scratch.mkdir()
    env = {**os.environ, **s3_server.env, "PYTHONPATH": REPO, "TMPDIR": str(scratch),
           "PENGUIN_ROOT": root}  # the pipeline file puts its serving directory under it
    command = [sys.executable, "-m", "beampipe", "run", os.path.join(REPO, "examples", "penguin",
                                                                        "penguin_pipeline.py"),
               "--pipeline-root", root, "--metadata-uri", uri]
    started = time.time()
    first = subprocess.run(command, cwd=work, env=env, capture_output=True, text=True, timeout=1200)
    print(f"penguin on s3, cold: {time.time() - started:.1f}s")
    assert first.returncode == 0, first.stdout[-3000:] + first.stderr[-3000:]
    live = _live(uri)
    assert live and all(a.uri.startswith(root + "/") for a in live), [a.uri for a in live]
    outputs = {p for p in _output_prefixes(root) if not p.startswith(root + "/serving_model/")}
    assert outputs <= {a.uri for a in live}  # no unrecorded prefix (an empty output has none)
    store = MetadataStore(uri)
    try:
        pushed = [a for a in store.call("get_artifacts") if a.uri.startswith(root + "/Pusher/")]
        destination = pushed[0].custom_properties["pushed_destination"].string_value
    finally:
        store.close()
    assert destination.startswith(root + "/serving_model/")
    assert io.isfile(io.join(destination, "saved_model.pb"))

    started = time.time()
    second = subprocess.run(command, cwd=work, env=env, capture_output=True, text=True, timeout=600)
    print(f"penguin on s3, cached: {time.time() - started:.1f}s")
    assert second.returncode == 0, second.stdout[-3000:] + second.stderr[-3000:]
    assert "(9 cached, 1 complete)" in second.stdout, second.stdout
    assert os.listdir(work) == []  # nothing of the root in the working directory
    # Every beampipe scratch directory was removed. (TensorFlow's autograph leaves its own
    # generated __autograph_generated_file*.py in $TMPDIR, with a local root too: not root data.)
    ours = [p for p in _left_locally(scratch) if not os.path.basename(p).startswith("__autograph_generated_file")]
    assert ours == []
