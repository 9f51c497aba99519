"""The HTTP side of ``beampipe ui``: Python's ThreadingHTTPServer (no server dependency),
GET and HEAD only, routes to ``pages``. Every answer carries a Content-Security-Policy that
allows only this server's own script and styles, so even a string that escaped escaping
could not run; raw artifact files are additionally sandboxed."""
from __future__ import annotations

import os
import re
import sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl, unquote, urlsplit

from beampipe.metadata.connection import redact
from beampipe.metadata.store import MetadataStore
from beampipe.ui import files, templates
from beampipe.ui.pages import App, NotFound, Response

CSP = ("default-src 'none'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; "
       "connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'")
STATIC = {"ui.css": "text/css; charset=utf-8", "ui.js": "text/javascript; charset=utf-8"}
_RUN = re.compile(r"^/runs/([^/]+)$")
_RUN_API = re.compile(r"^/api/runs/([^/]+)$")
_ARTIFACT = re.compile(r"^/artifacts/(\d+)(/lineage|/files(?:/(.*))?)?$")


class UIServer(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, address: tuple[str, int], app: App) -> None:
        self.app = app
        super().__init__(address, Handler)


class Handler(BaseHTTPRequestHandler):
    server: UIServer
    server_version = "beampipe-ui"
    sys_version = ""

    def do_GET(self) -> None:  # noqa: N802 - http.server's name
        self._answer(head=False)

    def do_HEAD(self) -> None:  # noqa: N802
        self._answer(head=True)

    def _refuse_method(self) -> None:
        self._send(Response(405, b"read-only: GET and HEAD only\n", "text/plain; charset=utf-8",
                            {"Allow": "GET, HEAD"}), head=False)

    do_POST = do_PUT = do_DELETE = do_PATCH = _refuse_method  # noqa: N815

    def _answer(self, head: bool) -> None:
        app = self.server.app
        try:
            response = route(app, self.path)
        except NotFound as err:
            response = app.error(404, "Not Found", str(err))
        except files.Refused as err:
            response = app.error(403, "Forbidden", f"refused: {err}")
        except Exception as err:  # noqa: BLE001 - one line in the page and the console, never a traceback page
            message = redact(f"{type(err).__name__}: {err}")
            print(f"beampipe ui: {self.path}: {message}", file=sys.stderr)
            response = app.error(500, "Internal Server Error", message)
        self._send(response, head)

    def _send(self, response: Response, head: bool) -> None:
        self.send_response(response.status)
        headers = {"Content-Type": response.content_type, "Content-Length": str(len(response.body)),
                   "X-Content-Type-Options": "nosniff", "Referrer-Policy": "no-referrer",
                   "Content-Security-Policy": CSP, **response.headers}
        for key, value in headers.items():
            self.send_header(key, value)
        self.end_headers()
        if not head:
            self.wfile.write(response.body)

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - http.server's signature
        if os.environ.get("BEAMPIPE_UI_ACCESS_LOG"):
            super().log_message(format, *args)


def route(app: App, raw: str) -> Response:
    """The response for a raw request target (path and query, still percent-encoded)."""
    parts = urlsplit(raw)
    query = dict(parse_qsl(parts.query, keep_blank_values=True))
    path = parts.path
    if files.has_encoded_separator(path):
        raise files.Refused("encoded slashes in paths are not served")
    match = _ARTIFACT.match(path)
    if match:
        artifact_id, what, rel = int(match.group(1)), match.group(2), match.group(3)
        if what == "/lineage":
            return app.lineage(artifact_id, query)
        if what and what.startswith("/files"):
            return app.artifact_file(artifact_id, unquote(rel or ""))
        return app.artifact(artifact_id, query)
    path = unquote(path)
    if path == "/":
        return app.runs(query)
    if path == "/api/runs":
        return app.runs_api(query)
    if path == "/compare":
        return app.compare(query)
    if path.startswith("/static/"):
        name = path[len("/static/"):]
        if name not in STATIC:
            raise NotFound(f"no static file {name!r}")
        with open(os.path.join(templates.STATIC_DIR, name), "rb") as f:
            return Response(200, f.read(), STATIC[name], {"Cache-Control": "max-age=300"})
    match = _RUN_API.match(path)
    if match:
        return app.run_api(match.group(1))
    match = _RUN.match(path)
    if match:
        return app.run(match.group(1), query)
    raise NotFound(f"no page {path!r}")


def make_server(store: MetadataStore, host: str = "127.0.0.1", port: int = 8765,
                pipeline_root: str | None = None) -> UIServer:
    """A server bound to host:port (port 0: any free one) over an open store; not started."""
    return UIServer((host, port), App(store, pipeline_root))
