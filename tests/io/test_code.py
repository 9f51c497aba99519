"""Code bundles under <root>/_code/<sha256>/: content addressed, complete or absent, checked on fetch."""
from __future__ import annotations

import os

import pytest

from beampipe import io
from beampipe.io import code


def _module_dir(tmp_path, **files: str) -> str:
    folder = tmp_path / "src"
    folder.mkdir(exist_ok=True)
    for name, text in files.items():
        path = folder / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return str(folder)


def test_bundle_is_the_folders_python_files_and_packages(tmp_path):
    src = _module_dir(tmp_path, **{"utils.py": "X = 1\n", "helper.py": "Y = 2\n", "data.csv": "a,b\n",
                                   "pkg/__init__.py": "", "pkg/inner.py": "Z = 3\n",
                                   "notapkg/loose.py": "W = 4\n"})
    bundle = code.bundle_of(os.path.join(src, "utils.py"))
    assert bundle.names == ("helper.py", "pkg/__init__.py", "pkg/inner.py", "utils.py")
    # The same code elsewhere has the same digest; one changed byte gives another.
    other = tmp_path / "copy"
    other.mkdir()
    for name in bundle.names:
        (other / name).parent.mkdir(parents=True, exist_ok=True)
        (other / name).write_text(open(os.path.join(src, name)).read())
    assert code.bundle_of(str(other / "helper.py")).digest == bundle.digest
    (other / "pkg" / "inner.py").write_text("Z = 4\n")
    assert code.bundle_of(str(other / "helper.py")).digest != bundle.digest


def test_ship_then_fetch_on_every_backend(tmp_path, root):
    src = _module_dir(tmp_path, **{"utils.py": "from helper import Y\nX = Y + 1\n", "helper.py": "Y = 2\n"})
    shipped = code.ship(os.path.join(src, "utils.py"), root)
    digest = code.bundle_of(os.path.join(src, "utils.py")).digest
    assert shipped == io.join(root, "_code", digest, "utils.py") and code.is_shipped(shipped)
    assert sorted(io.listdir(io.join(root, "_code", digest))) == ["MANIFEST.json", "helper.py", "utils.py"]
    assert code.ship(os.path.join(src, "utils.py"), root) == shipped  # idempotent
    local = code.local_copy(shipped)
    assert open(local).read().startswith("from helper import Y")
    assert open(os.path.join(os.path.dirname(local), "helper.py")).read() == "Y = 2\n"
    assert code.bundle_digest(shipped) == code.bundle_digest(os.path.join(src, "utils.py")) == digest


def test_tampered_or_incomplete_bundles_are_refused(tmp_path, s3_root):
    src = _module_dir(tmp_path, **{"utils.py": "X = 1\n"})
    shipped = code.ship(os.path.join(src, "utils.py"), s3_root)
    io.write_text(shipped, "X = 666\n")  # someone edits the shipped copy
    with pytest.raises(code.CodeError, match="does not match its digest"):
        code.local_copy(shipped)
    (tmp_path / "src" / "utils.py").write_text("X = 2\n")  # new code, new bundle; lose its manifest
    second = code.ship(os.path.join(src, "utils.py"), s3_root)
    io.remove(io.join(io.dirname(second), "MANIFEST.json"))
    with pytest.raises(code.CodeError, match="missing or incomplete.*recompile"):
        code.local_copy(second)


def test_a_local_root_bundle_is_used_in_place_and_checked(tmp_path):
    src = _module_dir(tmp_path, **{"utils.py": "X = 1\n"})
    root = str(tmp_path / "root")
    shipped = code.ship(os.path.join(src, "utils.py"), root)
    assert code.local_copy(shipped) == shipped
    with open(shipped, "w") as f:
        f.write("X = 2\n")
    with pytest.raises(code.CodeError, match="does not match its digest"):
        code.local_copy(shipped)


def test_too_big_a_folder_is_refused_with_advice(tmp_path, monkeypatch):
    src = _module_dir(tmp_path, **{f"m{i}.py": "" for i in range(5)})
    monkeypatch.setattr(code, "MAX_FILES", 3)
    with pytest.raises(code.CodeError, match="folder of its own"):
        code.bundle_of(os.path.join(src, "m0.py"))


def test_a_module_file_anywhere_remote_is_fetched_with_its_siblings(tmp_path, s3_root):
    io.write_text(io.join(s3_root, "lib", "utils.py"), "from helper import Y\n")
    io.write_text(io.join(s3_root, "lib", "helper.py"), "Y = 2\n")
    io.write_text(io.join(s3_root, "lib", "notes.txt"), "not code")
    local = code.local_copy(io.join(s3_root, "lib", "utils.py"))
    assert sorted(os.listdir(os.path.dirname(local))) == ["helper.py", "utils.py"]
