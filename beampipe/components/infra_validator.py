"""InfraValidator: can the model be loaded and served, in a process of its own, in time?

The model is loaded by a fresh Python process (same interpreter, ``python -m
beampipe.components.infra_validator``) so a model that crashes or hangs TensorFlow cannot
take the pipeline with it, and the load is timed from a cold start as a server would see it.
Sample requests are real examples of the chosen split; the worker calls each signature and
checks every request gets an answer. Any failure is a verdict (not blessed), not an
error. Only this loader is built in: ``serving_spec.tensorflow_serving`` (TFX's serving
binary) is accepted and recorded (image, tags), but no TF Serving binary is started, and a
``serving_platform`` (``local_docker``, ``kubernetes``) is refused when the component is built,
saying why: beampipe starts no containers or Pods (``unsupported_platform``).
``request_spec.tensorflow_serving.tag_set`` picks the meta graph, ``make_warmup`` writes the
requests as TF Serving warmup records into a copy of the model under the blessing
(``stamped_model/``, custom property ``has_model`` = 1), as TFX does.
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

from beampipe.components.base import BaseComponent, Channel, ExecContext, In, Out, Param, WiringError
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
            blessing.custom_properties["serving_validated_with"] = "beampipe SavedModel loader"


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
            "(it validates by loading the SavedModel in a separate Python process with the "
            "pipeline's own TensorFlow, then sending it the requests). Leave the platform unset "
            "- ServingSpec(tensorflow_serving=TensorFlowServing(tags=[...])) - to validate that "
            "way; a TF Serving-compatible server is planned as `beampipe serve`.")


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
    """Run the worker process; its verdict, or why it gave none."""
    payload = {"model_path": model_path, "signatures": signatures, "tags": tags or ["serve"],
               "warmup_dir": warmup_dir, "model_name": model_name,
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
        model = tf.saved_model.load(payload["model_path"], tags=payload.get("tags") or ["serve"])
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
    if payload.get("warmup_dir"):
        from beampipe.components.infra_warmup import write_warmup_model
        write_warmup_model(payload["model_path"], payload["warmup_dir"], payload["model_name"],
                           payload["signatures"], payload.get("tags") or ["serve"], records)
    print(json.dumps({"ok": True, "load_seconds": load_seconds, "answers": answered,
                      "message": f"loaded in {load_seconds:.1f}s; answered {len(records)} "
                                 f"request(s) on {sorted(answered) or 'no signature'}"}))


if __name__ == "__main__":
    _worker()
