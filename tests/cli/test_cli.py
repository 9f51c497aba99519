"""The beampipe command: run, runs, artifacts, failure and the resume command; layers."""
from __future__ import annotations

import os
import subprocess
import sys
import textwrap

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

PIPELINE = textwrap.dedent("""
    import os
    from beampipe import Pipeline
    from tests.support.toy import Consume, Produce
    produce = Produce(text="hello")
    consume = Consume(examples=produce.outputs["examples"])
    pipeline = Pipeline("clitoy", os.environ["TOY_ROOT"], [produce, consume])
""")


def _beampipe(*args: str, env: dict | None = None) -> subprocess.CompletedProcess:
    full_env = {**os.environ, "PYTHONPATH": ROOT, **(env or {})}
    return subprocess.run([sys.executable, "-m", "beampipe", *args], capture_output=True, text=True,
                          env=full_env, cwd=ROOT, timeout=300)


def test_run_runs_artifacts_and_resume(tmp_path):
    pipe_file = tmp_path / "toy_pipeline.py"
    pipe_file.write_text(PIPELINE)
    root = str(tmp_path / "root")
    env = {"TOY_ROOT": root, "BEAMPIPE_TEST_CRASH_IN": "Consume"}

    failed = _beampipe("run", str(pipe_file), env=env)
    assert failed.returncode == 1
    assert "node 'Consume' failed: RuntimeError: simulated crash inside the executor" in failed.stderr
    assert "Consume.log" in failed.stderr
    assert f"beampipe run {pipe_file} --from-node Consume" in failed.stderr

    resumed = _beampipe("run", str(pipe_file), "--from-node", "Consume", env={"TOY_ROOT": root})
    assert resumed.returncode == 0, resumed.stderr
    assert "Consume" in resumed.stdout and "complete" in resumed.stdout
    assert "1 complete" in resumed.stdout  # only the resumed node ran

    runs = _beampipe("runs", "--pipeline-root", root)
    assert runs.returncode == 0
    lines = runs.stdout.strip().splitlines()
    assert lines[0].split()[:3] == ["RUN", "ID", "STATE"]
    states = [line.split()[1] for line in lines[1:]]
    assert sorted(states) == ["COMPLETE", "FAILED"]

    newest = lines[1].split()[0]
    arts = _beampipe("artifacts", newest, "--pipeline-root", root)
    assert arts.returncode == 0, arts.stderr
    assert "Model" in arts.stdout and "Consume" in arts.stdout and root in arts.stdout


def test_usage_errors_are_one_line(tmp_path):
    missing = _beampipe("run", str(tmp_path / "nope.py"))
    assert missing.returncode == 2 and "no such pipeline file" in missing.stderr
    no_store = _beampipe("runs", "--pipeline-root", str(tmp_path / "empty"))
    assert no_store.returncode == 2 and "no metadata store here" in no_store.stderr
    pipe_file = tmp_path / "p.py"
    pipe_file.write_text(PIPELINE)
    bad_param = _beampipe("run", str(pipe_file), "--param", "nope=1", env={"TOY_ROOT": str(tmp_path)})
    assert bad_param.returncode == 2 and "unknown runtime parameter" in bad_param.stderr


def test_help_starts_without_ml_libraries():
    out = subprocess.run([sys.executable, "-X", "importtime", "-m", "beampipe", "--help"],
                         capture_output=True, text=True, env={**os.environ, "PYTHONPATH": ROOT})
    assert out.returncode == 0 and "run" in out.stdout
    imported = out.stderr
    for heavy in ("tensorflow", "apache_beam", "ml_metadata", "kfp"):
        assert f" {heavy}\n" not in imported and f" {heavy}." not in imported


def test_import_layers_hold():
    out = subprocess.run([sys.executable, "-c",
                          "import sys\nfrom importlinter.cli import lint_imports\n"
                          "sys.exit(lint_imports())"],
                         capture_output=True, text=True, cwd=ROOT, env={**os.environ, "PYTHONPATH": ROOT})
    assert out.returncode == 0, out.stdout + out.stderr
    assert "2 kept, 0 broken" in out.stdout  # the layers, and what serving may not import


def test_broken_pipeline_file_is_one_message(tmp_path):
    broken = tmp_path / "broken.py"
    broken.write_text("import os\npipeline = (\n")
    out = _beampipe("run", str(broken))
    assert out.returncode == 2
    assert f"{broken}, line" in out.stderr and "syntax error" in out.stderr
    assert "Traceback" not in out.stderr
    miswired = tmp_path / "miswired.py"
    miswired.write_text(textwrap.dedent("""
        from beampipe import Pipeline
        from tests.support.toy import Consume, Produce
        c = Consume(examples=Produce().outputs["examples"])
        pipeline = Pipeline("bad", "/tmp/unused", [Consume(examples=c.outputs["model"])])
    """))
    out = _beampipe("run", str(miswired))
    assert out.returncode == 2 and "expects Examples but is wired to Model" in out.stderr
    assert "Traceback" not in out.stderr
