"""What the console shows: one line per problem; tracebacks only with --verbose."""
from __future__ import annotations

import logging
import os
import subprocess
import sys
import threading

from beampipe.cli import build_parser
from beampipe.cli.common import remember_uri, scrub
from beampipe.cli.console import VERBOSE_HINT
from beampipe.orchestration.node_log import OutsideNodes, node_log
from tests.cli.test_cli import PIPELINE

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

CRASHING = PIPELINE.replace('"clitoy"', '"console"')


def _run(*args: str, env: dict | None = None) -> subprocess.CompletedProcess:
    full_env = {**os.environ, "PYTHONPATH": ROOT, **(env or {})}
    full_env.pop("TF_CPP_MIN_LOG_LEVEL", None)
    return subprocess.run([sys.executable, *args], capture_output=True, text=True, env=full_env,
                          cwd=ROOT, timeout=300)


def test_node_failure_is_one_message_and_verbose_shows_the_traceback(tmp_path):
    pipe = tmp_path / "p.py"
    pipe.write_text(CRASHING)
    env = {"TOY_ROOT": str(tmp_path / "root"), "BEAMPIPE_TEST_CRASH_IN": "Consume"}

    quiet = _run("-m", "beampipe", "run", str(pipe), env=env)
    assert quiet.returncode == 1
    assert "Traceback" not in quiet.stderr + quiet.stdout
    lines = [line for line in quiet.stderr.splitlines() if line.strip()]
    assert lines[0] == "node 'Consume' failed: RuntimeError: simulated crash inside the executor"
    assert lines[1].startswith("  log: ") and lines[1].endswith("Consume.log")
    assert lines[2:] == ["fix the problem, then resume with:",
                         f"  beampipe run {pipe} --from-node Consume"]
    with open(lines[1][len("  log: "):]) as f:
        assert "Traceback" in f.read()  # the traceback is kept, in the node's log

    for flags in (["-v", "run", str(pipe)], ["run", str(pipe), "--verbose"]):
        loud = _run("-m", "beampipe", *flags, env=env)
        assert loud.returncode == 1, loud.stderr
        assert "Traceback" in loud.stderr and "simulated crash inside the executor" in loud.stderr
        assert "node 'Consume' failed: RuntimeError" in loud.stderr


def test_an_unexpected_error_is_one_line_unless_verbose(tmp_path):
    script = ("import sys\nimport beampipe.cli.inspect as inspect\n"
              "def broken(args):\n    raise RuntimeError('disk on fire\\n  second line')\n"
              "inspect.list_runs = broken\n"
              "from beampipe.cli import main\nsys.exit(main(sys.argv[1:]))\n")
    quiet = _run("-c", script, "runs", "--pipeline-root", str(tmp_path))
    assert quiet.returncode == 1
    assert quiet.stderr == f"beampipe: RuntimeError: disk on fire second line\n{VERBOSE_HINT}\n"
    for argv in (["-v", "runs", "--pipeline-root", str(tmp_path)],
                 ["runs", "--pipeline-root", str(tmp_path), "-v"]):
        loud = _run("-c", script, *argv)
        assert loud.returncode == 1
        assert "Traceback" in loud.stderr and "beampipe: RuntimeError: disk on fire" in loud.stderr
        assert VERBOSE_HINT not in loud.stderr


def test_verbose_flag_before_or_after_the_command():
    parser = build_parser()
    assert parser.parse_args(["runs"]).verbose is False
    assert parser.parse_args(["-v", "runs"]).verbose is True
    assert parser.parse_args(["runs", "--verbose"]).verbose is True
    for command in (["run", "f.py"], ["artifacts", "r"],
                    ["compile", "f.py", "--target", "airflow", "-o", "x"],
                    ["run-node", "--ir", "x", "--node", "n", "--run-id", "r"],
                    ["submit", "y", "--host", "h"]):
        assert parser.parse_args([*command, "-v"]).verbose is True


def test_passwords_of_given_uris_are_masked(capsys):
    remember_uri("postgresql://ann:Pa%24%24word9@db:5432/mlmd")
    assert scrub("cannot log in as ann:Pa$$word9@db") == "cannot log in as ann:***@db"
    assert scrub("postgresql://ann:Pa%24%24word9@db:5432/mlmd") == "postgresql://ann:***@db:5432/mlmd"
    assert scrub("the password Pa$$word9 is wrong") == "the password *** is wrong"


def test_records_outside_node_threads_are_the_run_logs(tmp_path):
    keep = OutsideNodes()
    seen: dict[str, bool] = {}

    def record() -> logging.LogRecord:
        return logging.LogRecord("x", logging.INFO, __file__, 1, "m", None, None)

    with node_log(str(tmp_path / "N.log")):
        seen["node thread"] = keep.filter(record())
        other = threading.Thread(target=lambda: seen.__setitem__("other thread", keep.filter(record())))
        other.start()
        other.join()
    seen["after the node"] = keep.filter(record())
    assert seen == {"node thread": False, "other thread": True, "after the node": True}
