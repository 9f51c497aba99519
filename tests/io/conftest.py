"""Storage tests run one body against two backends: a local temp dir and a real S3 server."""
from __future__ import annotations

import os
import uuid

import pytest

from beampipe.io import backends

AWS_VARS = ("AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_S3", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY",
            "AWS_SESSION_TOKEN", "AWS_REGION", "AWS_DEFAULT_REGION", "AWS_PROFILE")

# A tree with nesting, a sibling whose name is a prefix of another's ("d" / "d-other"),
# names that sort differently as paths and per directory ("a/x" vs "b"), a space, a
# non-ASCII name, an empty file and a binary file.
TREE = {
    "b.txt": b"bee\n",
    "a/x.txt": b"ex\n",
    "a/sub/deep.bin": bytes(range(256)) * 8,
    "d/one.txt": b"1",
    "d-other/two.txt": b"2",
    "with space.txt": b"space",
    "\u00fcber.txt": "\u00fcber".encode(),
    "empty.txt": b"",
}


def write_tree(root: str, tree: dict[str, bytes] = TREE) -> None:
    from beampipe import io

    for rel, data in tree.items():
        io.write_bytes(io.join(root, rel), data)


@pytest.fixture
def s3_env(s3_server, monkeypatch):
    """The S3 server's AWS_* settings in os.environ, nothing else of AWS."""
    for name in AWS_VARS:
        monkeypatch.delenv(name, raising=False)
    for name, value in s3_server.env.items():
        monkeypatch.setenv(name, value)
    backends.clear_cache()
    yield s3_server
    backends.clear_cache()


@pytest.fixture
def s3_root(s3_env) -> str:
    """A fresh prefix on the test bucket, unique per test."""
    return f"s3://{s3_env.bucket}/t-{uuid.uuid4().hex[:12]}"


@pytest.fixture
def gs_root(gcs_server, monkeypatch) -> str:
    """A fresh prefix on the GCS emulator's bucket, unique per test."""
    monkeypatch.delenv("GOOGLE_APPLICATION_CREDENTIALS", raising=False)
    for name, value in gcs_server.env.items():
        monkeypatch.setenv(name, value)
    backends.clear_cache()
    yield f"gs://{gcs_server.bucket}/t-{uuid.uuid4().hex[:12]}"
    backends.clear_cache()


@pytest.fixture(params=["local", "s3", "gs"])
def root(request, tmp_path) -> str:
    """The same test body against a local directory, an s3:// prefix (SeaweedFS) and a
    gs:// prefix (the GCS emulator)."""
    if request.param == "local":
        path = tmp_path / "root"
        path.mkdir()
        return str(path)
    return request.getfixturevalue(f"{request.param}_root")


@pytest.fixture
def no_cloud_credentials(monkeypatch, tmp_path):
    """No AWS or Google credentials anywhere, and no metadata-server lookups (those
    would send requests off this machine)."""
    for name in AWS_VARS + ("GOOGLE_APPLICATION_CREDENTIALS", "STORAGE_EMULATOR_HOST", "GOOGLE_CLOUD_PROJECT"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    monkeypatch.setenv("AWS_CONFIG_FILE", os.devnull)
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", os.devnull)
    monkeypatch.setenv("CLOUDSDK_CONFIG", str(tmp_path / "gcloud"))
    monkeypatch.setenv("HOME", str(tmp_path))
    from google.auth.compute_engine import _metadata

    monkeypatch.setattr(_metadata, "_NO_GCE_CHECK", True)
    backends.clear_cache()
    yield
    backends.clear_cache()
