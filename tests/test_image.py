"""The task image's Dockerfile, checked statically (there is no Docker engine in CI).

What the image installs is tested for real by `.ci/run`, which runs the same install script in a
clean temporary directory; these tests pin the Dockerfile to that script and to the image
conventions (pinned base, non-root user, environment, labels).
"""
from __future__ import annotations

import fnmatch
import json
import os
import re
import shlex
import subprocess
import sys

import beampipe

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DOCKERFILE = os.path.join(ROOT, "Dockerfile")
INSTALL_SCRIPT = "docker/install.sh"


def instructions(path: str = DOCKERFILE) -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) pairs: comments dropped, continuation lines joined."""
    out: list[tuple[str, str]] = []
    pending = ""
    with open(path) as f:
        for raw in f:
            line = raw.rstrip("\n")
            if not pending and (not line.strip() or line.lstrip().startswith("#")):
                continue
            if line.lstrip().startswith("#"):  # a comment inside a continued instruction
                continue
            if line.endswith("\\"):
                pending += line[:-1] + " "
                continue
            full = (pending + line).strip()
            pending = ""
            word, _, rest = full.partition(" ")
            out.append((word.upper(), rest.strip()))
    assert not pending, "the Dockerfile ends inside a continued instruction"
    return out


def stages(instrs: list[tuple[str, str]]) -> list[list[tuple[str, str]]]:
    """The instructions of each FROM stage (the global ARGs before the first FROM are stage 0)."""
    out: list[list[tuple[str, str]]] = [[]]
    for ins in instrs:
        if ins[0] == "FROM":
            out.append([])
        out[-1].append(ins)
    return out


def key_values(args: str) -> dict[str, str]:
    """`K=V K2="V 2"` as LABEL, ENV and ARG write them."""
    values = {}
    for word in shlex.split(args):
        key, sep, value = word.partition("=")
        values[key] = value if sep else ""
    return values


def global_args() -> dict[str, str]:
    values: dict[str, str] = {}
    for word, args in stages(instructions())[0]:
        assert word == "ARG", f"only ARG may come before the first FROM, found {word}"
        values.update(key_values(args))
    return values


def final_stage() -> list[tuple[str, str]]:
    return stages(instructions())[-1]


def final(word: str) -> list[str]:
    return [args for w, args in final_stage() if w == word]


def test_base_image_tag_is_pinned():
    base = global_args().get("PYTHON_IMAGE", "")
    # An official slim Python 3.11 image, pinned to the patch release and the Debian release.
    assert re.fullmatch(r"python:3\.11\.\d+-slim-(bookworm|trixie)(@sha256:[0-9a-f]{64})?", base), base
    froms = [args.split()[0] for word, args in instructions() if word == "FROM"]
    assert froms and all(image == "${PYTHON_IMAGE}" for image in froms), froms
    # constraints.txt needs a recent enough 3.11; the install script knows how recent.
    with open(os.path.join(ROOT, INSTALL_SCRIPT)) as f:
        minimum = re.search(r"^min_python=(3\.11\.\d+)$", f.read(), re.M).group(1)
    patch = int(re.match(r"python:3\.11\.(\d+)", base).group(1))
    assert patch >= int(minimum.split(".")[2]), (base, minimum)


def test_dockerfile_runs_the_install_script_that_ci_runs():
    runs = [args for word, args in instructions() if word == "RUN"]
    installs = [args for args in runs if INSTALL_SCRIPT in args]
    assert len(installs) == 1, runs
    # It installs into the venv the image puts first on PATH.
    prefix = re.search(re.escape(INSTALL_SCRIPT) + r"\s+(\S+)", installs[0]).group(1)
    env = key_values(" ".join(final("ENV")))
    assert env["PATH"].startswith(f"{prefix}/bin:"), env["PATH"]
    assert env.get("VIRTUAL_ENV") == prefix
    assert any(f"COPY --from=build {prefix} {prefix}" == f"COPY {args}" for args in final("COPY"))
    with open(os.path.join(ROOT, ".ci", "run")) as f:
        ci = f.read()
    assert re.search(r"^[^#\n]*" + re.escape(INSTALL_SCRIPT), ci, re.M), ".ci/run does not run the install script"


def test_install_script_exists_and_is_executable():
    path = os.path.join(ROOT, INSTALL_SCRIPT)
    assert os.path.isfile(path)
    assert os.access(path, os.X_OK), f"{INSTALL_SCRIPT} is not executable (git update-index --chmod=+x)"
    subprocess.run(["bash", "-n", path], check=True)
    with open(path) as f:
        text = f.read()
    assert "set -euo pipefail" in text
    for check in ("-c \"$constraints\"", "--no-cache-dir", "pip check", "-m beampipe --help", "TF_USE_LEGACY_KERAS=1"):
        assert check in text, check
    for module in ("beampipe", "tensorflow", "apache_beam", "tensorflow_transform", "tensorflow_data_validation",
                   "tensorflow_model_analysis", "ml_metadata", "kfp"):
        assert re.search(rf"import [\w, ]*\b{module}\b", text), module


def test_build_context_keeps_what_the_install_needs():
    with open(os.path.join(ROOT, ".dockerignore")) as f:
        patterns = [p.strip() for p in f if p.strip() and not p.startswith("#")]
    assert ".venv" in patterns and ".git" in patterns  # the .venv alone is ~3 GB
    for needed in ("setup.py", "pyproject.toml", "README.md", "LICENSE", "constraints.txt", "beampipe",
                   "beampipe/__init__.py", "docker", INSTALL_SCRIPT):
        assert os.path.exists(os.path.join(ROOT, needed)), needed
        assert not any(fnmatch.fnmatch(needed, p.rstrip("/")) for p in patterns), needed
    assert ("COPY", ". /src") in instructions()


def test_image_runs_as_a_numeric_non_root_user():
    users = final("USER")
    assert len(users) == 1, users
    uid, _, gid = users[0].partition(":")
    # Numeric, so that Kubernetes' runAsNonRoot can check it without reading /etc/passwd.
    assert uid.isdigit() and int(uid) != 0, users[0]
    assert not gid or (gid.isdigit() and int(gid) != 0), users[0]
    assert any(f"--uid {uid}" in args for args in final("RUN"))
    # The user's home is its working directory, so tasks can write there.
    assert final("WORKDIR")


def test_image_environment():
    env = key_values(" ".join(final("ENV")))
    assert env["TF_USE_LEGACY_KERAS"] == "1"
    assert env["PYTHONUNBUFFERED"] == "1"
    assert env["PIP_NO_CACHE_DIR"] == "1"


def test_image_labels():
    labels = key_values(" ".join(final("LABEL")))
    assert labels["org.opencontainers.image.licenses"] == "Apache-2.0"
    assert labels["org.opencontainers.image.version"] == "${BEAMPIPE_VERSION}"
    version_args = [key_values(args) for args in final("ARG") if args.startswith("BEAMPIPE_VERSION")]
    assert version_args == [{"BEAMPIPE_VERSION": beampipe.__version__}], "bump the Dockerfile's BEAMPIPE_VERSION"
    from tests.test_packaging import setup_kwargs

    assert labels["org.opencontainers.image.source"] == setup_kwargs()["project_urls"]["Source"]


def test_image_needs_no_arguments_and_leaves_the_command_to_tasks():
    assert not [w for w, _ in instructions() if w == "ENTRYPOINT"], "tasks give the whole command"
    cmds = final("CMD")
    assert len(cmds) <= 1
    if cmds:
        argv = json.loads(cmds[0])  # exec form
        assert argv[-1] == "--help", argv


def _install(tmp_path, *args: str, **env: str) -> subprocess.CompletedProcess:
    return subprocess.run([os.path.join(ROOT, INSTALL_SCRIPT), *args], cwd=tmp_path, capture_output=True,
                          text=True, env={**os.environ, **env}, timeout=60)


def test_install_script_refuses_a_used_prefix_and_a_bad_source(tmp_path):
    used = tmp_path / "used"
    used.mkdir()
    (used / "keep").write_text("x")
    done = _install(tmp_path, str(used))
    assert done.returncode != 0 and "is not empty" in done.stderr, done.stderr
    assert (used / "keep").exists()

    (tmp_path / "notes.txt").write_text("x")
    done = _install(tmp_path, str(tmp_path / "venv"), str(tmp_path / "notes.txt"))
    assert done.returncode != 0 and "neither a source tree nor a .whl" in done.stderr, done.stderr
    done = _install(tmp_path, str(tmp_path / "venv"), str(tmp_path))
    assert done.returncode != 0 and "no setup.py" in done.stderr, done.stderr
    assert not (tmp_path / "venv").exists()


def test_install_script_wants_a_compiler_or_a_choice(tmp_path):
    # With no gcc on PATH the choice matters; the interpreter is named so PATH can be bare.
    bare = tmp_path / "bin"
    bare.mkdir()
    for tool in ("bash", "dirname", "mktemp", "rm", "ls", "date", "env"):
        target = subprocess.run(["bash", "-c", f"command -v {tool}"], capture_output=True, text=True).stdout.strip()
        if target:
            os.symlink(target, bare / tool)
    done = _install(tmp_path, str(tmp_path / "venv"), ROOT, PATH=str(bare), BEAMPIPE_PYTHON=sys.executable,
                    BEAMPIPE_BUILD_TOOLS="bogus")
    assert done.returncode != 0 and "expected check, apt or none" in done.stderr, done.stderr
    done = _install(tmp_path, str(tmp_path / "venv"), ROOT, PATH=str(bare), BEAMPIPE_PYTHON=sys.executable)
    assert done.returncode != 0 and "BEAMPIPE_BUILD_TOOLS=apt" in done.stderr, done.stderr
    assert not (tmp_path / "venv").exists()
