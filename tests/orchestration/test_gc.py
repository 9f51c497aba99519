"""``beampipe gc``: debris made the honest way (a run SIGKILLed at a launcher fault point),
then listed exactly, deleted only with --delete, and nothing recorded is ever touched.

Real MLMD (SQLite, PostgreSQL), real runs of tests/support/toy.py with the local runner in
child processes, a real S3 server (SeaweedFS) for the object-store root.
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
import uuid

import pytest

from beampipe import io
from beampipe.metadata.owner import owner_token
from beampipe.metadata.store import MetadataStore
from beampipe.orchestration import gc
from beampipe.orchestration.cache import fingerprint_dir
from beampipe.orchestration.root_stores import registered_stores, store_identity

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def beampipe(argv: list[str], cwd: str) -> subprocess.CompletedProcess:
    """``beampipe ARGV`` as a user types it, with this checkout's code."""
    env = {**os.environ, "PYTHONPATH": REPO}
    env.pop("BEAMPIPE_METADATA_URI", None)
    return subprocess.run([sys.executable, "-m", "beampipe", *argv], cwd=cwd, env=env, capture_output=True,
                          text=True, timeout=240)

WORKER = """
import sys
from beampipe.orchestration.local_runner import LocalDagRunner
from tests.support.toy import chain
root, uri, text = sys.argv[1], sys.argv[2], sys.argv[3]
result = LocalDagRunner().run(chain(root, n=2, text=text, name="gc", metadata_uri=uri))
print(" ".join(f"{n}={r.status}" for n, r in sorted(result.nodes.items())))
sys.exit(0 if result.status == "COMPLETE" else 1)
"""


def run_chain(root: str, uri: str, text: str = "hello", kill: str | None = None) -> subprocess.CompletedProcess:
    """Produce -> Consume1 -> Produce1 in a child process; with ``kill``, SIGKILLed at that fault point."""
    env = {**os.environ, "PYTHONPATH": REPO}
    env.pop("BEAMPIPE_METADATA_URI", None)
    if kill:
        env["BEAMPIPE_FAULT_KILL"] = kill
    proc = subprocess.run([sys.executable, "-c", WORKER, root, uri, text], env=env, capture_output=True,
                          text=True, timeout=300)
    if kill:
        assert proc.returncode == -9, f"the fault point {kill} was never reached:\n{proc.stderr[-2000:]}"
    else:
        assert proc.returncode == 0, proc.stdout + proc.stderr[-2000:]
    return proc


def open_store(uri: str) -> MetadataStore:
    return MetadataStore(uri)


def recorded(uri: str) -> dict[str, tuple[str, str]]:
    """uri -> (recorded fingerprint, fingerprint now) of every artifact with a file prefix."""
    store = open_store(uri)
    try:
        return {a.uri: (a.custom_properties["fingerprint"].string_value, fingerprint_dir(a.uri))
                for a in store.call("get_artifacts")}
    finally:
        store.close()


def dead_attempts(uri: str, root: str) -> dict[str, str]:
    """node id -> ``<root>/<node>/<key>/<id>-<token>`` of each RUNNING execution (killed by the test)."""
    store = open_store(uri)
    try:
        found = {}
        for ex in store.all_executions():
            if ex["state"] == "RUNNING":
                [key] = json.loads(ex["output_keys"])
                found[ex["node_id"]] = io.join(root, ex["node_id"], key, f"{ex['id']}-{ex['attempt']}")
        return found
    finally:
        store.close()


def scan(root: str, uris: list[str], min_age: float = 0.0) -> gc.Report:
    stores = [open_store(u) for u in uris]
    try:
        return gc.scan(root, stores, min_age)
    finally:
        for s in stores:
            s.close()


def delete(root: str, uris: list[str], min_age: float = 0.0, force: bool = False) -> list[gc.Debris]:
    stores = [open_store(u) for u in uris]
    try:
        return gc.delete(gc.scan(root, stores, min_age), stores, force=force)
    finally:
        for s in stores:
            s.close()


def plant_bystanders(root: str) -> dict[str, bytes]:
    """Files gc must never touch, each in a place that looks a little like debris."""
    files = {
        "_code/ab/ab12cd34/module.py": b"def preprocessing_fn(inputs): return inputs\n",
        "_code/1-deadbeef/x.py": b"# attempt-like name under _code\n",
        "NotANode/model/3-deadbeef/data.txt": b"a node no store knows\n",
        "Produce/not_a_key/3-deadbeef/data.txt": b"a key Produce never recorded\n",
        "Produce/examples/by-hand/data.txt": b"not the launcher's attempt name\n",
        "serving_model/1700000000/saved_model.pb": b"pushed\n",
    }
    for rel, data in files.items():
        io.write_bytes(io.join(root, rel), data)
    return files


def assert_bystanders(root: str, files: dict[str, bytes]) -> None:
    for rel, data in files.items():
        assert io.read_bytes(io.join(root, rel)) == data, rel


def test_gc_lists_exactly_the_debris_of_a_kill_and_deletes_it(tmp_path):
    root = str(tmp_path / "root")
    uri = os.path.join(root, "metadata.sqlite")
    first = run_chain(root, uri)
    assert "Consume1=COMPLETE" in first.stdout
    before = recorded(uri)
    run_chain(root, uri, text="changed", kill="Produce:renamed")  # output in place, never committed
    bystanders = plant_bystanders(root)
    [staging] = os.listdir(os.path.join(root, ".beampipe", "staging"))
    expected = {dead_attempts(uri, root)["Produce"], os.path.join(root, ".beampipe", "staging", staging)}

    report = scan(root, [uri])
    assert {d.uri for d in report.debris} == expected
    assert report.refusal() is None and report.registered == report.given
    [output] = [d for d in report.debris if d.kind == "output"]
    assert output.files == 1 and output.bytes == len("changed") and output.age is not None

    young = scan(root, [uri], min_age=3600)  # just written: left alone, listed as young
    assert [d.uri for d in young.young] == [output.uri]
    assert [d.kind for d in young.debris] == ["staging"]  # a dead owner is dead at any age

    assert {d.uri for d in delete(root, [uri])} == expected
    assert not any(os.path.exists(p) for p in expected)
    assert scan(root, [uri]).debris == []
    assert_bystanders(root, bystanders)
    assert recorded(uri) == before and all(rec == now for rec, now in before.values())
    rerun = run_chain(root, uri)
    assert rerun.stdout.split() == ["Consume1=CACHED", "Produce=CACHED", "Produce1=CACHED"]


def test_attempts_of_a_live_running_execution_are_never_listed(tmp_path):
    """A RUNNING execution whose owner lives (this process) between rename and commit: its
    output prefix and its staging are left alone whatever their age."""
    root = str(tmp_path / "root")
    uri = os.path.join(root, "metadata.sqlite")
    run_chain(root, uri)
    store = open_store(uri)
    try:
        ctxs = store.contexts("gc", "manual-run", "Produce")
        exec_id = store.start_execution("toy.Produce", ctxs, {}, {
            "node_id": "Produce", "owner": owner_token(), "heartbeat_at": time.time(),
            "pipeline_root": root, "attempt": "0123abcd", "output_keys": json.dumps(["examples"])})
    finally:
        store.close()
    prefix = io.join(root, "Produce", "examples", f"{exec_id}-0123abcd")
    io.write_text(io.join(prefix, "data.txt"), "renamed, not committed yet")
    staging = os.path.join(root, ".beampipe", "staging",
                           f"{exec_id}-0123abcd@" + owner_token().replace("|", "@"))
    os.makedirs(staging)
    report = scan(root, [uri])
    assert report.running == [prefix] and report.debris == []
    assert delete(root, [uri]) == [] and os.path.isdir(prefix) and os.path.isdir(staging)


def test_a_second_store_on_the_root_blocks_deletion_until_it_is_given(tmp_path):
    root = str(tmp_path / "root")
    a, b = str(tmp_path / "a.sqlite"), str(tmp_path / "b.sqlite")
    run_chain(root, a)
    run_chain(root, b, text="store B")
    run_chain(root, a, text="debris", kill="Produce:renamed")
    debris = dead_attempts(a, root)["Produce"]
    assert set(registered_stores(root).values()) == {store_identity(a), store_identity(b)}

    alone = scan(root, [a])  # B's outputs look unrecorded to A alone: listed, never deleted
    assert debris in {d.uri for d in alone.debris} and len(alone.debris) > 2
    assert store_identity(b) in (alone.refusal() or "")
    with pytest.raises(gc.GcRefused, match="b.sqlite"):
        delete(root, [a])
    assert os.path.isdir(debris)
    assert all(rec == now for rec, now in recorded(b).values())

    both = scan(root, [a, b])
    assert both.refusal() is None
    assert {d.uri for d in both.debris if d.kind == "output"} == {debris}
    delete(root, [a, b])
    assert not os.path.exists(debris)
    for uri in (a, b):
        assert all(rec == now for rec, now in recorded(uri).values())
    assert "CACHED" in run_chain(root, b, text="store B").stdout


def test_a_root_without_registrations_needs_force(tmp_path):
    """A root last written before stores registered themselves: gc cannot rule out another store."""
    root = str(tmp_path / "root")
    uri = os.path.join(root, "metadata.sqlite")
    run_chain(root, uri, kill="Consume1:renamed")
    io.rmtree(os.path.join(root, ".beampipe", "stores"), root=root)
    debris = dead_attempts(uri, root)["Consume1"]
    with pytest.raises(gc.GcRefused, match="--force"):
        delete(root, [uri])
    assert os.path.isdir(debris)
    deleted = delete(root, [uri], force=True)
    assert debris in {d.uri for d in deleted} and not os.path.exists(debris)


def test_postgres_store(postgres_server, tmp_path):
    """The same on PostgreSQL; the registration names the store, never its password."""
    root = str(tmp_path / "root")
    db = f"gc_{uuid.uuid4().hex[:8]}"
    uri = postgres_server.uri(db).replace("beampipe@", "beampipe:Secret-pw-93@")  # trust auth ignores it
    run_chain(root, uri)
    before = recorded(uri)
    run_chain(root, uri, text="changed", kill="Consume1:renamed")
    debris = dead_attempts(uri, root)["Consume1"]
    [registration] = os.listdir(os.path.join(root, ".beampipe", "stores"))
    text = open(os.path.join(root, ".beampipe", "stores", registration)).read()
    assert f"postgresql://beampipe@127.0.0.1:{postgres_server.port}/{db}" in text and "Secret-pw" not in text
    assert registered_stores(root) == scan(root, [postgres_server.uri(db)]).given  # same store, no password
    report = scan(root, [uri])
    assert {d.uri for d in report.debris if d.kind == "output"} == {debris}
    delete(root, [uri])
    after = recorded(uri)  # the killed run committed Produce before dying in Consume1
    assert not os.path.exists(debris) and before.items() <= after.items()
    assert all(rec == now for rec, now in after.values())
    assert run_chain(root, uri).stdout.split() == ["Consume1=CACHED", "Produce=CACHED", "Produce1=CACHED"]


@pytest.fixture
def s3_root(s3_server, tmp_path, monkeypatch):
    for name, value in s3_server.env.items():
        monkeypatch.setenv(name, value)
    scratch = tmp_path / "tmp"
    scratch.mkdir()
    monkeypatch.setenv("TMPDIR", str(scratch))
    monkeypatch.setattr(tempfile, "tempdir", str(scratch))
    return f"s3://{s3_server.bucket}/gc-{uuid.uuid4().hex[:8]}/root"


def test_s3_root(s3_root, tmp_path):
    """On an object store the debris is an uploaded, uncommitted prefix; gc deletes it with
    io.rmtree under the root, sized and aged from the listing."""
    uri = str(tmp_path / "metadata.sqlite")
    run_chain(s3_root, uri)
    before = recorded(uri)
    run_chain(s3_root, uri, text="uploaded, not committed", kill="Produce:renamed")
    debris = dead_attempts(uri, s3_root)["Produce"]
    assert debris.startswith("s3://") and io.exists(debris)
    code = io.join(s3_root, "_code", "ab", "ab12cd34", "module.py")
    io.write_text(code, "x = 1\n")

    report = scan(s3_root, [uri])
    [found] = report.debris
    assert found.uri == debris and found.bytes == len("uploaded, not committed")
    assert found.age is not None and found.age < 600
    assert [d.uri for d in scan(s3_root, [uri], min_age=3600).young] == [debris]
    assert [d.uri for d in delete(s3_root, [uri])] == [debris]
    assert not io.exists(debris) and io.read_text(code) == "x = 1\n"
    assert recorded(uri) == before and all(rec == now for rec, now in before.values())


def test_cli_dry_run_prints_the_delete_command_then_deletes(tmp_path):
    root = str(tmp_path / "root")
    uri = os.path.join(root, "metadata.sqlite")
    run_chain(root, uri)
    run_chain(root, uri, text="changed", kill="Produce:renamed")
    debris = dead_attempts(uri, root)["Produce"]

    dry = beampipe(["gc", "--pipeline-root", root, "--min-age", "0"], cwd=str(tmp_path))
    assert dry.returncode == 0, dry.stderr
    lines = dry.stdout.splitlines()
    assert any(line.startswith(f"  {debris}  7 B, 1 file(s), ") for line in lines), dry.stdout
    assert "total: 2 to delete, 7 B" in lines, dry.stdout
    [command] = [line.split("to delete: ", 1)[1] for line in lines if "to delete: " in line]
    assert command.endswith("--delete") and os.path.isdir(debris)

    default_age = beampipe(["gc", "--pipeline-root", root], cwd=str(tmp_path))
    assert "left alone: 1 changed within 1h" in default_age.stdout and os.path.isdir(debris)

    argv = command.split()[1:]
    assert argv[:3] == ["gc", "--pipeline-root", root]
    done = beampipe(argv, cwd=str(tmp_path))
    assert done.returncode == 0, done.stderr
    assert f"deleted {debris}" in done.stdout and not os.path.exists(debris)


def test_cli_refuses_with_an_unknown_store_and_errors_are_one_line(tmp_path):
    root = str(tmp_path / "root")
    a, b = str(tmp_path / "a.sqlite"), str(tmp_path / "b.sqlite")
    run_chain(root, a)
    run_chain(root, b, text="store B")
    refused = beampipe(["gc", "--pipeline-root", root, "--metadata-uri", a, "--min-age", "0", "--delete"],
                       cwd=str(tmp_path))
    assert refused.returncode == 1
    [line] = refused.stderr.splitlines()
    assert line.startswith("beampipe: refusing to delete:") and f"--metadata-uri sqlite://{b}" in line
    assert all(rec == now for rec, now in recorded(b).values())

    secret = "Pw-never-shown-41"
    cases = [
        (["--pipeline-root", str(tmp_path / "nope")], "no such directory"),
        (["--pipeline-root", root, "--min-age", "soon"], "--min-age 'soon'"),
        (["--pipeline-root", root, "--metadata-uri", str(tmp_path / "missing.sqlite")], "no metadata store here"),
        (["--pipeline-root", root, "--metadata-uri", f"postgresql://u:{secret}@127.0.0.1:1/db"],
         "postgresql://u:***@127.0.0.1:1/db"),
    ]
    for argv, expected in cases:
        proc = beampipe(["gc", *argv], cwd=str(tmp_path))
        assert proc.returncode == 2, (argv, proc.stdout, proc.stderr)
        [line] = proc.stderr.splitlines()
        assert line.startswith("beampipe: ") and expected in line and secret not in proc.stdout + line
