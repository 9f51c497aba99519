"""tfx.dsl.io.fileio: TFX's signatures and errors, on a local dir, SeaweedFS S3 and the GCS emulator."""
from __future__ import annotations

import pathlib

import pytest

import beampipe as tfx
from beampipe import io
from beampipe.io import fileio
from tests.io.conftest import write_tree


def test_reached_as_tfx_dsl_io_fileio():
    assert tfx.dsl.io.fileio is fileio
    assert issubclass(fileio.NotFoundError, IOError) and issubclass(fileio.NotFoundError, FileNotFoundError)


def test_open_write_read_text_and_bytes(root):
    path = io.join(root, "dir/note.txt")
    with fileio.open(path, "w") as f:
        f.write("gr\u00fc\u00dfe\n")
    with fileio.open(path) as f:  # default mode "r": text, as TFX's
        assert f.read() == "gr\u00fc\u00dfe\n"
    with fileio.open(path.encode(), "rb") as f:  # PathType includes bytes
        assert f.read() == "gr\u00fc\u00dfe\n".encode()
    with pytest.raises(fileio.NotFoundError):
        with fileio.open(io.join(root, "missing.txt")) as f:
            f.read()


def test_exists_isdir_glob_listdir(root):
    write_tree(root)
    assert fileio.exists(io.join(root, "a/x.txt")) and not fileio.isdir(io.join(root, "a/x.txt"))
    assert fileio.isdir(io.join(root, "a")) and fileio.exists(io.join(root, "a"))
    assert not fileio.exists(io.join(root, "nope")) and not fileio.isdir(io.join(root, "nope"))
    assert fileio.glob(io.join(root, "d*/*.txt")) == [io.join(root, "d-other/two.txt"), io.join(root, "d/one.txt")]
    assert fileio.glob(io.join(root, "nothing-*")) == []
    assert fileio.listdir(io.join(root, "a")) == ["sub", "x.txt"]
    with pytest.raises(fileio.NotFoundError):
        fileio.listdir(io.join(root, "nope"))


def test_makedirs_mkdir(root):
    fileio.makedirs(io.join(root, "m/n/o"))
    fileio.makedirs(io.join(root, "m/n/o"))  # existing is fine
    fileio.mkdir(io.join(root, "m/n/o/p"))
    with fileio.open(io.join(root, "m/n/o/p/f.txt"), "w") as f:
        f.write("x")
    assert fileio.listdir(io.join(root, "m/n/o")) == ["p"]
    if not io.is_remote(root):  # object stores have no empty directories to check against
        with pytest.raises(fileio.NotFoundError):
            fileio.mkdir(io.join(root, "no/parent"))
        with pytest.raises(FileExistsError):
            fileio.mkdir(io.join(root, "m"))


def test_copy_overwrite(root):
    src, dst = io.join(root, "src.txt"), io.join(root, "out/dst.txt")
    io.write_text(src, "one")
    fileio.copy(src, dst)
    assert io.read_text(dst) == "one"
    io.write_text(src, "two")
    with pytest.raises(OSError, match="already exists"):
        fileio.copy(src, dst)
    assert io.read_text(dst) == "one"
    fileio.copy(src, dst, overwrite=True)
    assert io.read_text(dst) == "two" and io.read_text(src) == "two"
    with pytest.raises(fileio.NotFoundError):
        fileio.copy(io.join(root, "missing"), io.join(root, "x"))


def test_copy_between_local_and_remote(root, tmp_path):
    local = tmp_path / "local.bin"
    local.write_bytes(b"\x00payload")
    there = io.join(root, "up/load.bin")
    fileio.copy(str(local), there)
    back = tmp_path / "back.bin"
    fileio.copy(there, str(back))
    assert back.read_bytes() == b"\x00payload"
    with pytest.raises(OSError, match="already exists"):
        fileio.copy(str(local), there)


def test_rename_file_and_directory(root):
    a, b = io.join(root, "a.txt"), io.join(root, "b.txt")
    io.write_text(a, "A")
    io.write_text(b, "B")
    with pytest.raises(OSError, match="already exists"):
        fileio.rename(a, b)
    fileio.rename(a, b, overwrite=True)
    assert not fileio.exists(a) and io.read_text(b) == "A"
    write_tree(io.join(root, "tree"), {"x/y.txt": b"y", "z.txt": b"z"})
    fileio.rename(io.join(root, "tree"), io.join(root, "moved"))
    assert not fileio.exists(io.join(root, "tree"))
    assert io.read_bytes(io.join(root, "moved/x/y.txt")) == b"y"
    with pytest.raises(fileio.NotFoundError):
        fileio.rename(io.join(root, "missing"), io.join(root, "elsewhere"))


def test_remove_and_rmtree(root):
    write_tree(root)
    fileio.remove(io.join(root, "b.txt"))
    assert not fileio.exists(io.join(root, "b.txt"))
    with pytest.raises(fileio.NotFoundError):
        fileio.remove(io.join(root, "b.txt"))
    fileio.rmtree(io.join(root, "a"))
    assert not fileio.exists(io.join(root, "a")) and fileio.exists(io.join(root, "d/one.txt"))
    with pytest.raises(fileio.NotFoundError):
        fileio.rmtree(io.join(root, "a"))


def test_rmtree_refuses_a_root():
    with pytest.raises(ValueError, match="root"):
        fileio.rmtree("/")
    with pytest.raises(ValueError, match="root"):
        fileio.rmtree("s3://some-bucket/")


def test_stat(root):
    io.write_bytes(io.join(root, "d/f.bin"), b"12345")
    st = fileio.stat(io.join(root, "d/f.bin"))
    assert (st.length, st.st_size, st.is_directory) == (5, 5, False)
    assert st.mtime_nsec > 0 and st.st_mtime > 1e9
    assert fileio.stat(io.join(root, "d")).is_directory
    with pytest.raises(fileio.NotFoundError):
        fileio.stat(io.join(root, "nope"))


def test_walk_top_down_bottom_up_and_missing(root):
    write_tree(root, {"a/sub/deep.txt": b"1", "a/x.txt": b"2", "b.txt": b"3"})
    rel = lambda d: "." if d == root else io.relative(d, root)  # noqa: E731
    assert [(rel(d), dirs, names) for d, dirs, names in fileio.walk(root)] == [
        (".", ["a"], ["b.txt"]), ("a", ["sub"], ["x.txt"]), ("a/sub", [], ["deep.txt"])]
    assert [rel(d) for d, _, _ in fileio.walk(root, topdown=False)] == ["a/sub", "a", "."]
    errors: list[OSError] = []
    assert list(fileio.walk(io.join(root, "nope"), onerror=errors.append)) == []
    assert len(errors) == 1 and isinstance(errors[0], fileio.NotFoundError)


def test_pathlib_paths(tmp_path):
    path = tmp_path / "p.txt"
    with fileio.open(path, "w") as f:
        f.write("x")
    assert fileio.exists(path) and fileio.stat(pathlib.Path(path)).length == 1
