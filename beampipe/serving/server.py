"""The HTTP server: TF Serving's REST API on aiohttp, plus ``/metrics`` and a local-only admin API.

aiohttp because it is already in the pinned dependency set (gcsfs needs it), is actively
maintained, and is asyncio-native: thousands of waiting connections cost no threads, and
concurrent requests meet in one event loop, which is what dynamic batching needs. Model calls
run on a small thread pool (TensorFlow releases the GIL while it computes).
"""
from __future__ import annotations

import asyncio
import json
import logging
import re
import time
import weakref
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import numpy as np
from aiohttp import web

from beampipe.serving import admin, codec
from beampipe.serving.batching import Batcher
from beampipe.serving.codec import BadRequest, NotFound
from beampipe.serving.manager import Manager, ServedModel
from beampipe.serving.metrics import Metrics
from beampipe.serving.model import CLASSIFY, PREDICT, REGRESS, ModelVersion
from beampipe.serving.request_log import RequestLog

access_log = logging.getLogger("beampipe.serving.access")
KEY_HEADER = "X-Beampipe-Key"
VERSION_HEADER = "X-Model-Version"
DEFAULT_MAX_BODY = 8 * 1024 * 1024
PATH = re.compile(r"^/v1/models/(?P<name>[^/:]+)(?:/versions/(?P<version>[^/:]+)|/labels/(?P<label>[^/:]+))?"
                  r"(?P<tail>/metadata|:predict|:classify|:regress)?/?$")
MANAGER = web.AppKey("manager", Manager)
STATE = web.AppKey("state", dict)


def error(status: int, message: str, version: int | None = None) -> web.Response:
    """TF Serving's error body."""
    headers = {VERSION_HEADER: str(version)} if version is not None else None
    return web.json_response({"error": message}, status=status, headers=headers)


@web.middleware
async def observe(request: web.Request, handler: Any) -> web.StreamResponse:
    """Every request: TF Serving-style JSON errors (never an HTML page or a bare 500), a metric
    and one JSON access-log line."""
    started = time.perf_counter()
    try:
        response = await handler(request)
    except web.HTTPRequestEntityTooLarge as err:
        response = error(413, f"Request body too large: {err.text or ''}".strip())
    except web.HTTPException as err:
        response = error(err.status, err.reason)
    except BadRequest as err:
        response = error(400, str(err))
    except NotFound as err:
        response = error(404, str(err))
    except Exception as err:  # noqa: BLE001 - a bug: answered, logged, never a crash
        logging.getLogger("beampipe.serving").exception("unexpected error on %s", request.path)
        response = error(500, f"Internal error: {type(err).__name__}: {err}"[:300])
    seconds = time.perf_counter() - started
    info = request.get("serving", {})
    if info.get("model"):
        request.app[MANAGER].metrics.request(info["model"], info.get("version", ""), info.get("method", ""),
                                             response.status, seconds)
    access_log.info(json.dumps({
        "ts": round(time.time(), 3), "remote": request.remote, "method": request.method, "path": request.path,
        "status": response.status, "ms": round(seconds * 1000, 2), "bytes_in": request.content_length or 0,
        "model": info.get("model"), "version": info.get("version"), "signature": info.get("signature"),
        "key": request.headers.get(KEY_HEADER)}))
    return response


async def models(request: web.Request) -> web.StreamResponse:
    match = PATH.match(request.path)
    if match is None:
        raise NotFound(f"Malformed request: {request.method} {request.path}")
    name, label, tail = match["name"], match["label"], match["tail"]
    version = _version(match["version"])
    manager = request.app[MANAGER]
    model = manager.get(name)
    request["serving"] = {"model": name, "method": (tail or "/status").strip("/:")}
    if request.method == "GET":
        if tail == "/metadata":
            return _metadata(request, model, version, label)
        if tail is None:
            if label is not None:
                version = model.resolve(None, label, None).version
            return web.json_response({"model_version_status": model.status(version)})
        raise web.HTTPMethodNotAllowed(request.method, ["POST"])
    if tail not in (":predict", ":classify", ":regress"):
        raise web.HTTPMethodNotAllowed(request.method, ["GET"])
    body = await _json_body(request)
    return await _infer(request, model, version, label, tail[1:], body)


def _version(text: str | None) -> int | None:
    if text is None:
        return None
    if not text.isdigit():
        raise BadRequest(f"Failed to convert version: {text} (versions are whole numbers)")
    return int(text)


async def _json_body(request: web.Request) -> dict[str, Any]:
    raw = await request.read()
    try:
        body = json.loads(raw)
    except (UnicodeDecodeError, json.JSONDecodeError) as err:
        raise BadRequest(f"JSON Parse error: {err}") from None
    if not isinstance(body, dict):
        raise BadRequest("JSON Value: request body must be a JSON object")
    return body


def _metadata(request: web.Request, model: ServedModel, version: int | None, label: str | None) -> web.Response:
    mv = model.resolve(version, label, request.headers.get(KEY_HEADER))
    request["serving"]["version"] = str(mv.version)
    return web.json_response(
        {"model_spec": {"name": model.name, "signature_name": "", "version": str(mv.version)},
         "metadata": {"signature_def": {"signature_def": mv.signature_defs}}},
        headers={VERSION_HEADER: str(mv.version)})


async def _infer(request: web.Request, model: ServedModel, version: int | None, label: str | None,
                 method: str, body: dict[str, Any]) -> web.Response:
    key = request.headers.get(KEY_HEADER)
    for _ in range(5):  # a version may stop serving between choosing and counting in: choose again
        mv = model.resolve(version, label, key)
        if mv.acquire():
            break
    else:
        raise NotFound(f"Servable not found for request: {model.name} (versions are changing; retry)")
    request["serving"]["version"] = str(mv.version)
    try:
        sig_name, sig = mv.signature(body.get("signature_name"))
        request["serving"]["signature"] = sig_name
        if method == "predict":
            arrays, row = codec.parse_predict(body, sig["inputs"], mv.feature_types)
            out = await _run(request.app, model, mv, sig_name, arrays)
            reply = codec.format_predict(out, row)
            _log_request(request.app, model, mv, arrays, out)
        else:
            reply = await _classify_or_regress(request.app, model, mv, sig_name, sig, method, body)
    finally:
        mv.release()
    return web.json_response(reply, headers={VERSION_HEADER: str(mv.version)},
                             dumps=lambda v: json.dumps(v, separators=(",", ":")))


async def _classify_or_regress(app: web.Application, model: ServedModel, mv: ModelVersion, sig_name: str,
                               sig: dict[str, Any], method: str, body: dict[str, Any]) -> dict[str, Any]:
    inputs, outputs = sig["inputs"], sig.get("outputs", {})
    wanted = CLASSIFY if method == "classify" else REGRESS
    takes_examples = len(inputs) == 1 and next(iter(inputs.values()))["dtype"] == "DT_STRING"
    if sig.get("method_name") not in (wanted, PREDICT) or not takes_examples:
        raise BadRequest(f"Expected {method} signature method_name to be {wanted} (or a predict signature "
                         f"taking serialized tf.Examples). Was: {sig.get('method_name')}")
    if method == "regress":
        regress_key = _regress_output(sig_name, sig)
    examples = codec.parse_examples(body, mv.feature_types)
    arrays = {next(iter(inputs)): np.array(examples, dtype=object)}
    out = await _run(app, model, mv, sig_name, arrays)
    _log_request(app, model, mv, examples, out)
    if method == "classify":
        return {"results": _classes(out, outputs, len(examples))}
    return {"results": [float(v) for v in np.asarray(out[regress_key]).reshape(len(examples), -1)[:, 0]]}


def _log_request(app: web.Application, model: ServedModel, mv: ModelVersion, inputs: Any,
                 outputs: dict[str, Any]) -> None:
    """A sampled request and its answer into the model's request log (if it has one)."""
    request_log = app[STATE]["request_logs"].get(model.name)
    if request_log is not None and request_log.sampled():
        request_log.add(mv.version, inputs, outputs)


def _regress_output(sig_name: str, sig: dict[str, Any]) -> str:
    """The one output holding one float per example (``outputs`` in a regress signature)."""
    outputs = sig.get("outputs", {})
    if sig.get("method_name") == REGRESS and "outputs" in outputs:
        return "outputs"
    fits = [k for k, s in outputs.items() if s["dtype"] in ("DT_FLOAT", "DT_DOUBLE")
            and [int(d.get("size", 1)) for d in s.get("tensor_shape", {}).get("dim", [])][1:] in ([], [1])]
    if len(fits) != 1:
        raise BadRequest(f"signature '{sig_name}' cannot regress: it needs one float output with one value per "
                         f"example; its outputs are " + ", ".join(
                             f"{k} {[int(d.get('size', 1)) for d in s.get('tensor_shape', {}).get('dim', [])]}"
                             for k, s in sorted(outputs.items())))
    return fits[0]


def _classes(out: dict[str, Any], outputs: dict[str, Any], n: int) -> list[list[list[Any]]]:
    scores_key = next((k for k in ("scores", "probabilities") if k in out), None)
    if scores_key is None:
        floats = [k for k, s in outputs.items() if s["dtype"] in ("DT_FLOAT", "DT_DOUBLE")]
        if len(floats) != 1:
            raise BadRequest(f"cannot classify: no 'scores' or 'probabilities' output among {sorted(outputs)}")
        scores_key = floats[0]
    scores = out[scores_key].reshape(n, -1)
    classes = out.get("classes")
    results = []
    for i in range(n):
        labels = (codec.to_json(classes[i], "classes") if classes is not None
                  else [str(j) for j in range(scores.shape[1])])
        results.append([[label, float(score)] for label, score in zip(labels, scores[i])])
    return results


async def _run(app: web.Application, model: ServedModel, mv: ModelVersion, signature: str,
               arrays: dict[str, Any]) -> dict[str, Any]:
    state = app[STATE]
    batching = model.config.batching or state.get("batching")
    if batching is None:
        return await asyncio.get_running_loop().run_in_executor(state["executor"], mv.run, signature, arrays)
    per_version = state["batchers"].setdefault(mv, {})
    batcher = per_version.get(signature)
    if batcher is None:
        metrics = app[MANAGER].metrics
        batcher = per_version[signature] = Batcher(
            lambda a: mv.run(signature, a), state["executor"], batching.max_batch_size, batching.batch_timeout_ms,
            on_batch=lambda rows: metrics.batch(model.name, mv.version, rows))
    return await batcher.submit(arrays)


async def metrics(request: web.Request) -> web.Response:
    manager = request.app[MANAGER]
    versions = [(m.name, v.version, v.state) for m in manager.models.values() for v in list(m.versions.values())]
    text = manager.metrics.render(versions)
    logs = sorted(request.app[STATE]["request_logs"].items())
    if logs:
        lines = ["# HELP beampipe_serving_request_log_rows_total Rows of sampled requests by outcome.",
                 "# TYPE beampipe_serving_request_log_rows_total counter"]
        lines += [line for name, log in logs for line in log.metrics(name)[:3]]
        lines += ["# HELP beampipe_serving_request_log_span The span rows are written into now.",
                  "# TYPE beampipe_serving_request_log_span gauge"]
        lines += [log.metrics(name)[3] for name, log in logs]
        text += "\n".join(lines) + "\n"
    return web.Response(text=text,
                        content_type="text/plain", charset="utf-8", headers={"X-Content-Type-Options": "nosniff"})


def make_app(manager: Manager, max_body: int = DEFAULT_MAX_BODY, batching: Any = None,
             threads: int = 4) -> web.Application:
    """The aiohttp application (started by :func:`serve` or by a test's runner)."""
    app = web.Application(client_max_size=max_body, middlewares=[observe])
    app[MANAGER] = manager
    app[STATE] = {"executor": ThreadPoolExecutor(threads, thread_name_prefix="beampipe-serve"),
                  "batchers": weakref.WeakKeyDictionary(), "batching": batching,
                  "request_logs": {name: RequestLog(m.config.request_log) for name, m in manager.models.items()
                                   if m.config.request_log is not None}}
    app.router.add_get("/metrics", metrics)
    admin.add_routes(app, MANAGER)
    app.router.add_route("*", "/v1/models/{rest:.*}", models)
    app.on_cleanup.append(_cleanup)
    return app


async def _cleanup(app: web.Application) -> None:
    app[STATE]["executor"].shutdown(wait=False, cancel_futures=True)
    for request_log in app[STATE]["request_logs"].values():
        request_log.close()  # writes what is buffered
