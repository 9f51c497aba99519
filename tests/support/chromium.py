"""Headless Chromium driven over the DevTools protocol, for the UI's browser tests.

Debian's ``chromium`` (``.ci/run`` installs it) is started with ``--remote-debugging-port=0``;
the port it picked is read from ``DevToolsActivePort`` in its profile directory, and the page is
driven over one websocket (``websocket-client``). No WebDriver: no ``chromium-driver`` whose
version must match the browser's, no Selenium. What the tests need is small: navigate and wait
for the load event, evaluate JavaScript, click at an element's position with real mouse events,
take screenshots, and notice every JavaScript dialog (an ``alert`` is an XSS that ran), uncaught
exception and Content-Security-Policy violation.
"""
from __future__ import annotations

import base64
import itertools
import json
import os
import shutil
import signal
import subprocess
import tempfile
import time
import urllib.request
from typing import Any

CANDIDATES = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")

# Runs in every page before its own scripts (DevTools-injected scripts are exempt from the
# page's CSP): records CSP violations, i.e. a script or style the page tried and was refused.
_WATCH = """
window.__csp = [];
document.addEventListener('securitypolicyviolation', function (e) {
  window.__csp.push(e.violatedDirective + ' ' + (e.blockedURI || '') + ' ' + (e.sample || ''));
});
"""


def find_chromium() -> str | None:
    """``$BEAMPIPE_CHROMIUM``, else the first Chromium or Chrome on PATH (None when none)."""
    explicit = os.environ.get("BEAMPIPE_CHROMIUM")
    if explicit:
        return explicit if os.access(explicit, os.X_OK) else None
    for name in CANDIDATES:
        found = shutil.which(name)
        if found:
            return found
    return None


class BrowserError(AssertionError):
    pass


class Browser:
    """One headless Chromium with one page (a tab). ``start()``, use, ``stop()``."""

    def __init__(self, binary: str, width: int = 1280, height: int = 900, timeout: float = 30.0) -> None:
        self.binary = binary
        self.width, self.height = width, height
        self.timeout = timeout
        self.profile = tempfile.mkdtemp(prefix="beampipe-chromium-")
        self.proc: subprocess.Popen | None = None
        self.ws: Any = None
        self._ids = itertools.count(1)
        self.events: list[dict[str, Any]] = []
        self.dialogs: list[str] = []  # messages of alert/confirm/prompt, all dismissed
        self.errors: list[str] = []  # uncaught exceptions and console errors

    # -- lifecycle --------------------------------------------------------------------------
    def start(self) -> "Browser":
        import websocket  # websocket-client

        args = [self.binary, "--headless=new", "--disable-gpu", "--no-first-run", "--no-default-browser-check",
                "--disable-extensions", "--disable-background-networking", "--disable-sync",
                "--disable-dev-shm-usage", "--hide-scrollbars", "--mute-audio", "--lang=en-US",
                f"--window-size={self.width},{self.height}", f"--user-data-dir={self.profile}",
                "--remote-debugging-port=0", "--remote-debugging-address=127.0.0.1", "about:blank"]
        if os.geteuid() == 0:
            args.insert(1, "--no-sandbox")  # Chromium's sandbox refuses to run as root
        self.log_path = os.path.join(self.profile, "chromium.log")
        with open(self.log_path, "wb") as log:
            self.proc = subprocess.Popen(args, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                         start_new_session=True)
        port_file = os.path.join(self.profile, "DevToolsActivePort")
        deadline = time.time() + self.timeout
        port = None
        while time.time() < deadline:
            if self.proc.poll() is not None:
                raise BrowserError(f"chromium exited with {self.proc.returncode}: {self._log_tail()}")
            try:
                with open(port_file) as f:
                    port = int(f.readline().strip())
                break
            except (OSError, ValueError):
                time.sleep(0.1)
        if port is None:
            self.stop()
            raise BrowserError(f"chromium wrote no DevToolsActivePort in {self.timeout}s: {self._log_tail()}")
        self.port = port
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/json/list", timeout=10) as resp:
            pages = [t for t in json.load(resp) if t.get("type") == "page"]
        if not pages:
            raise BrowserError("chromium has no page target")
        # suppress_origin: Chromium refuses DevTools websockets that send an Origin header
        self.ws = websocket.create_connection(pages[0]["webSocketDebuggerUrl"], timeout=self.timeout,
                                              suppress_origin=True, enable_multithread=False)
        for domain in ("Page", "Runtime", "Log"):
            self.call(f"{domain}.enable")
        self.call("Page.addScriptToEvaluateOnNewDocument", source=_WATCH)
        self.call("Emulation.setDeviceMetricsOverride", width=self.width, height=self.height,
                  deviceScaleFactor=1, mobile=False)
        return self

    def stop(self) -> None:
        if self.ws is not None:
            try:
                self.ws.close()
            except Exception:  # noqa: BLE001 - closing a dead socket
                pass
            self.ws = None
        if self.proc is not None and self.proc.poll() is None:
            try:
                os.killpg(self.proc.pid, signal.SIGTERM)  # its own session: chromium and its helpers
                self.proc.wait(timeout=10)
            except (ProcessLookupError, subprocess.TimeoutExpired):
                try:
                    os.killpg(self.proc.pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
                self.proc.wait(timeout=10)
        shutil.rmtree(self.profile, ignore_errors=True)

    def _log_tail(self) -> str:
        try:
            with open(self.log_path, "rb") as f:
                return f.read()[-2000:].decode("utf-8", "replace")
        except OSError:
            return ""

    # -- protocol ---------------------------------------------------------------------------
    def call(self, method: str, timeout: float | None = None, **params: Any) -> dict[str, Any]:
        """Send one command and return its result; events read meanwhile are kept."""
        msg_id = next(self._ids)
        self.ws.send(json.dumps({"id": msg_id, "method": method, "params": params}))
        deadline = time.time() + (timeout or self.timeout)
        while True:
            msg = self._recv(deadline, method)
            if msg.get("id") == msg_id:
                if "error" in msg:
                    raise BrowserError(f"{method}: {msg['error']}")
                return msg.get("result", {})

    def _recv(self, deadline: float, waiting_for: str) -> dict[str, Any]:
        import websocket

        remaining = deadline - time.time()
        if remaining <= 0:
            raise BrowserError(f"no answer from chromium to {waiting_for}")
        self.ws.settimeout(remaining)
        try:
            msg = json.loads(self.ws.recv())
        except websocket.WebSocketTimeoutException:
            raise BrowserError(f"no answer from chromium to {waiting_for}") from None
        if "method" in msg:
            self._event(msg)
        return msg

    def _event(self, msg: dict[str, Any]) -> None:
        method, params = msg["method"], msg.get("params", {})
        self.events.append(msg)
        if method == "Page.javascriptDialogOpening":
            self.dialogs.append(params.get("message", ""))
            # answer without waiting: the page is blocked until the dialog goes
            self.ws.send(json.dumps({"id": next(self._ids), "method": "Page.handleJavaScriptDialog",
                                     "params": {"accept": False}}))
        elif method == "Runtime.exceptionThrown":
            details = params.get("exceptionDetails", {})
            self.errors.append(details.get("exception", {}).get("description") or details.get("text", "?"))
        elif method == "Log.entryAdded" and params.get("entry", {}).get("level") == "error":
            entry = params["entry"]
            if entry.get("source") != "network":  # a 404 page is a network "error"; tests check statuses
                self.errors.append(f"{entry.get('source')}: {entry.get('text')}")
        elif method == "Runtime.consoleAPICalled" and params.get("type") == "error":
            self.errors.append("console.error: " + " ".join(str(a.get("value", a.get("description", "")))
                                                            for a in params.get("args", [])))

    def _wait_event(self, method: str, since: int, timeout: float) -> dict[str, Any]:
        deadline = time.time() + timeout
        while True:
            for msg in self.events[since:]:
                if msg["method"] == method:
                    return msg
            since = len(self.events)
            self._recv(deadline, method)

    # -- page -------------------------------------------------------------------------------
    def goto(self, url: str) -> None:
        """Navigate and wait for the load event."""
        mark = len(self.events)
        result = self.call("Page.navigate", url=url)
        if result.get("errorText"):
            raise BrowserError(f"{url}: {result['errorText']}")
        self._wait_event("Page.loadEventFired", mark, self.timeout)

    def js(self, expression: str) -> Any:
        """Evaluate an expression in the page; its value (JSON-able), promises awaited."""
        result = self.call("Runtime.evaluate", expression=expression, returnByValue=True, awaitPromise=True)
        if "exceptionDetails" in result:
            details = result["exceptionDetails"]
            raise BrowserError(f"{expression[:80]}: "
                               f"{details.get('exception', {}).get('description') or details.get('text')}")
        return result.get("result", {}).get("value")

    def wait_for(self, expression: str, timeout: float = 10.0, interval: float = 0.2) -> Any:
        """Poll ``expression`` until it is truthy; its value."""
        deadline = time.time() + timeout
        while True:
            value = self.js(expression)
            if value:
                return value
            if time.time() > deadline:
                raise BrowserError(f"timed out after {timeout}s waiting for {expression}")
            time.sleep(interval)

    @property
    def url(self) -> str:
        return self.js("location.href")

    def text(self, selector: str) -> str:
        return self.js(f"(function(){{var e=document.querySelector({json.dumps(selector)});"
                       f"return e ? e.innerText : null}})()")

    def count(self, selector: str) -> int:
        return self.js(f"document.querySelectorAll({json.dumps(selector)}).length")

    def click(self, selector: str, navigates: bool = False) -> None:
        """A real left click (mouse events at the element's centre, scrolled into view)."""
        box = self.js(f"""(function () {{
            var e = document.querySelector({json.dumps(selector)});
            if (!e) return null;
            e.scrollIntoView({{block: 'center', inline: 'center'}});
            var r = e.getClientRects()[0] || e.getBoundingClientRect();  // a wrapped link: its first line
            return {{x: r.left + r.width / 2, y: r.top + r.height / 2, w: r.width, h: r.height}};
        }})()""")
        if not box:
            raise BrowserError(f"nothing matches {selector!r} on {self.url}")
        if not (box["w"] and box["h"]):
            raise BrowserError(f"{selector!r} is not visible on {self.url}")
        mark = len(self.events)
        self.call("Input.dispatchMouseEvent", type="mouseMoved", x=box["x"], y=box["y"])
        for kind in ("mousePressed", "mouseReleased"):
            self.call("Input.dispatchMouseEvent", type=kind, x=box["x"], y=box["y"], button="left", clickCount=1)
        if navigates:
            self._wait_event("Page.loadEventFired", mark, self.timeout)

    def screenshot(self, path: str, max_height: int | None = None, start: str | None = None) -> str:
        """The whole page as a PNG, or from the top of the element ``start`` selects, at most
        ``max_height`` CSS pixels of it; returns ``path``."""
        width, height = self.js("[document.documentElement.scrollWidth, document.documentElement.scrollHeight]")
        top = 0
        if start:
            top = self.js(f"Math.max(0, document.querySelector({json.dumps(start)}).getBoundingClientRect().top"
                          " + window.scrollY - 12)")
        height -= top
        height = min(height, max_height) if max_height else height
        shot = self.call("Page.captureScreenshot", format="png", captureBeyondViewport=True,
                         clip={"x": 0, "y": top, "width": max(width, self.width), "height": height, "scale": 1})
        os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
        with open(path, "wb") as f:
            f.write(base64.b64decode(shot["data"]))
        return path

    def csp_violations(self) -> list[str]:
        return self.js("window.__csp || []")
