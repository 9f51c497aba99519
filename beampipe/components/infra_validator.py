"""InfraValidator: can the model be loaded and served, in a process of its own, in time?

The model is loaded by a fresh Python process (same interpreter, ``python -m
beampipe.components.infra_validator``) so a model that crashes or hangs TensorFlow cannot
take the pipeline with it, and the load is timed from a cold start as a server would see it.
Sample requests are real examples of the chosen split; the worker calls each signature and
checks every request gets an answer. Any failure is a verdict (not blessed), not an
error. Only in-process TF SavedModel serving is built in: ``serving_spec`` is accepted for
TFX parity (its TF Serving tags are recorded) but no Docker/TF Serving binary is started.
"""
from __future__ import annotations

import base64
import gzip
import json
import os
import struct
import subprocess
import sys
import time
from typing import Any

from beampipe.components.base import BaseComponent, Channel, ExecContext, In, Out, Param
from beampipe.components.evaluator import serving_model_path
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
        super().__init__({"model": model, "examples": examples},
                         {"serving_spec": serving_spec, "validation_spec": validation_spec,
                          "request_spec": request_spec})

    @classmethod
    def execute(cls, ctx: ExecContext) -> None:
        model, examples = ctx.input("model"), ctx.optional_input("examples")
        blessing = ctx.output("blessing")
        validation = from_dict(ValidationSpec, ctx.prop("validation_spec")) or ValidationSpec()
        request = from_dict(RequestSpec, ctx.prop("request_spec"))
        serving = from_dict(ServingSpec, ctx.prop("serving_spec"))
        records: list[bytes] = []
        signatures = ["serving_default"]
        if request is not None and request.tensorflow_serving is not None:
            signatures = request.tensorflow_serving.signature_names or signatures
        if examples is not None:
            split = (request.split_name if request and request.split_name else
                     "eval" if "eval" in examples.splits else (examples.splits or ["train"])[0])
            if split not in examples.splits:
                raise ValueError(f"node '{ctx.node_id}': request_spec.split_name {split!r} is not a "
                                 f"split of the Examples at {examples.uri} ({examples.splits})")
            records = read_records(ctx.split_uri(examples, split), request.num_examples if request else 1)
        tries = max(1, int(validation.num_tries))
        outcome: dict[str, Any] = {}
        for attempt in range(1, tries + 1):
            outcome = validate(serving_model_path(model), records, signatures,
                               float(validation.max_loading_time_seconds))
            ctx.log.info("infra validation attempt %d/%d: %s", attempt, tries, outcome)
            if outcome["ok"] or not outcome.get("retry", True):
                break
        ok = bool(outcome["ok"])
        open(blessing.marker(ok), "w").close()
        blessing.custom_properties.update({
            blessing.BLESSED_KEY: int(ok), "message": outcome["message"][:2000], "num_requests": len(records),
            "load_seconds": float(outcome.get("load_seconds", -1.0)), "num_tries": attempt})
        if serving is not None and serving.tensorflow_serving is not None:
            blessing.custom_properties["serving_tags"] = ",".join(serving.tensorflow_serving.tags)


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
             max_loading_seconds: float) -> dict[str, Any]:
    """Run the worker process; its verdict, or why it gave none."""
    payload = {"model_path": model_path, "signatures": signatures,
               "records": [base64.b64encode(r).decode() for r in records]}
    env = {**os.environ, "TF_USE_LEGACY_KERAS": os.environ.get("TF_USE_LEGACY_KERAS", "1"),
           "TF_CPP_MIN_LOG_LEVEL": "2"}
    started = time.time()
    try:
        proc = subprocess.run([sys.executable, "-m", "beampipe.components.infra_validator"],
                              input=json.dumps(payload), capture_output=True, text=True, env=env,
                              timeout=max_loading_seconds + 60)
    except subprocess.TimeoutExpired:
        return {"ok": False, "message": f"no answer within {max_loading_seconds + 60:.0f}s"}
    lines = [line for line in proc.stdout.splitlines() if line.startswith("{")]
    if proc.returncode != 0 or not lines:
        tail = (proc.stderr or proc.stdout).strip().splitlines()[-3:]
        return {"ok": False, "message": f"worker exited {proc.returncode}: " + " | ".join(tail)}
    result = json.loads(lines[-1])
    if result["ok"] and result["load_seconds"] > max_loading_seconds:
        result.update(ok=False, message=f"model loaded in {result['load_seconds']:.1f}s, over the "
                                        f"limit of {max_loading_seconds:.0f}s")
    result["total_seconds"] = time.time() - started
    return result


def _worker() -> None:
    """In the child: load the model, answer the requests, print one JSON line."""
    payload = json.load(sys.stdin)
    started = time.time()
    try:
        import tensorflow as tf
        model = tf.saved_model.load(payload["model_path"])
    except Exception as err:  # noqa: BLE001 - the verdict is "not loadable", with the reason
        print(json.dumps({"ok": False, "retry": False,
                          "message": f"model did not load: {type(err).__name__}: {err}"[:1500]}))
        return
    load_seconds = time.time() - started
    records = [base64.b64decode(r) for r in payload["records"]]
    answered: dict[str, Any] = {}
    for name in payload["signatures"]:
        if name not in model.signatures:
            print(json.dumps({"ok": False, "retry": False, "load_seconds": load_seconds,
                              "message": f"no signature {name!r}; it has {sorted(model.signatures)}"}))
            return
        if not records:
            continue
        fn = model.signatures[name]
        [(alias, _)] = fn.structured_input_signature[1].items()
        try:
            outputs = fn(**{alias: tf.constant(records)})
        except Exception as err:  # noqa: BLE001
            print(json.dumps({"ok": False, "retry": False, "load_seconds": load_seconds,
                              "message": f"{name} failed on a request: {type(err).__name__}: {err}"[:1500]}))
            return
        shapes = {k: list(v.shape) for k, v in outputs.items()}
        if any(not s or s[0] != len(records) for s in shapes.values()):
            print(json.dumps({"ok": False, "retry": False, "load_seconds": load_seconds,
                              "message": f"{name} answered {shapes} for {len(records)} requests"}))
            return
        answered[name] = shapes
    print(json.dumps({"ok": True, "load_seconds": load_seconds, "answers": answered,
                      "message": f"loaded in {load_seconds:.1f}s; answered {len(records)} "
                                 f"request(s) on {sorted(answered) or 'no signature'}"}))


if __name__ == "__main__":
    _worker()
