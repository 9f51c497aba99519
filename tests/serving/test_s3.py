"""Serving from an object store: versions pushed to s3:// (SeaweedFS) by Pusher's upload are
polled, localized through beampipe.io, loaded and swapped like local ones."""
from __future__ import annotations

import pytest

from tests.serving.conftest import ROW, start_server

pytestmark = pytest.mark.e2e


def test_serves_and_swaps_versions_pushed_to_s3(s3_server, penguin_model, tmp_path, monkeypatch):
    from beampipe.components.pusher import push_remote
    from beampipe.io import backends

    for key, value in s3_server.env.items():
        monkeypatch.setenv(key, value)
    backends.clear_cache()
    base = f"s3://{s3_server.bucket}/serving/penguin"
    first, _ = push_remote(penguin_model, base)
    srv = start_server(str(tmp_path), "--model-name", "penguin", "--model-base-path", base, env=s3_server.env)
    try:
        r = srv.post("/v1/models/penguin:predict", {"instances": [ROW]})
        assert r.status_code == 200 and r.headers["X-Model-Version"] == str(first)
        second, _ = push_remote(penguin_model, base)
        srv.wait_for(lambda: srv.post("/v1/models/penguin:predict", {"instances": [ROW]})
                     .headers.get("X-Model-Version") == str(second), timeout=60)
        srv.wait_for(lambda: srv.versions() == {str(second): "AVAILABLE", str(first): "END"})
    finally:
        srv.stop()
        backends.clear_cache()
