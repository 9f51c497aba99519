"""The cache key covers every beampipe module a node may run, and content, not paths."""
from __future__ import annotations

import os
import shutil

import beampipe
from beampipe.components.pusher import Pusher
from beampipe.metadata import layout
from beampipe.orchestration import cache
from tests.support.toy import Produce


def test_standard_components_hash_the_whole_package(tmp_path):
    """Pusher runs helpers in evaluator.py and proto/serving.py; Trainer runs fn_args.py:
    an edit anywhere in the package must change every standard component's key."""
    package = os.path.dirname(os.path.abspath(beampipe.__file__))
    copy = tmp_path / "beampipe"
    shutil.copytree(package, copy, ignore=shutil.ignore_patterns("__pycache__"))
    assert cache._python_sources(str(copy)) == cache._python_sources(package)
    assert cache.code_version(Pusher) == cache._python_sources(package)
    for helper in ("components/fn_args.py", "proto/serving.py", "components/evaluator.py"):
        edited = tmp_path / f"edit-{helper.replace('/', '_')}"
        shutil.copytree(copy, edited)
        with open(edited / helper, "a") as f:
            f.write("\n# an edit\n")
        assert cache._python_sources(str(edited)) != cache._python_sources(package), helper


def test_user_components_also_hash_their_own_file():
    version = cache.code_version(type(Produce()))
    assert version.startswith(cache.code_version(Pusher) + ":")
    assert version != cache.code_version(Pusher)


def test_fingerprint_is_content_and_relative_paths(tmp_path):
    a, b = tmp_path / "a", tmp_path / "b"
    split = layout.split_dir_name("train")
    for folder in (a, b):
        (folder / split).mkdir(parents=True)
        (folder / split / "data.gz").write_bytes(b"\x1f\x8b same bytes")
    assert cache.fingerprint_dir(str(a)) == cache.fingerprint_dir(str(b))
    (b / split / "data.gz").write_bytes(b"\x1f\x8b other bytes")
    assert cache.fingerprint_dir(str(a)) != cache.fingerprint_dir(str(b))
