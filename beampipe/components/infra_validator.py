"""InfraValidator: does the real server load the model, in time, and answer for it?

As TFX's InfraValidator starts TF Serving, this starts ``beampipe serve`` on the candidate (a
subprocess ``python -m beampipe serve --model-name NAME --model-base-path <tmp dir holding the
candidate as version 1>`` on a free 127.0.0.1 port, in its own process group; a subprocess,
because components sit below ``beampipe.serving`` in the import layers), waits until its status
endpoint says AVAILABLE (``validation_spec.max_loading_time_seconds`` per try, ``num_tries``
tries when the server dies or is too slow; a model that fails to load is not retried), then
sends real requests built from ``request_spec.num_examples`` examples of the chosen split over
the REST API, to each of ``request_spec.tensorflow_serving.signature_names`` as its method asks
(predict: serialized tf.Examples as ``{"b64"}`` instances; classify/regress: the examples as
feature objects). Only a model the server loads and answers every request for is blessed; the
reason is recorded either way (custom property ``message``). The server is always stopped.
``serving_spec.model_name`` names the model in the server, ``request_spec.tensorflow_serving.
tag_set`` picks the meta graph (``--saved-model-tags``), ``serving_spec.tensorflow_serving``
(TF Serving's image and tags) is recorded; a ``serving_platform`` (``local_docker``,
``kubernetes``) is refused when the component is built, saying why: beampipe starts no
containers or Pods. ``make_warmup`` writes the requests as TF Serving warmup records into a
copy of the model under the blessing (``stamped_model/``, custom property ``has_model`` = 1),
as TFX does.
"""
from __future__ import annotations

import base64
import gzip
import json
import os
import shutil
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request
from typing import Any

from beampipe.components.base import BaseComponent, Channel, ExecContext, In, Out, Param, WiringError
from beampipe.components.evaluator import serving_model_path
from beampipe import io
from beampipe.metadata import layout
from beampipe.metadata.artifacts import Examples, InfraBlessing, Model
from beampipe.proto.serving import RequestSpec, ServingSpec, ValidationSpec, from_dict

class InfraValidator(BaseComponent):
    INPUTS = {"model": In(Model), "examples": In(Examples, optional=True)}
    OUTPUTS = {"blessing": Out(InfraBlessing)}
    PARAMETERS = {"serving_spec": Param(dict), "validation_spec": Param(dict), "request_spec": Param(dict)}

    def __init__(self, model: Channel, examples: Channel | None = None,
                 serving_spec: ServingSpec | None = None, validation_spec: ValidationSpec | None = None,
                 request_spec: RequestSpec | None = None) -> None:
        refusal = unsupported_platform(from_dict(ServingSpec, _plain(serving_spec)))
        if refusal:
            raise WiringError(f"InfraValidator: {refusal}")
        super().__init__({"model": model, "examples": examples},
                         {"serving_spec": serving_spec, "validation_spec": validation_spec,
                          "request_spec": request_spec})

    @classmethod
    def execute(cls, ctx: ExecContext) -> None:
        model, examples = ctx.input("model"), ctx.optional_input("examples")
        blessing = ctx.output("blessing")
        validation = from_dict(ValidationSpec, ctx.prop("validation_spec")) or ValidationSpec()
        request = from_dict(RequestSpec, ctx.prop("request_spec"))
        serving = from_dict(ServingSpec, ctx.prop("serving_spec")) or ServingSpec()
        refusal = unsupported_platform(serving)
        if refusal:
            raise ValueError(f"node '{ctx.node_id}': {refusal}")
        records: list[bytes] = []
        signatures, tags = ["serving_default"], ["serve"]
        if request is not None and request.tensorflow_serving is not None:
            signatures = request.tensorflow_serving.signature_names or signatures
            tags = request.tensorflow_serving.tag_set or tags
        if examples is not None:
            split = (request.split_name if request and request.split_name else
                     "eval" if "eval" in examples.splits else (examples.splits or ["train"])[0])
            if split not in examples.splits:
                raise ValueError(f"node '{ctx.node_id}': request_spec.split_name {split!r} is not a "
                                 f"split of the Examples at {examples.uri} ({examples.splits})")
            records = read_records(ctx.split_uri(examples, split), (request.num_examples if request else 1) or 1)
        tries = max(1, int(validation.num_tries or 5))
        max_loading = float(validation.max_loading_time_seconds or 300)
        warmup_dir = (layout.join(blessing.uri, STAMPED_MODEL_DIR)
                      if request is not None and request.make_warmup and records else "")
        outcome: dict[str, Any] = {}
        for attempt in range(1, tries + 1):
            outcome = validate(serving_model_path(model), records, signatures, max_loading, tags=tags,
                               warmup_dir=warmup_dir, model_name=serving.model_name or DEFAULT_MODEL_NAME)
            ctx.log.info("infra validation attempt %d/%d: %s", attempt, tries, outcome)
            if outcome["ok"] or not outcome.get("retry", True):
                break
        ok = bool(outcome["ok"])
        open(blessing.marker(ok), "w").close()
        blessing.custom_properties.update({
            blessing.BLESSED_KEY: int(ok), "message": outcome["message"][:2000], "num_requests": len(records),
            "load_seconds": float(outcome.get("load_seconds", -1.0)), "num_tries": attempt})
        if ok and warmup_dir:
            blessing.custom_properties[HAS_MODEL_KEY] = 1
        if serving.tensorflow_serving is not None:
            binary = serving.tensorflow_serving
            blessing.custom_properties["serving_tags"] = ",".join(binary.tags)
            blessing.custom_properties["serving_image"] = binary.image_name or "tensorflow/serving"
            blessing.custom_properties["serving_validated_with"] = "beampipe serve"


STAMPED_MODEL_DIR = "stamped_model"  # TFX's path_constants.STAMPED_MODEL_DIR
HAS_MODEL_KEY = "has_model"  # TFX: the InfraBlessing holds a warmup-stamped model
DEFAULT_MODEL_NAME = "infra-validation-model"


def _plain(spec: Any) -> Any:
    from beampipe.components.base import to_jsonable
    return to_jsonable(spec) if spec is not None and not isinstance(spec, ServingSpec) else spec


def unsupported_platform(serving: ServingSpec | None) -> str:
    """Why beampipe cannot validate on the ServingSpec's platform ('' when it can)."""
    platform = serving.WhichOneof("serving_platform") if serving is not None else None
    if platform is None:
        return ""
    where = {"local_docker": "a TF Serving container on this machine's Docker daemon",
             "kubernetes": "a TF Serving Pod in the Kubernetes cluster"}[platform]
    return (f"serving_spec.{platform} asks for {where}; beampipe starts no containers or Pods "
            "(it validates by starting `beampipe serve`, its TF Serving-compatible server, on this "
            "machine and sending it the requests). Leave the platform unset - "
            "ServingSpec(tensorflow_serving=TensorFlowServing(tags=[...])) - to validate that way.")


def read_records(split_dir: str, limit: int) -> list[bytes]:
    """The first ``limit`` records of a split's gzip TFRecord files, without loading TF."""
    found: list[bytes] = []
    for name in sorted(os.listdir(split_dir)) if os.path.isdir(split_dir) else []:
        opener = gzip.open if name.endswith(".gz") else open
        with opener(layout.join(split_dir, name), "rb") as f:
            while len(found) < limit:
                header = f.read(12)  # uint64 length, uint32 masked crc of the length
                if len(header) < 12:
                    break
                (length,) = struct.unpack("<Q", header[:8])
                found.append(f.read(length))
                f.read(4)  # masked crc of the data
        if len(found) >= limit:
            break
    if not found:
        raise ValueError(f"{split_dir}: no examples to build infra validation requests from")
    return found


def validate(model_path: str, records: list[bytes], signatures: list[str],
             max_loading_seconds: float, tags: list[str] | None = None, warmup_dir: str = "",
             model_name: str = DEFAULT_MODEL_NAME) -> dict[str, Any]:
    """Start ``beampipe serve`` on the candidate, wait for AVAILABLE, send the requests over
    the REST API; the verdict, with the reason. The server is always stopped."""
    base = tempfile.mkdtemp(prefix="beampipe-infra-")
    err_path = os.path.join(base, "serve.err")
    proc: subprocess.Popen | None = None
    try:
        with io.localize(model_path) as local:
            try:
                os.symlink(os.path.abspath(local), os.path.join(base, "1"))  # the candidate as version 1
            except OSError:
                shutil.copytree(local, os.path.join(base, "1"))
            port = _free_port()
            env = {**os.environ, "TF_USE_LEGACY_KERAS": os.environ.get("TF_USE_LEGACY_KERAS", "1"),
                   "TF_CPP_MIN_LOG_LEVEL": "2"}
            with open(err_path, "w") as err_file:
                proc = subprocess.Popen(
                    [sys.executable, "-m", "beampipe", "serve", "--model-name", model_name, "--model-base-path",
                     base, "--host", "127.0.0.1", "--port", str(port), "--poll-seconds", "0.2",
                     "--access-log", "off", "--saved-model-tags", ",".join(tags or []),
                     "--exit-with-pid", str(os.getpid())],  # never outlives a killed pipeline
                    stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=err_file, env=env,
                    start_new_session=True)  # its own process group, killed as a whole
            url = f"http://127.0.0.1:{port}/v1/models/{urllib.parse.quote(model_name, safe='')}"
            started = time.monotonic()
            outcome = _wait_available(proc, url, max_loading_seconds, err_path)
            if outcome is not None:
                return outcome
            load_seconds = time.monotonic() - started
            answered = {}
            for name in signatures:
                answer = _send(url, name, records)
                if isinstance(answer, str):
                    return {"ok": False, "retry": False, "load_seconds": load_seconds, "message": answer}
                answered[name] = answer
            if warmup_dir and records:
                from beampipe.components.infra_warmup import write_warmup_model
                write_warmup_model(local, warmup_dir, model_name, signatures, tags or ["serve"], records)
            on = ", ".join(f"{k} ({v})" for k, v in answered.items()) or "no signature"
            return {"ok": True, "load_seconds": load_seconds, "answers": answered,
                    "message": f"beampipe serve loaded it in {load_seconds:.1f}s and answered {len(records)} "
                               f"request(s) on {on}"}
    finally:
        if proc is not None:
            _stop(proc)
        shutil.rmtree(base, ignore_errors=True)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _stop(proc: subprocess.Popen) -> None:
    """SIGTERM the server's process group, SIGKILL it if it lingers."""
    for sig, wait in ((signal.SIGTERM, 10), (signal.SIGKILL, 10)):
        if proc.poll() is not None:
            return
        try:
            os.killpg(proc.pid, sig)
        except ProcessLookupError:
            return
        try:
            proc.wait(wait)
        except subprocess.TimeoutExpired:
            continue


def _tail(path: str, lines: int = 3) -> str:
    try:
        with open(path, errors="replace") as f:
            return " | ".join(f.read().strip().splitlines()[-lines:])
    except OSError:
        return ""


def _http(url: str, body: Any = None, timeout: float = 30.0) -> tuple[int, Any]:
    data = None if body is None else json.dumps(body).encode()
    req = urllib.request.Request(url, data=data, headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(req, timeout=timeout) as r:
            return r.status, json.loads(r.read() or b"null")
    except urllib.error.HTTPError as err:
        try:
            return err.code, json.loads(err.read() or b"null")
        except ValueError:
            return err.code, None


def _wait_available(proc: subprocess.Popen, url: str, max_loading_seconds: float,
                    err_path: str) -> dict[str, Any] | None:
    """None once the version is AVAILABLE; else the verdict (load failed, server died, too slow)."""
    deadline = time.monotonic() + max_loading_seconds
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            return {"ok": False, "retry": True,
                    "message": f"beampipe serve exited {proc.returncode}: {_tail(err_path)}"[:1500]}
        try:
            code, body = _http(url, timeout=5)
        except (OSError, ValueError):
            code, body = 0, None  # not listening yet
        for status in (body or {}).get("model_version_status", []) if code == 200 else []:
            if status.get("state") == "AVAILABLE":
                return None
            if status.get("state") == "END":
                error = (status.get("status") or {}).get("error_message", "")
                return {"ok": False, "retry": False, "message": f"model did not load in beampipe serve: {error}"[:1500]}
        time.sleep(0.2)
    return {"ok": False, "retry": True,
            "message": f"beampipe serve did not make the model AVAILABLE within {max_loading_seconds:.0f}s "
                       "(validation_spec.max_loading_time_seconds)"}


def _send(url: str, name: str, records: list[bytes]) -> str | int:
    """Send the examples to signature ``name`` as its method asks; the number of answers, or why not."""
    code, meta = _http(url + "/metadata")
    sigs = ((meta or {}).get("metadata", {}).get("signature_def", {}).get("signature_def", {})
            if code == 200 else {})
    if name not in sigs:
        return f"no signature {name!r}; the server serves {sorted(sigs)}"
    if not records:
        return 0
    method = sigs[name].get("method_name", "")
    if method.endswith("/classify") or method.endswith("/regress"):
        verb, body = method.rsplit("/", 1)[1], {"signature_name": name, "examples": _feature_dicts(records)}
    else:
        inputs = sigs[name].get("inputs", {})
        if len(inputs) != 1 or next(iter(inputs.values())).get("dtype") != "DT_STRING":
            return (f"{name} takes {sorted(inputs)}, not serialized tf.Examples: requests cannot be built from "
                    "examples")
        verb, body = "predict", {"signature_name": name,
                                 "instances": [{"b64": base64.b64encode(r).decode()} for r in records]}
    code, reply = _http(f"{url}:{verb}", body)
    if code != 200:
        return f"{name} ({verb}) failed on a request: HTTP {code}: {(reply or {}).get('error', reply)}"[:1500]
    answers = (reply or {}).get("predictions" if verb == "predict" else "results") or []
    if len(answers) != len(records):
        return f"{name} ({verb}) answered {len(answers)} result(s) for {len(records)} request(s)"
    return len(answers)


def _feature_dicts(records: list[bytes]) -> list[dict[str, Any]]:
    """Serialized tf.Examples as the feature objects TF Serving's classify/regress JSON takes."""
    from tensorflow.core.example import example_pb2

    out = []
    for record in records:
        feats = {}
        for key, feature in example_pb2.Example.FromString(record).features.feature.items():
            kind = feature.WhichOneof("kind")
            if kind == "bytes_list":
                feats[key] = [{"b64": base64.b64encode(v).decode()} for v in feature.bytes_list.value]
            elif kind is not None:
                feats[key] = list(getattr(feature, kind).value)
        out.append(feats)
    return out


