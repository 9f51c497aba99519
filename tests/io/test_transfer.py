"""Trees across backends: copies both ways, fingerprints, localize and upload."""
from __future__ import annotations

import hashlib
import os

import pytest

from beampipe import io
from beampipe.orchestration import cache
from tests.io.conftest import TREE, write_tree


def reference_fingerprint(path: str) -> str:
    """The algorithm cache.fingerprint_dir had before it moved into beampipe.io, verbatim:
    fingerprints already recorded in users' stores must not change."""
    def hash_file(digest, p):
        with open(p, "rb") as f:
            for chunk in iter(lambda: f.read(1 << 20), b""):
                digest.update(chunk)
        digest.update(b"\0")

    digest = hashlib.sha256()
    if os.path.isfile(path):
        hash_file(digest, path)
        return digest.hexdigest()
    for root, dirs, files in os.walk(path):
        dirs.sort()
        for name in sorted(files):
            full = os.path.join(root, name)
            digest.update(os.path.relpath(full, path).encode() + b"\0")
            hash_file(digest, full)
    return digest.hexdigest()


def tree_of(uri: str) -> dict[str, bytes]:
    return {io.relative(io.join(d, n), uri): io.read_bytes(io.join(d, n))
            for d, _, names in io.walk(uri) for n in names}


def test_local_fingerprint_is_the_old_algorithm(tmp_path):
    write_tree(str(tmp_path / "t"))
    (tmp_path / "t" / "empty-dir").mkdir()
    for path in (str(tmp_path / "t"), str(tmp_path / "t") + "/", str(tmp_path / "t" / "a" / "x.txt")):
        assert io.fingerprint(path) == reference_fingerprint(path) == cache.fingerprint_dir(path)
    assert io.fingerprint(str(tmp_path / "missing")) == hashlib.sha256().hexdigest()


def test_copy_trees_both_ways_and_fingerprints_agree(tmp_path, s3_root):
    local = str(tmp_path / "src")
    write_tree(local)
    io.copy(local, io.join(s3_root, "up"))  # local -> s3
    assert tree_of(io.join(s3_root, "up")) == TREE
    io.copy(io.join(s3_root, "up"), io.join(s3_root, "server-side"))  # s3 -> s3
    io.copy(io.join(s3_root, "server-side"), str(tmp_path / "down"))  # s3 -> local
    assert tree_of(str(tmp_path / "down")) == TREE
    expected = reference_fingerprint(local)
    for uri in (local, io.join(s3_root, "up"), io.join(s3_root, "server-side"), str(tmp_path / "down")):
        assert io.fingerprint(uri) == expected, uri
    # one file, and an edit anywhere changes it
    assert io.fingerprint(io.join(s3_root, "up/a/x.txt")) == reference_fingerprint(os.path.join(local, "a", "x.txt"))
    io.write_bytes(io.join(s3_root, "up/a/sub/deep.bin"), b"changed")
    assert io.fingerprint(io.join(s3_root, "up")) != expected


def test_fingerprint_of_many_small_and_some_large_remote_files(tmp_path, s3_root, monkeypatch):
    """Small files are fetched in concurrent batches, large ones streamed: same digest."""
    from beampipe.io import hashing as fp

    monkeypatch.setattr(fp, "_SMALL", 100)  # so that the test's files take both paths
    monkeypatch.setattr(fp, "_BATCH_FILES", 4)
    tree = {f"part-{i:03d}": os.urandom(50 if i % 7 else 300) for i in range(40)}
    write_tree(str(tmp_path / "src"), tree)
    io.upload_dir(str(tmp_path / "src"), s3_root)
    assert io.fingerprint(s3_root) == reference_fingerprint(str(tmp_path / "src"))


def test_copy_single_files_across_backends(tmp_path, s3_root):
    src = tmp_path / "one.bin"
    src.write_bytes(b"payload")
    io.copy(str(src), io.join(s3_root, "x/one.bin"))
    io.copy(io.join(s3_root, "x/one.bin"), str(tmp_path / "back" / "one.bin"))
    assert (tmp_path / "back" / "one.bin").read_bytes() == b"payload"


def test_rename_across_backends_is_copy_then_delete(tmp_path, s3_root):
    write_tree(str(tmp_path / "src"))
    assert not io.rename_is_atomic(str(tmp_path / "src"), io.join(s3_root, "moved"))
    io.rename(str(tmp_path / "src"), io.join(s3_root, "moved"))
    assert not (tmp_path / "src").exists()
    assert tree_of(io.join(s3_root, "moved")) == TREE


def test_localize_downloads_to_scratch_and_removes_it(tmp_path, s3_root):
    write_tree(s3_root)
    scratch = tmp_path / "scratch"
    scratch.mkdir()
    with io.localize(io.join(s3_root, "a"), scratch_dir=str(scratch)) as local:
        assert os.path.isdir(local) and os.path.basename(local) == "a"
        assert open(os.path.join(local, "sub", "deep.bin"), "rb").read() == TREE["a/sub/deep.bin"]
    with io.localize(io.join(s3_root, "b.txt"), scratch_dir=str(scratch)) as local:
        assert open(local, "rb").read() == b"bee\n"
    assert list(scratch.iterdir()) == []  # nothing left behind
    with pytest.raises(FileNotFoundError) as e:
        with io.localize(io.join(s3_root, "nope"), scratch_dir=str(scratch)):
            pass
    assert e.value.filename == io.join(s3_root, "nope")
    assert list(scratch.iterdir()) == []


def test_localize_of_a_local_path_is_the_path_itself(tmp_path):
    write_tree(str(tmp_path / "t"))
    with io.localize(str(tmp_path / "t")) as local:
        assert local == str(tmp_path / "t")
    assert (tmp_path / "t" / "b.txt").exists()  # not removed
    with pytest.raises(FileNotFoundError):
        with io.localize(str(tmp_path / "nope")):
            pass


def test_local_output_uploads_on_success_only(tmp_path, s3_root):
    scratch = tmp_path / "scratch"
    scratch.mkdir()
    with io.local_output(io.join(s3_root, "out"), scratch_dir=str(scratch)) as local:
        write_tree(local)
    assert tree_of(io.join(s3_root, "out")) == TREE
    with pytest.raises(RuntimeError):
        with io.local_output(io.join(s3_root, "failed"), scratch_dir=str(scratch)) as local:
            write_tree(local)
            raise RuntimeError("the library failed")
    assert not io.exists(io.join(s3_root, "failed"))
    assert list(scratch.iterdir()) == []
    with io.local_output(str(tmp_path / "here")) as local:  # local: written in place
        assert local == str(tmp_path / "here") and os.path.isdir(local)


def test_upload_dir(tmp_path, s3_root):
    write_tree(str(tmp_path / "t"))
    io.upload_dir(str(tmp_path / "t"), s3_root)
    assert io.fingerprint(s3_root) == reference_fingerprint(str(tmp_path / "t"))
    with pytest.raises(NotADirectoryError):
        io.upload_dir(str(tmp_path / "t" / "b.txt"), s3_root)


def test_trees_move_between_s3_and_gs_with_one_fingerprint(tmp_path, s3_root, gs_root):
    local = str(tmp_path / "src")
    write_tree(local)
    io.copy(local, io.join(gs_root, "up"))                       # local -> gs
    io.copy(io.join(gs_root, "up"), io.join(s3_root, "from-gs"))  # gs -> s3, streamed through here
    io.copy(io.join(s3_root, "from-gs"), io.join(gs_root, "back"))  # s3 -> gs
    io.copy(io.join(gs_root, "back"), str(tmp_path / "down"))    # gs -> local
    expected = reference_fingerprint(local)
    for uri in (io.join(gs_root, "up"), io.join(s3_root, "from-gs"), io.join(gs_root, "back"),
                str(tmp_path / "down")):
        assert io.fingerprint(uri) == expected, uri
    assert tree_of(str(tmp_path / "down")) == TREE
    with io.localize(io.join(gs_root, "up/a")) as local_a:
        assert sorted(os.listdir(local_a)) == ["sub", "x.txt"]
