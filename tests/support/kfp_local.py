"""kfp.local as a cluster would run our YAML: every task in an empty working directory and
TMPDIR of its own.

kfp.local starts each task with the caller's working directory and environment and has no
option to change either. A pod starts in a directory of its own with a private /tmp, so
``isolated_kfp_local`` wraps kfp.local's one process-starting function to give every task an
empty working directory and TMPDIR, and calls kfp.local from yet another directory.
Everything a task needs must come from the IR, the pipeline root, the metadata store and the
"image" (this venv, with the repository on PYTHONPATH).
"""
from __future__ import annotations

import json
import os
import re
import subprocess
import warnings

import pytest

from beampipe.orchestration.kfp_task import kfp_run_id

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


class IsolatedKfpLocal:
    """kfp.local with every task in an empty working directory and TMPDIR of its own; keeps,
    per task, the node it ran, the KFP job placeholders it received and its output."""

    def __init__(self, base: str) -> None:
        self.base = base
        self.tasks: list[dict] = []

    def run_subprocess(self, full_command: list[str]) -> int:
        """Stands in for kfp.local.subprocess_task_handler.run_local_subprocess."""
        task_dir = os.path.join(self.base, f"task-{len(self.tasks):03d}")
        cwd, tmp = os.path.join(task_dir, "cwd"), os.path.join(task_dir, "tmp")
        os.makedirs(cwd)
        os.makedirs(tmp)
        executor_input = json.loads(full_command[full_command.index("--executor_input") + 1])
        proc = subprocess.run(full_command, cwd=cwd, env={**os.environ, "TMPDIR": tmp},
                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, timeout=600)
        values = executor_input["inputs"]["parameterValues"]
        self.tasks.append({"node": values["beampipe_node"], "job_name": values["beampipe_job_name"],
                           "job_uuid": values["beampipe_job_uuid"], "returncode": proc.returncode,
                           "status": _status_output(executor_input["outputs"]["outputFile"]),
                           "output": proc.stdout, "cwd": cwd, "tmp": tmp})
        print(proc.stdout)
        return proc.returncode

    def run(self, pipeline_yaml: str, **arguments) -> tuple[bool, str, list[dict]]:
        """One kfp.local run of the YAML: (succeeded, beampipe run id, its tasks)."""
        from kfp import components

        first = len(self.tasks)
        pipeline = components.load_component_from_file(pipeline_yaml)
        with warnings.catch_warnings():  # "non-Python base image": the image is ours, kfp guesses by name
            warnings.simplefilter("ignore", RuntimeWarning)
            try:
                pipeline(**arguments)
                ok = True
            except RuntimeError as err:
                plain = re.sub(r"\x1b\[[0-9;]*m", "", str(err))  # kfp.local colours its messages
                assert "finished with status FAILURE. Inner task failed:" in plain, plain
                ok = False
        tasks = self.tasks[first:]
        jobs = {(t["job_name"], t["job_uuid"]) for t in tasks}
        assert len(jobs) == 1, f"tasks of one KFP run got different job placeholders: {jobs}"
        [(name, uuid)] = jobs
        return ok, kfp_run_id(name, uuid), tasks


def _status_output(executor_output: str) -> str | None:
    """The task's ``status`` output parameter, as KFP reads it (None when the task failed)."""
    if not os.path.exists(executor_output):
        return None
    with open(executor_output) as f:
        return json.load(f)["parameterValues"]["status"]


@pytest.fixture
def isolated_kfp_local(tmp_path, monkeypatch) -> IsolatedKfpLocal:
    from kfp import local
    from kfp.local import subprocess_task_handler

    harness = IsolatedKfpLocal(str(tmp_path / "tasks"))
    monkeypatch.setattr(subprocess_task_handler, "run_local_subprocess", harness.run_subprocess)
    monkeypatch.setenv("PYTHONPATH", REPO)  # the image: beampipe importable, nothing else of ours
    monkeypatch.delenv("BEAMPIPE_METADATA_URI", raising=False)
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    local.init(runner=local.SubprocessRunner(use_venv=False), pipeline_root=str(tmp_path / "kfp-local"))
    return harness


def assert_isolated(tasks: list[dict], tmp_too: bool = True) -> None:
    """Each task had its own directories, and left its working directory (and TMPDIR: the
    component program removes itself) as it found them."""
    assert len({t["cwd"] for t in tasks}) == len({t["tmp"] for t in tasks}) == len(tasks)
    for t in tasks:
        assert os.listdir(t["cwd"]) == [], f"task {t['node']} wrote into its working directory"
        if tmp_too:
            assert os.listdir(t["tmp"]) == [], f"task {t['node']} left {os.listdir(t['tmp'])} in TMPDIR"
