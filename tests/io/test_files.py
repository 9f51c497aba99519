"""Every storage function, one body per test, run on a local dir and on SeaweedFS S3."""
from __future__ import annotations

import pytest

from beampipe import io
from tests.io.conftest import TREE, write_tree


def test_write_read_bytes_and_text(root):
    io.write_bytes(io.join(root, "x/data.bin"), b"\x00\x01binary")
    assert io.read_bytes(io.join(root, "x/data.bin")) == b"\x00\x01binary"
    io.write_text(io.join(root, "x/note.txt"), "gr\u00fc\u00dfe\nline 2\n")
    assert io.read_text(io.join(root, "x/note.txt")) == "gr\u00fc\u00dfe\nline 2\n"


def test_open_modes(root):
    uri = io.join(root, "deep/er/file.txt")  # no makedirs: a write creates local parents too
    with io.open(uri, "w") as f:
        f.write("one\n")
        f.write("two\n")
    with io.open(uri, "r") as f:
        assert [line for line in f] == ["one\n", "two\n"]
    with io.open(uri, "rb") as f:
        assert f.read(3) == b"one"
        assert f.read() == b"\ntwo\n"
    with io.open(uri, "wb") as f:
        f.write(b"replaced")
    assert io.read_bytes(uri) == b"replaced"
    with pytest.raises(ValueError, match="mode"):
        io.open(uri, "r+")


@pytest.mark.parametrize("mode", ["wb", "w"])
def test_a_failed_write_leaves_nothing_remote_and_partial_local(root, mode):
    uri = io.join(root, "half.txt")
    with pytest.raises(RuntimeError):
        with io.open(uri, mode) as f:
            f.write(b"partial" if mode == "wb" else "partial")
            raise RuntimeError("the executor failed")
    if io.is_remote(root):
        assert not io.exists(uri)  # an object appears whole at close, or not at all
    else:
        assert io.read_bytes(uri) == b"partial"  # a local file keeps what was written


def test_exists_isfile_isdir(root):
    write_tree(root)
    assert io.exists(root) and io.isdir(root) and not io.isfile(root)
    assert io.exists(io.join(root, "a/x.txt")) and io.isfile(io.join(root, "a/x.txt"))
    assert not io.isdir(io.join(root, "a/x.txt"))
    assert io.isdir(io.join(root, "a")) and io.isdir(io.join(root, "a/sub"))
    assert io.isfile(io.join(root, "empty.txt"))
    for missing in ("nope", "a/nope.txt", "a/su", "d-"):  # "a/su" and "d-" are only name prefixes
        assert not io.exists(io.join(root, missing)), missing
        assert not io.isfile(io.join(root, missing)) and not io.isdir(io.join(root, missing))


def test_listdir(root):
    write_tree(root)
    assert io.listdir(root) == sorted(["a", "b.txt", "d", "d-other", "empty.txt", "with space.txt",
                                       "\u00fcber.txt"])
    assert io.listdir(io.join(root, "a")) == ["sub", "x.txt"]
    with pytest.raises(FileNotFoundError) as e:
        io.listdir(io.join(root, "nope"))
    assert e.value.filename == io.join(root, "nope")
    with pytest.raises(NotADirectoryError):
        io.listdir(io.join(root, "b.txt"))


def test_walk_is_os_walk_order_and_prunes(root):
    write_tree(root)
    seen = [(io.relative(d, root) if d != root else ".", dirs, files) for d, dirs, files in io.walk(root)]
    assert seen == [
        (".", ["a", "d", "d-other"], ["b.txt", "empty.txt", "with space.txt", "\u00fcber.txt"]),
        ("a", ["sub"], ["x.txt"]),
        ("a/sub", [], ["deep.bin"]),
        ("d", [], ["one.txt"]),
        ("d-other", [], ["two.txt"]),
    ]
    pruned = []
    for d, dirs, _files in io.walk(root):
        dirs[:] = [x for x in dirs if x != "a"]
        pruned.append(d)
    assert io.join(root, "a") not in pruned and io.join(root, "a/sub") not in pruned
    assert list(io.walk(io.join(root, "nope"))) == []


def test_glob(root):
    write_tree(root)
    assert io.glob(io.join(root, "*.txt")) == sorted(
        io.join(root, n) for n in ("b.txt", "empty.txt", "with space.txt", "\u00fcber.txt"))
    assert io.glob(io.join(root, "d*")) == [io.join(root, "d"), io.join(root, "d-other")]
    assert io.glob(io.join(root, "**/deep.bin")) == [io.join(root, "a/sub/deep.bin")]
    assert io.glob(io.join(root, "nothing-*")) == []


def test_makedirs_then_write(root):
    io.makedirs(io.join(root, "m/n"))
    io.makedirs(io.join(root, "m/n"))  # twice is fine
    io.write_bytes(io.join(root, "m/n/f"), b"f")
    assert io.isdir(io.join(root, "m"))


def test_stat_and_size(root):
    write_tree(root)
    st = io.stat(io.join(root, "a/sub/deep.bin"))
    assert (st.size, st.is_dir) == (2048, False) and st.mtime is not None
    assert io.stat(io.join(root, "a")).is_dir
    assert io.size(io.join(root, "a/x.txt")) == 3
    assert io.size(io.join(root, "a")) == 3 + 2048
    assert io.size(root) == sum(len(v) for v in TREE.values())
    for fn in (io.stat, io.size):
        with pytest.raises(FileNotFoundError):
            fn(io.join(root, "nope"))


def test_usage_counts_files_bytes_and_the_latest_change(root):
    import time

    before = time.time() - 5  # object stores stamp with the server's clock, to the second
    write_tree(io.join(root, "t"))
    found = io.usage(io.join(root, "t"))
    assert (found.files, found.bytes) == (len(TREE), sum(len(v) for v in TREE.values()))
    assert found.newest is not None and before <= found.newest <= time.time() + 5
    assert io.usage(io.join(root, "t/a")).files == 2
    with pytest.raises(FileNotFoundError):
        io.usage(io.join(root, "nothing-here"))


def test_copy_file_and_tree_within_a_backend(root):
    write_tree(root)
    io.copy(io.join(root, "a/x.txt"), io.join(root, "copies/x2.txt"))
    assert io.read_bytes(io.join(root, "copies/x2.txt")) == b"ex\n"
    io.copy(io.join(root, "a"), io.join(root, "copies/a"))
    assert io.read_bytes(io.join(root, "copies/a/sub/deep.bin")) == TREE["a/sub/deep.bin"]
    assert io.listdir(io.join(root, "copies/a")) == ["sub", "x.txt"]
    with pytest.raises(FileNotFoundError):
        io.copy(io.join(root, "nope"), io.join(root, "copies/nope"))


def test_rename_file_and_tree(root):
    write_tree(root)
    io.rename(io.join(root, "b.txt"), io.join(root, "moved/b.txt"))
    assert not io.exists(io.join(root, "b.txt"))
    assert io.read_bytes(io.join(root, "moved/b.txt")) == b"bee\n"
    io.rename(io.join(root, "a"), io.join(root, "a2"))
    assert not io.exists(io.join(root, "a"))
    assert io.read_bytes(io.join(root, "a2/sub/deep.bin")) == TREE["a/sub/deep.bin"]
    with pytest.raises(FileExistsError):
        io.rename(io.join(root, "d"), io.join(root, "d-other"))
    with pytest.raises(FileNotFoundError):
        io.rename(io.join(root, "nope"), io.join(root, "nope2"))
    assert io.rename_is_atomic(io.join(root, "d"), io.join(root, "d3")) is (not io.is_remote(root))


def test_remove(root):
    write_tree(root)
    io.remove(io.join(root, "b.txt"))
    assert not io.exists(io.join(root, "b.txt"))
    with pytest.raises(FileNotFoundError) as e:
        io.remove(io.join(root, "b.txt"))
    assert e.value.filename == io.join(root, "b.txt")
    with pytest.raises(IsADirectoryError):
        io.remove(io.join(root, "a"))


def test_rmtree_deletes_only_inside_root(root):
    write_tree(root)
    io.rmtree(io.join(root, "d"), root=root)
    assert not io.exists(io.join(root, "d"))
    assert io.read_bytes(io.join(root, "d-other/two.txt")) == b"2"  # the sibling prefix survives
    assert "d" not in io.listdir(root)
    with pytest.raises(FileNotFoundError):
        io.rmtree(io.join(root, "d"), root=root)
    io.rmtree(io.join(root, "d"), root=root, missing_ok=True)
    with pytest.raises(NotADirectoryError):
        io.rmtree(io.join(root, "b.txt"), root=root)
    for outside in (root, io.join(root, ".."), io.join(root, "a/../../x"), io.dirname(root) + "/x",
                    "s3://another-bucket/x", "/tmp"):
        with pytest.raises(io.UnsafeDeleteError, match="refusing to delete"):
            io.rmtree(outside, root=root)  # the root itself too
    assert io.exists(io.join(root, "a/x.txt"))
    io.rmtree(io.join(root, "a"), root=root)
    assert not io.exists(io.join(root, "a/sub/deep.bin")) and not io.isdir(io.join(root, "a"))


def test_missing_file_error_names_the_uri(root):
    uri = io.join(root, "no/such.txt")
    with pytest.raises(FileNotFoundError) as e:
        io.read_bytes(uri)
    assert e.value.filename == uri and uri in str(e.value)
