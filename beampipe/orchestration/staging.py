"""Where one execution attempt writes, and how its outputs are published or discarded.

An attempt is named ``<execution id>-<random token>``: unique across stores that share a
pipeline root (execution ids restart per store) and across retries. The executor writes
into ``<root>/.beampipe/staging/<attempt>@<owner>/<output key>``; publish renames each output to
``<root>/<node id>/<output key>/<attempt>`` and then commits the execution in MLMD, which
is the commit point: a directory that no LIVE artifact names is debris, and only the
attempt's own directories are ever deleted.

On a remote root (``s3://``, ``gs://``) there is no atomic rename, so staging is local: a
scratch directory under the system temp dir (``$TMPDIR/beampipe-staging/<attempt>@<owner>``,
named for its owner like every staging directory, so a dead process's scratch is found and
removed the same way), and
publish uploads each output to its final, never-before-used URI before the MLMD commit.
"""
from __future__ import annotations

import os
import secrets
import shutil
import signal
import tempfile
from dataclasses import dataclass

from beampipe import io
from beampipe.metadata.ids import check_path_id

FAULT_ENV = "BEAMPIPE_FAULT_KILL"  # tests only: "<node id>:<point>" kills the process there
LOCAL_STAGING = "beampipe-staging"  # under the temp dir: scratch of attempts on remote roots


def staging_base(root: str) -> str:
    """Where attempts of ``root`` stage their outputs: inside a local root (so publish is one
    rename on the same filesystem), under the local temp dir for an object-store root."""
    if io.is_remote(root):
        return os.path.join(tempfile.gettempdir(), LOCAL_STAGING)
    return os.path.join(root, ".beampipe", "staging")


def staging_guard(root: str) -> str:
    """The directory every staging deletion must stay strictly inside."""
    return staging_base(root) if io.is_remote(root) else root


@dataclass(frozen=True)
class Attempt:
    root: str
    node_id: str
    exec_id: int
    token: str
    owner: str = ""  # host|pid|start ticks of the process that runs it (metadata.owner)

    @staticmethod
    def new_token() -> str:
        return secrets.token_hex(4)

    @property
    def name(self) -> str:
        return f"{self.exec_id}-{self.token}"

    @property
    def remote(self) -> bool:
        return io.is_remote(self.root)

    @property
    def staging(self) -> str:
        """``<staging base>/<attempt>@<host>@<pid>@<start ticks>``: the owner is in the name, which
        mkdir creates atomically, so no kill can leave a directory nobody can judge."""
        return os.path.join(staging_base(self.root), staging_name(self.name, self.owner))

    @property
    def inputs_dir(self) -> str:
        """Local copies of the input artifacts (remote roots only), removed with the staging."""
        return os.path.join(self.staging, ".inputs")

    @property
    def temp_dir(self) -> str:
        return os.path.join(self.staging, ".temp")

    def staged_output(self, key: str, index: int = 0) -> str:
        return os.path.join(self.staging, check_path_id("output key", key) + (f"-{index}" if index else ""))

    def final_output(self, key: str, index: int = 0) -> str:
        check_path_id("node id", self.node_id)
        check_path_id("output key", key)
        return io.join(self.root, self.node_id, key, self.name + (f"-{index}" if index else ""))

    def prepare(self, keys: list[str]) -> dict[str, str]:
        """Create the empty staging directory of every output; returns key -> staged path."""
        os.makedirs(self.staging, exist_ok=True)
        paths = {key: self.staged_output(key) for key in keys}
        for path in paths.values():
            os.makedirs(path, exist_ok=True)
        os.makedirs(self.temp_dir, exist_ok=True)
        return paths

    def move_into_place(self, key: str, index: int, staged: str) -> str:
        """Rename a staged output to its final place; the place is new, never overwritten."""
        final = self.final_output(key, index)
        os.makedirs(os.path.dirname(final), exist_ok=True)
        if os.path.lexists(final):
            raise FileExistsError(f"{final} already exists: refusing to overwrite another attempt's output")
        os.rename(staged, final)
        return final

    def upload_into_place(self, key: str, index: int, staged: str) -> str:
        """Upload a locally staged output to its final URI (remote roots). The URI is new (the
        attempt name is unique), so nothing is overwritten; a crash half-way leaves a partial
        prefix that no LIVE artifact names, which ``discard`` (or the next run) deletes."""
        final = self.final_output(key, index)
        io.copy(staged, final)
        return final

    def discard(self, keys: list[str]) -> None:
        """Delete this attempt's staging and any output it already moved into place."""
        remove_inside(staging_guard(self.root), self.staging)
        for key in keys:
            for index in range(0, 64):
                final = self.final_output(key, index)
                if self.remote:
                    if not io.exists(final):
                        break
                    io.rmtree(final, root=self.root, missing_ok=True)
                    continue
                if not os.path.lexists(final):
                    break
                remove_inside(self.root, final)

    def fault_point(self, point: str) -> None:
        """Fault injection for the kill tests: SIGKILL this process at a named point."""
        if os.environ.get(FAULT_ENV) == f"{self.node_id}:{point}":
            os.kill(os.getpid(), signal.SIGKILL)


def staging_name(attempt: str, owner: str) -> str:
    return "@".join([attempt, *owner.split("|")]) if owner else attempt


def staging_owner(name: str) -> str | None:
    """The owner token spelled in a staging directory's name, None for another layout."""
    parts = name.split("@")
    return "|".join(parts[1:]) if len(parts) == 4 else None


def remove_inside(root: str, path: str) -> None:
    """rmtree, but only strictly inside root (a guard against any path mistake)."""
    real_root, real = os.path.realpath(root), os.path.realpath(path)
    if real == real_root or os.path.commonpath([real_root, real]) != real_root:
        raise RuntimeError(f"refusing to delete {path}: it is not inside the pipeline root {root}")
    if os.path.isdir(real) and not os.path.islink(path):
        shutil.rmtree(path, ignore_errors=True)
    elif os.path.lexists(path):
        os.remove(path)
