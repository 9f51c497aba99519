"""URI parsing: strict, so that a remote root is never mistaken for a local path."""
from __future__ import annotations

import pathlib

import pytest

from beampipe import io


@pytest.mark.parametrize("uri, scheme, bucket, key", [
    ("s3://bucket/a/b", "s3", "bucket", "a/b"),
    ("s3://bucket/a/b/", "s3", "bucket", "a/b"),
    ("S3://bucket", "s3", "bucket", ""),
    ("gs://my.bucket-1/x", "gs", "my.bucket-1", "x"),
    ("gs://b_k/x", "gs", "b_k", "x"),
    ("/abs/path", "file", "", "/abs/path"),
    ("relative/path", "file", "", "relative/path"),
    ("file:///abs/path", "file", "", "/abs/path"),
])
def test_parse(uri, scheme, bucket, key):
    loc = io.parse(uri)
    assert (loc.scheme, loc.bucket, loc.key) == (scheme, bucket, key)
    assert loc.is_remote == (scheme != "file") == io.is_remote(uri)


def test_paths_and_normalize():
    assert io.parse(pathlib.Path("/x/y")).key == "/x/y"
    assert io.parse("s3://bkt/k/").path == "bkt/k" and io.parse("gs://bkt").path == "bkt"
    assert io.normalize("S3://bucket/a/") == "s3://bucket/a"
    assert io.normalize("file:///tmp/x") == "/tmp/x"


@pytest.mark.parametrize("bad, match", [
    ("hdfs://nn/x", "unsupported storage scheme 'hdfs://'"),
    ("http://host/x", "unsupported storage scheme"),
    ("s3://", "not a valid s3:// bucket"),
    ("s3:///key", "not a valid s3:// bucket"),
    ("gs://UPPER/x", "not a valid gs:// bucket"),
    ("s3://b!/x", "not a valid"),
    ("s3://bucket/a//b", "empty path segment"),
    ("file://relative", "absolute path"),
    ("", "non-empty"),
])
def test_parse_refuses(bad, match):
    with pytest.raises(ValueError, match=match):
        io.parse(bad)


def test_join_dirname_basename_relative():
    assert io.join("s3://bkt/root", "n", "k/") == "s3://bkt/root/n/k"
    assert io.join("s3://bkt", "n") == "s3://bkt/n"
    assert io.join("gs://bkt/r/", "/x") == "gs://bkt/r/x"
    assert io.join("/tmp/r", "n", "k") == "/tmp/r/n/k"
    assert io.dirname("s3://bkt/r/n") == "s3://bkt/r" and io.dirname("s3://bkt/r") == "s3://bkt"
    assert io.basename("gs://bkt/r/file.txt") == "file.txt" and io.basename("/x/y") == "y"
    assert io.relative("s3://bkt/r/n/k", "s3://bkt/r") == "n/k"
    assert io.relative("s3://bkt/r/n", "s3://bkt") == "r/n"
    with pytest.raises(ValueError):
        io.relative("s3://bkt/other", "s3://bkt/r")


def test_is_within():
    assert io.is_within("s3://bkt/r/x", "s3://bkt/r")
    assert io.is_within("s3://bkt/r", "s3://bkt/r") and not io.is_within("s3://bkt/r", "s3://bkt/r", strictly=True)
    assert not io.is_within("s3://bkt/rr/x", "s3://bkt/r")  # a name prefix is not a parent
    assert not io.is_within("s3://bkt/r/../x", "s3://bkt/r")
    assert not io.is_within("gs://bkt/r/x", "s3://bkt/r") and not io.is_within("s3://cde/r/x", "s3://bkt/r")
    assert not io.is_within("/tmp/r/x", "s3://bkt/r")
    assert io.is_within("s3://bkt/anything", "s3://bkt", strictly=True)


def test_is_within_resolves_local_symlinks(tmp_path):
    (tmp_path / "root").mkdir()
    (tmp_path / "elsewhere").mkdir()
    (tmp_path / "root" / "link").symlink_to(tmp_path / "elsewhere")
    assert not io.is_within(str(tmp_path / "root" / "link"), str(tmp_path / "root"))
    assert io.is_within(str(tmp_path / "root" / "x" / ".."/ "y"), str(tmp_path / "root"))
    with pytest.raises(io.UnsafeDeleteError):
        io.rmtree(str(tmp_path / "root" / "link"), root=str(tmp_path / "root"))
    assert (tmp_path / "elsewhere").exists()
