"""A real store for the UI tests: three runs of tests/ui/ui_pipeline.py (complete, partly
cached with other parameters, failed), plus a run left RUNNING for the live updates; on
SQLite and on PostgreSQL. The UI server runs in a thread on a free port."""
from __future__ import annotations

import os
import threading
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from typing import Any

import pytest

from tests.ui import ui_pipeline


@dataclass
class Site:
    base: str
    root: str
    uri: str
    runs: dict[str, str]  # "ok", "other", "failed", "live" -> run id
    store: Any
    artifacts: dict[str, int] = field(default_factory=dict)

    def get(self, path: str, method: str = "GET") -> tuple[int, str, dict[str, str]]:
        req = urllib.request.Request(self.base + path, method=method)
        try:
            with urllib.request.urlopen(req, timeout=30) as resp:
                return resp.status, resp.read().decode("utf-8", "replace"), dict(resp.headers)
        except urllib.error.HTTPError as err:
            return err.code, err.read().decode("utf-8", "replace"), dict(err.headers)


def _build(root: str, metadata_uri: str | None) -> tuple[str, dict[str, str]]:
    from beampipe.orchestration.local_runner import LocalDagRunner

    pipe = ui_pipeline.make_pipeline(root, metadata_uri)
    pipe.source_file = os.path.abspath(ui_pipeline.__file__)
    runner = LocalDagRunner(parallelism=1)
    ok = runner.run(pipe, params={"steps": 100})
    other = runner.run(pipe, params={"steps": 300})
    failed = runner.run(pipe, params={"steps": 300, "fail": 1})
    assert (ok.status, other.status, failed.status) == ("COMPLETE", "COMPLETE", "FAILED")
    return pipe.metadata_uri, {"ok": ok.run_id, "other": other.run_id, "failed": failed.run_id}


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def site(request, tmp_path_factory):
    from beampipe.metadata.store import MetadataStore
    from beampipe.ui.server import make_server

    root = str(tmp_path_factory.mktemp(f"ui-{request.param}"))
    if request.param == "postgresql":
        server = request.getfixturevalue("postgres_server")
        # a database per module: each builds its own runs (a shared one would serve them from cache)
        uri, runs = _build(root, server.uri(f"ui_{request.module.__name__.rsplit('.', 1)[-1]}"))
    else:
        uri, runs = _build(root, None)
    writer = MetadataStore(uri)  # the test's own writes (the live run); the UI gets its own store
    writer.set_run_state("ui-test", "ui-test-live-run", "RUNNING", nodes='["MakeData"]', params='{"steps": 7}')
    runs["live"] = "ui-test-live-run"
    store = MetadataStore(uri)
    httpd = make_server(store, "127.0.0.1", 0, pipeline_root=None)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield Site(f"http://127.0.0.1:{httpd.server_address[1]}", root, uri, runs, writer)
    httpd.shutdown()
    httpd.server_close()
    store.close()
    writer.close()
