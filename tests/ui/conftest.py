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


# -- the browser tests (tests/ui/test_browser.py) ----------------------------------------------

@pytest.fixture(scope="session")
def browser():
    """Headless Chromium over the DevTools protocol (tests/support/chromium.py): skipped when
    no Chromium is installed, a failure in CI (``.ci/run`` installs Debian's chromium)."""
    pytest.importorskip("websocket", reason="websocket-client is not installed (the test extra)")
    from tests.conftest import _server
    from tests.support.chromium import Browser, find_chromium

    yield from _server("Chromium", "apt-get install chromium", find_chromium(), lambda b: Browser(b).start())


@pytest.fixture(scope="session")
def penguin_site(tmp_path_factory):
    """One real penguin run, a failed drift run, and the UI server over their SQLite store;
    ``site.store.second`` runs the penguin pipeline again in the background on demand."""
    from beampipe.metadata.store import MetadataStore
    from beampipe.ui.server import make_server
    from tests.ui import penguin_store

    base = tmp_path_factory.mktemp("penguin-ui")
    built = penguin_store.build(str(base / "root"))
    built.second = penguin_store.SecondRun(built.root, str(base / "second-run.log"))
    store = MetadataStore(built.uri)
    httpd = make_server(store, "127.0.0.1", 0, pipeline_root=built.root)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield Site(f"http://127.0.0.1:{httpd.server_address[1]}", built.root, built.uri, built.runs, built)
    finally:
        built.second.stop()
        httpd.shutdown()
        httpd.server_close()
        store.close()


@pytest.fixture(scope="session")
def screenshot_dir(tmp_path_factory) -> str:
    """Where the browser tests save their screenshots: $BEAMPIPE_SCREENSHOT_DIR, else a tmp dir."""
    path = os.environ.get("BEAMPIPE_SCREENSHOT_DIR") or str(tmp_path_factory.mktemp("screenshots"))
    os.makedirs(path, exist_ok=True)
    return path


SCREENSHOTS: list[str] = []


@pytest.fixture
def page(browser, penguin_site, screenshot_dir):
    """The browser over ``penguin_site`` (``page.site``; ``page.shot(name)`` saves a screenshot),
    its records cleared; after the test: no JavaScript error, no dialog (an alert would be an
    XSS that ran) and no Content-Security-Policy violation (something the page tried to run)."""
    browser.dialogs.clear()
    browser.errors.clear()
    browser.site = penguin_site

    def shot(name: str, **kw: Any) -> str:
        path = browser.screenshot(os.path.join(screenshot_dir, f"{name}.png"), **kw)
        SCREENSHOTS.append(path)
        print(f"screenshot: {path}")
        return path

    browser.shot = shot
    yield browser
    assert browser.dialogs == [], f"JavaScript dialogs opened: {browser.dialogs}"
    assert browser.errors == [], f"JavaScript errors: {browser.errors}"
    assert browser.csp_violations() == [], "the page tried to run something its CSP refused"


def pytest_terminal_summary(terminalreporter):
    if SCREENSHOTS:
        terminalreporter.write_line(f"browser screenshots ({len(SCREENSHOTS)}) in "
                                    f"{os.path.dirname(SCREENSHOTS[0])}: "
                                    + ", ".join(os.path.basename(p) for p in SCREENSHOTS))
