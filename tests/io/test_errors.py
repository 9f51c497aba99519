"""What a user sees when storage fails: one clear error naming the URI and the server."""
from __future__ import annotations

import subprocess
import sys
import time

import pytest

from beampipe import io
from tests.support.seaweed import free_ports


def _assert_clear(error: BaseException, uri: str, *, secrets: tuple[str, ...] = ()) -> str:
    text = str(error)
    assert getattr(error, "filename", None) == uri and uri in text
    for secret in secrets:
        assert secret not in text and secret not in repr(error)
    return text


def test_wrong_secret_is_one_clear_error_naming_the_endpoint(s3_env, s3_root, monkeypatch):
    uri = io.join(s3_root, "f.txt")
    io.write_text(uri, "hello")
    wrong = "wrong-secret-" + s3_env.secret_key[:6]
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", wrong)
    for action in (lambda: io.read_text(uri), lambda: io.listdir(s3_root), lambda: io.exists(uri),
                   lambda: io.write_text(io.join(s3_root, "g.txt"), "x"), lambda: io.fingerprint(s3_root)):
        with pytest.raises(io.StorageAuthError) as e:
            action()
        text = _assert_clear(e.value, e.value.filename, secrets=(wrong, s3_env.secret_key))
        assert s3_env.endpoint in text and "AWS_SECRET_ACCESS_KEY" in text
        assert isinstance(e.value, PermissionError)


def test_unknown_access_key(s3_env, s3_root, monkeypatch):
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "nobody")
    with pytest.raises(io.StorageAuthError) as e:
        io.listdir(s3_root)
    assert s3_env.endpoint in str(e.value) and s3_env.secret_key not in str(e.value)


def test_no_credentials(s3_server, no_cloud_credentials, monkeypatch):
    monkeypatch.setenv("AWS_ENDPOINT_URL", s3_server.endpoint)
    uri = f"s3://{s3_server.bucket}/x"
    with pytest.raises(io.StorageAuthError) as e:
        io.exists(uri)
    text = _assert_clear(e.value, uri)
    assert "no credentials" in text and s3_server.endpoint in text and "AWS_ACCESS_KEY_ID" in text


def test_unreachable_endpoint(s3_env, monkeypatch):
    (port,) = free_ports(1)  # nothing listens there
    monkeypatch.setenv("AWS_ENDPOINT_URL", f"http://127.0.0.1:{port}")
    uri = f"s3://{s3_env.bucket}/x"
    started = time.time()
    with pytest.raises(io.StorageConnectionError) as e:
        io.read_bytes(uri)
    text = _assert_clear(e.value, uri, secrets=(s3_env.secret_key,))
    assert f"127.0.0.1:{port}" in text and "AWS_ENDPOINT_URL" in text
    assert time.time() - started < 60


def test_missing_key_and_bucket_name_the_uri(s3_env, s3_root):
    for uri in (io.join(s3_root, "no/such/key"), "s3://no-such-bucket-bp/x"):
        with pytest.raises(FileNotFoundError) as e:
            io.read_bytes(uri)
        _assert_clear(e.value, uri)
    with pytest.raises(FileNotFoundError) as e:  # a write: the bucket is found missing at close
        io.write_bytes("s3://no-such-bucket-bp/x", b"data")
    text = _assert_clear(e.value, "s3://no-such-bucket-bp/x")
    assert "bucket" in text.lower()
    assert not io.exists("s3://no-such-bucket-bp") and not io.exists("s3://no-such-bucket-bp/x")


def test_gs_without_gcsfs(no_cloud_credentials, monkeypatch):
    monkeypatch.setitem(sys.modules, "gcsfs", None)  # as if it were not installed
    with pytest.raises(io.BackendUnavailable, match=r"gs://bkt/x: gs:// needs the gcsfs package"):
        io.exists("gs://bkt/x")


def test_gs_without_credentials(no_cloud_credentials):
    """No key file, no gcloud login, not on GCE: one error naming the URI and what to set,
    raised before any request leaves the machine."""
    with pytest.raises(io.StorageAuthError) as e:
        io.listdir("gs://some-bucket/root")
    text = _assert_clear(e.value, "gs://some-bucket/root")
    assert "GOOGLE_APPLICATION_CREDENTIALS" in text


def test_unsupported_scheme_is_refused_before_any_io():
    with pytest.raises(ValueError, match="unsupported storage scheme 'hdfs://'"):
        io.exists("hdfs://namenode/x")


def test_importing_the_layer_loads_no_cloud_library():
    code = ("import sys, beampipe.io, beampipe.orchestration.cache; "
            "print(sorted(m for m in ('fsspec', 's3fs', 'gcsfs', 'botocore', 'aiobotocore', 'google.auth') "
            "if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
