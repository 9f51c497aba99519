"""Raw artifact files: only under the artifact's recorded URI. Each refusal is tested over
HTTP (``..``, encoded ``..``, encoded slashes, absolute paths, symlinks out) and in ``files``."""
from __future__ import annotations

import http.client
import os
from urllib.parse import urlsplit

import pytest

from beampipe.ui import files


def _raw_get(base: str, target: str) -> int:
    """GET with the request target exactly as given (urllib would not send some of these)."""
    parts = urlsplit(base)
    conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=30)
    try:
        conn.request("GET", target)
        return conn.getresponse().status
    finally:
        conn.close()


@pytest.fixture
def examples(site):
    """(artifact id, its directory) of the first run's Examples, with a link out and a link in."""
    [(art, _)] = [(a, n) for a, n in site.store.artifacts_in_run(site.runs["ok"]) if n == "MakeData"]
    secret = os.path.join(site.root, "secret.txt")
    with open(secret, "w") as f:
        f.write("not yours")
    for name, target in (("link-out", secret), ("dir-out", site.root), ("link-in", "data.txt")):
        if not os.path.lexists(os.path.join(art.uri, name)):
            os.symlink(target, os.path.join(art.uri, name))
    return art.id, art.uri


@pytest.mark.parametrize("target", [
    "/artifacts/{id}/files/../../secret.txt",
    "/artifacts/{id}/files/%2e%2e/%2e%2e/secret.txt",
    "/artifacts/{id}/files/..%2f..%2fsecret.txt",
    "/artifacts/{id}/files/Split-train%2Fpart.txt",
    "/artifacts/{id}/files/Split-train%5cpart.txt",
    "/artifacts/{id}/files//etc/passwd",
    "/artifacts/{id}/files/%2fetc%2fpasswd",
    "/artifacts/{id}/files/link-out",
    "/artifacts/{id}/files/dir-out/secret.txt",
])
def test_paths_leaving_the_artifact_are_refused(site, examples, target):
    art_id, _ = examples
    assert _raw_get(site.base, target.format(id=art_id)) == 403


def test_files_inside_are_served_and_links_out_are_not_listed(site, examples):
    art_id, _ = examples
    assert _raw_get(site.base, f"/artifacts/{art_id}/files/link-in") == 200  # a link that stays inside
    assert _raw_get(site.base, f"/artifacts/{art_id}/files/data.txt") == 200
    assert _raw_get(site.base, f"/artifacts/{art_id}/files/nope.txt") == 404
    _, html, _ = site.get(f"/artifacts/{art_id}")
    assert "files/link-in" in html and "link-out" not in html and "dir-out" not in html


def test_check_relpath_and_resolve(tmp_path):
    (tmp_path / "a").mkdir()
    (tmp_path / "a" / "f.txt").write_text("x")
    assert files.resolve(str(tmp_path), "a/f.txt") == str(tmp_path / "a" / "f.txt")
    for bad in ["../x", "a/../../x", "/etc/passwd", "a//f.txt", "a\\f.txt", "./a", "C:/x", "s3://b/k", "a/\x00"]:
        with pytest.raises(files.Refused):
            files.resolve(str(tmp_path), bad)
    assert files.has_encoded_separator("/a%2Fb") and files.has_encoded_separator("/a%5cb")
    assert not files.has_encoded_separator("/a%20b")


def test_log_paths_have_one_pattern():
    assert files.log_uri("/r", "run-1", "Trainer") == "/r/.beampipe/logs/run-1/Trainer.log"
    assert files.log_uri("/r", "../x", "Trainer") is None and files.log_uri("/r", "run", "a/b") is None
    assert files.log_uri(None, "run", "n") is None
    assert files.root_from_log_path("/r/.beampipe/logs/run/n.log", "run", "n") == "/r"
    assert files.root_from_log_path("/r/other/n.log", "run", "n") is None
