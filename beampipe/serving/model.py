"""One loaded model version: load (TensorFlow only), describe, run, warm up, unload.

TensorFlow alone loads Trainer's SavedModel, Transform graph included: the graph is plain TF
ops and its vocabularies are assets restored at load, so serving never imports TFT, TFDV,
TFMA or Beam. A remote version (``s3://``, ``gs://``) is copied to a local scratch directory
through ``beampipe.io`` first (TensorFlow here has no s3 filesystem) and removed at unload.
"""
from __future__ import annotations

import contextlib
import logging
import os
import re
import threading
import time
from typing import Any

import numpy as np

from beampipe import io
from beampipe.serving.codec import BadRequest

log = logging.getLogger("beampipe.serving")

WARMUP_FILE = ("assets.extra", "tf_serving_warmup_requests")
MAX_WARMUP_RECORDS = 100  # TF Serving replays at most 1,000; a few are enough to trace the graph
DEFAULT_SIGNATURE = "serving_default"
PREDICT, CLASSIFY, REGRESS = ("tensorflow/serving/predict", "tensorflow/serving/classify",
                              "tensorflow/serving/regress")


class ModelVersion:
    """A version's life: LOADING -> AVAILABLE -> UNLOADING -> END (or LOADING -> END with an
    error, never served). ``inflight`` counts requests running on it, so it is unloaded
    only after they finish."""

    def __init__(self, model_name: str, version: int, uri: str, tags: tuple[str, ...] = ()) -> None:
        self.model_name, self.version, self.uri = model_name, version, uri
        self.tags = tuple(tags)  # empty: the meta graph tagged 'serve'; else exactly these tags
        self.state = "START"
        self.error = ""
        self.signature_defs: dict[str, Any] = {}  # TF Serving's signature_def JSON, by name
        self.feature_types: dict[str, str] = {}   # raw feature -> DT_FLOAT/DT_INT64/DT_STRING
        self.loaded_at = 0.0
        self._loaded: Any = None
        self._scratch = contextlib.ExitStack()
        self._cond = threading.Condition()
        self.inflight = 0

    # -- life cycle -------------------------------------------------------------------------
    def load(self) -> None:
        """Load and describe; raises on any failure (the caller marks the version END)."""
        import tensorflow as tf
        from google.protobuf import json_format
        from tensorflow.python.saved_model import loader_impl

        self.state = "LOADING"
        local = self._scratch.enter_context(io.localize(self.uri))
        saved = loader_impl.parse_saved_model(local)
        if self.tags:
            meta = next((m for m in saved.meta_graphs if set(m.meta_info_def.tags) == set(self.tags)), None)
        else:
            meta = next((m for m in saved.meta_graphs if "serve" in m.meta_info_def.tags), None)
        if meta is None:
            raise ValueError(f"no meta graph tagged {sorted(self.tags) if self.tags else 'serve'}; the SavedModel "
                             f"has {[sorted(m.meta_info_def.tags) for m in saved.meta_graphs]}")
        self.signature_defs = {
            name: json_format.MessageToDict(sig, preserving_proto_field_name=True)
            for name, sig in meta.signature_def.items() if not name.startswith("__")}
        self.feature_types = _parse_spec_types(meta.graph_def)
        self._loaded = tf.saved_model.load(local, tags=list(meta.meta_info_def.tags))
        missing = set(self.signature_defs) - set(self._loaded.signatures)
        for name in missing:
            self.signature_defs.pop(name)
        if not self.signature_defs:
            raise ValueError("the SavedModel has no signatures to serve")
        self.local_path = local

    def warm_up(self) -> int:
        """Replay ``assets.extra/tf_serving_warmup_requests`` (InfraValidator writes it) or,
        without it, requests built from the default signature; raises if any fails.

        One exception: a built request that the model rejects as invalid input (a 400) is our
        guess at valid input being wrong (a feature with a fixed vocabulary, image bytes), not the
        model being broken; it is logged and the version is served. Anything else (a missing
        asset, an uninitialized table, a crash in the graph) fails the version."""
        path = os.path.join(self.local_path, *WARMUP_FILE)
        count = 0
        if os.path.exists(path):
            for signature, arrays in _warmup_records(path):
                name, sig = self.signature(signature)
                if set(arrays) != set(sig["inputs"]) and len(arrays) == len(sig["inputs"]) == 1:
                    arrays = {next(iter(sig["inputs"])): next(iter(arrays.values()))}  # classify/regress logs
                self.run(name, arrays)
                count += 1
        else:
            name = self.default_signature()
            for _ in range(3):
                try:
                    self.run(name, self._synthetic_request(name))
                except BadRequest as err:
                    log.warning("model %s: version %d: the warmup request built from signature '%s' was "
                                "rejected as invalid input (%s); serving it anyway", self.model_name,
                                self.version, name, err)
                    break
                count += 1
        return count

    def mark_available(self) -> None:
        self.state, self.loaded_at = "AVAILABLE", time.time()

    def acquire(self) -> bool:
        """Count a request in; False if the version stopped serving meanwhile."""
        with self._cond:
            if self.state != "AVAILABLE":
                return False
            self.inflight += 1
            return True

    def release(self) -> None:
        with self._cond:
            self.inflight -= 1
            self._cond.notify_all()

    def unload(self, timeout: float = 300.0) -> None:
        """Stop taking requests, wait for the in-flight ones, then free the model."""
        with self._cond:
            if self.state == "AVAILABLE":
                self.state = "UNLOADING"
            self._cond.wait_for(lambda: self.inflight == 0, timeout)
            self.state = "END"
        self._loaded = None
        self._scratch.close()

    def fail(self, error: str) -> None:
        self.state, self.error, self._loaded = "END", error, None
        self._scratch.close()

    # -- describe and run -------------------------------------------------------------------
    def default_signature(self) -> str:
        return DEFAULT_SIGNATURE if DEFAULT_SIGNATURE in self.signature_defs else sorted(self.signature_defs)[0]

    def signature(self, name: str | None) -> tuple[str, dict[str, Any]]:
        name = name or self.default_signature()
        sig = self.signature_defs.get(name)
        if sig is None:
            raise BadRequest(f"Serving signature name: \"{name}\" not found in signature def; "
                           f"this version has {sorted(self.signature_defs)}")
        return name, sig

    def run(self, signature: str, arrays: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        """Call a signature; a client's wrong shapes or values become BadRequest (400)."""
        import tensorflow as tf
        from tensorflow.core.framework import types_pb2

        fn = self._loaded.signatures[signature]
        sig = self.signature_defs[signature]
        tensors = {}
        for name, arr in arrays.items():
            if name not in sig["inputs"]:
                raise BadRequest(f"signature '{signature}' has no input '{name}'")
            dtype = tf.dtypes.as_dtype(types_pb2.DataType.Value(sig["inputs"][name]["dtype"]))
            try:
                tensors[name] = tf.constant(arr.tolist() if dtype == tf.string else arr, dtype=dtype)
            except (TypeError, ValueError) as err:
                raise BadRequest(f"input '{name}': {_short(err)}") from None
        try:
            out = fn(**tensors)
        except UnicodeDecodeError:  # TF failed and its message held undecodable request bytes
            raise BadRequest("the model rejected the input (invalid value in a string input; "
                             "is it a serialized tf.Example?)") from None
        except (TypeError, ValueError, tf.errors.InvalidArgumentError) as err:
            raise BadRequest(_short(err)) from None
        return {k: v.numpy() for k, v in out.items()}

    def _synthetic_request(self, name: str) -> dict[str, np.ndarray]:
        from beampipe.serving.codec import to_example

        sig = self.signature_defs[name]
        arrays = {}
        for key, spec in sig["inputs"].items():
            dims = [int(d.get("size", 1)) for d in spec.get("tensor_shape", {}).get("dim", [])]
            shape = [1 if d < 0 else d for d in dims]
            if spec["dtype"] == "DT_STRING":
                zero = {"DT_STRING": "", "DT_INT64": 0}
                example = to_example({f: zero.get(t, 0.0) for f, t in self.feature_types.items()},
                                     self.feature_types)
                arr = np.empty(shape, dtype=object)  # not np.full: it strips trailing NULs (as 'S')
                for index in np.ndindex(*shape):
                    arr[index] = example
                arrays[key] = arr
            else:
                arrays[key] = np.zeros(shape, dtype=np.float64)
                arrays[key] = arrays[key].astype(_np_type(spec["dtype"]))
        return arrays


def _np_type(dtype: str) -> Any:
    from beampipe.serving.codec import _NUMERIC
    return _NUMERIC.get(dtype, np.float32)


def _short(err: BaseException) -> str:
    """TF's messages can embed the request's bytes: keep them printable and short."""
    text = getattr(err, "message", None) or str(err)
    text = " ".join(text.encode("utf-8", "replace").decode("utf-8", "replace").split())
    text = re.sub(r"^Graph execution error: Detected at node .*?<stack traces unavailable>\s*", "", text)
    text = re.sub(r"\s*\[\[\{\{node [^]]*\]\]( \[Op:[^]]*\])?", "", text)
    return text[:500]


def _parse_spec_types(graph_def: Any) -> dict[str, str]:
    """Raw feature types from the ParseExample ops in the graph: how a JSON feature value
    must be typed in the tf.Example (an int for a float feature is fine; a string is not)."""
    from tensorflow.core.framework import types_pb2

    types: dict[str, str] = {}
    for fn in graph_def.library.function:
        consts = {n.name: n for n in fn.node_def if n.op == "Const"}
        for node in fn.node_def:
            if node.op != "ParseExampleV2":
                continue
            ins = [i.split(":")[0] for i in node.input]
            # inputs: serialized, names, sparse_keys, dense_keys, ragged_keys, dense_defaults...
            for keys_at, attr in ((2, "sparse_types"), (3, "Tdense"), (4, "ragged_value_types")):
                const = consts.get(ins[keys_at]) if len(ins) > keys_at else None
                if const is None:
                    continue
                keys = [k.decode() for k in const.attr["value"].tensor.string_val]
                for key, dtype in zip(keys, node.attr[attr].list.type):
                    types.setdefault(key, types_pb2.DataType.Name(dtype))
    return types


def _warmup_records(path: str) -> list[tuple[str, dict[str, np.ndarray]]]:
    """PredictionLogs (TF Serving's warmup format) -> (signature, input arrays)."""
    import tensorflow as tf
    from tensorflow_serving.apis import prediction_log_pb2

    out = []
    for i, raw in enumerate(tf.data.TFRecordDataset(path)):
        if i >= MAX_WARMUP_RECORDS:
            break
        entry = prediction_log_pb2.PredictionLog.FromString(raw.numpy())
        kind = entry.WhichOneof("log_type")
        if kind == "predict_log":
            req = entry.predict_log.request
            out.append((req.model_spec.signature_name,
                        {k: tf.make_ndarray(v) for k, v in req.inputs.items()}))
        elif kind in ("classify_log", "regress_log"):
            req = getattr(entry, kind).request
            examples = [e.SerializeToString() for e in req.input.example_list.examples]
            out.append((req.model_spec.signature_name, {"examples": np.array(examples, dtype=object)}))
    return out
