"""Container components on the local runner, on real MLMD: host mode with real commands,
the engine path through a stand-in ``docker`` on PATH, and the refusal without either."""
from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

import beampipe as tfx
from beampipe.components.base import WiringError
from beampipe.components.container import CONTAINER_PROP, ENGINE_ENV, IN_IMAGE_ENV, ON_HOST_ENV
from beampipe.metadata.artifacts import Examples, Model
from beampipe.metadata.store import RUN_CONTEXT, MetadataStore
from beampipe.orchestration import ir as ir_mod
from beampipe.orchestration.local_runner import LocalDagRunner
from beampipe.orchestration.pipeline import Pipeline

ph = tfx.dsl.placeholders

WriteGreeting = tfx.dsl.experimental.create_container_component(
    name="WriteGreeting",
    image="busybox:1.36",
    outputs={"out": Examples},
    parameters={"greeting": str, "times": int},
    command=["sh", "-ec", 'mkdir -p "$2"; for i in $(seq "$1"); do printf "%s\\n" "$0"; done > "$2/greeting.txt"',
             ph.exec_property("greeting"), ph.exec_property("times"), ph.output("out")[0].uri + "/Split-train"],
)

Shout = tfx.dsl.experimental.create_container_component(
    name="Shout",
    image="python:3.11-slim",
    inputs={"text": Examples},
    outputs={"result": Model},
    command=["python3", "-c",
             "import sys, pathlib; src = pathlib.Path(sys.argv[1]) / 'greeting.txt'; "
             "pathlib.Path(sys.argv[2], 'shout.txt').write_text(src.read_text().upper())",
             ph.input("text")[0].split_uri("train"), ph.output("result").uri],
)


def _pipeline(root: str, greeting: str = "hello", command_fails: bool = False) -> Pipeline:
    write = WriteGreeting(greeting=greeting, times=2)
    shout = Shout(text=write.outputs["out"])
    nodes = [write, shout]
    if command_fails:
        Fail = tfx.dsl.experimental.create_container_component(
            name="Fail", image="busybox:1.36", inputs={"text": Examples},
            command=["sh", "-c", 'echo "cannot read $0" >&2; exit 3', ph.input("text").uri])
        nodes = [write, Fail(text=write.outputs["out"])]
    return Pipeline("containers", root, nodes)


def _live(store: MetadataStore) -> list:
    return [a for a in store.call("get_artifacts") if a.state == a.LIVE]


def test_host_mode_runs_real_commands_records_lineage_and_caches(tmp_path, monkeypatch):
    monkeypatch.setenv(ON_HOST_ENV, "1")
    root = str(tmp_path / "root")
    first = LocalDagRunner().run(_pipeline(root))
    assert first.status == "COMPLETE", first.nodes
    store = MetadataStore(os.path.join(root, "metadata.sqlite"))
    try:
        [out] = store.artifacts_of(first.nodes["Shout"].execution_id)["result"]
        with open(os.path.join(out.uri, "shout.txt")) as f:
            assert f.read() == "HELLO\nHELLO\n"
        [consumed] = store.artifacts_of(first.nodes["Shout"].execution_id, kind="INPUT")["text"]
        [written] = store.artifacts_of(first.nodes["WriteGreeting"].execution_id)["out"]
        assert consumed.uri == written.uri and written.uri.startswith(root)
        types = {store.call("get_execution_types_by_id", [e.type_id])[0].name
                 for e in store.call("get_executions")}
        assert {f"{__name__}.WriteGreeting", f"{__name__}.Shout"} <= types
        second = LocalDagRunner().run(_pipeline(root))
        assert {n: r.status for n, r in second.nodes.items()} == {"WriteGreeting": "CACHED", "Shout": "CACHED"}
        third = LocalDagRunner().run(_pipeline(root, greeting="bye"))  # a parameter change reruns both
        assert {r.status for r in third.nodes.values()} == {"COMPLETE"}
    finally:
        store.close()


def test_without_engine_or_host_flag_the_node_fails_naming_both_ways_out(tmp_path, monkeypatch):
    monkeypatch.delenv(ON_HOST_ENV, raising=False)
    monkeypatch.delenv(ENGINE_ENV, raising=False)
    empty = tmp_path / "bin"
    empty.mkdir()
    monkeypatch.setenv("PATH", str(empty))
    root = str(tmp_path / "root")
    result = LocalDagRunner().run(_pipeline(root))
    assert result.status == "FAILED"
    error = result.nodes["WriteGreeting"].error
    for part in ("WriteGreeting", "busybox:1.36", "docker or podman", f"{ON_HOST_ENV}=1"):
        assert part in error
    assert result.nodes["Shout"].status == "NOT_RUN"
    store = MetadataStore(os.path.join(root, "metadata.sqlite"))
    try:
        assert _live(store) == []
    finally:
        store.close()


def test_a_failing_command_fails_the_node_with_its_output(tmp_path, monkeypatch):
    monkeypatch.setenv(ON_HOST_ENV, "1")
    root = str(tmp_path / "root")
    result = LocalDagRunner().run(_pipeline(root, command_fails=True))
    assert result.status == "FAILED"
    error = result.nodes["Fail"].error
    assert "exited with code 3" in error and "cannot read " + root in error
    with open(result.nodes["Fail"].log_path) as f:
        assert "cannot read" in f.read()


def test_engine_runs_the_image_with_artifacts_mounted(tmp_path, monkeypatch):
    """A stand-in ``docker`` records its arguments, then runs the entrypoint itself."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    calls = tmp_path / "calls.jsonl"
    fake = bin_dir / "docker"
    fake.write_text(f"""#!{sys.executable}
import json, os, sys
args = sys.argv[1:]
with open({str(calls)!r}, "a") as f:
    f.write(json.dumps(args) + "\\n")
entry = args[args.index("--entrypoint") + 1]
rest = args[args.index("--entrypoint") + 3:]
os.execvp(entry, [entry, *rest])
""")
    fake.chmod(0o755)
    monkeypatch.delenv(ON_HOST_ENV, raising=False)
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ['PATH']}")
    root = str(tmp_path / "root")
    result = LocalDagRunner(parallelism=1).run(_pipeline(root))
    assert result.status == "COMPLETE", result.nodes
    runs = [json.loads(line) for line in calls.read_text().splitlines()]
    assert [r[r.index("--entrypoint") + 2] for r in runs] == ["busybox:1.36", "python:3.11-slim"]
    shout = runs[1]
    assert shout[:3] == ["run", "--rm", "--user"]
    mounts = [shout[i + 1] for i, a in enumerate(shout) if a == "-v"]
    assert any(m.endswith(":ro") and "/WriteGreeting/out/" in m for m in mounts)
    assert any(not m.endswith(":ro") and m.split(":")[0].endswith("/result") for m in mounts)


def test_in_its_own_image_the_command_runs_directly(tmp_path, monkeypatch):
    """What a compiled task in the component's image does: no engine, no host flag needed."""
    monkeypatch.delenv(ON_HOST_ENV, raising=False)
    monkeypatch.setenv(ENGINE_ENV, "no-such-engine")
    monkeypatch.setenv(IN_IMAGE_ENV, "busybox:1.36")
    root = str(tmp_path / "root")
    result = LocalDagRunner().run(_pipeline(root))
    assert result.nodes["WriteGreeting"].status == "COMPLETE"
    assert result.nodes["Shout"].status == "FAILED"  # another image: not this task's
    assert "'no-such-engine'" in result.nodes["Shout"].error


def test_the_ir_names_a_shared_class_and_a_fresh_process_runs_it(tmp_path, monkeypatch):
    """The task needs none of the user's code: image and command are in the node's properties."""
    root = str(tmp_path / "root")
    ir = ir_mod.compile_pipeline(_pipeline(root))
    node = ir_mod.node(ir, "WriteGreeting")
    assert node["component"] == {"module": "beampipe.components.container", "name": "ContainerComponent",
                                 "file": None}
    assert node["type_name"] == f"{__name__}.WriteGreeting"
    assert node["exec_properties"][CONTAINER_PROP]["image"] == "busybox:1.36"
    path = tmp_path / "ir.json"
    path.write_text(ir_mod.dumps(ir))
    env = {**os.environ, ON_HOST_ENV: "1", "PYTHONPATH": os.path.dirname(os.path.dirname(tfx.__file__))}
    proc = subprocess.run([sys.executable, "-m", "beampipe.orchestration.entrypoint", "--ir", str(path),
                           "--node", "WriteGreeting", "--run-id", "r1"], capture_output=True, text=True,
                          env=env, cwd=str(tmp_path), check=False)
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout.strip().splitlines()[-1])["status"] == "COMPLETE"
    store = MetadataStore(os.path.join(root, "metadata.sqlite"))
    try:
        assert [e["node_id"] for e in store.executions_in_context(RUN_CONTEXT, "r1")] == ["WriteGreeting"]
    finally:
        store.close()


def test_placeholders_are_checked_when_the_component_is_made():
    with pytest.raises(WiringError, match=r"input\('nope'\)"):
        tfx.dsl.experimental.create_container_component(
            name="Bad", image="x", inputs={"text": Examples}, command=["cat", ph.input("nope").uri])
    with pytest.raises(ValueError, match="cannot be empty"):
        tfx.dsl.experimental.create_container_component(name="", image="x", command=["true"])
    with pytest.raises(ValueError, match="not supported"):
        ph.output("model")[0].value
    with pytest.raises(TypeError, match="no value before the node runs"):
        f"{ph.exec_property('x')}"
