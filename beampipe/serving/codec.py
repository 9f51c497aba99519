"""JSON <-> tensors, as TF Serving's REST API converts them (``json_tensor.cc``).

Kept free of aiohttp so the same conversion serves the HTTP handlers, warmup and tests.
What TF Serving does, and we do too: row format (``instances``) and columnar format
(``inputs``); ``{"b64": "..."}`` for binary strings; ``predictions`` / ``outputs`` replies;
``examples`` (+ ``context``) for classify and regress. What we add, because Trainer's serving
signature takes serialized tf.Examples and a client should not have to build protobufs: on
``:predict``, an instance that is a dict of *feature* values (not of the signature's input
names) is turned into a serialized tf.Example, typed by the model's own parse spec.
"""
from __future__ import annotations

import base64
import binascii
from typing import Any

import numpy as np


class BadRequest(ValueError):
    """The client's fault: answered 400 with TF Serving's ``{"error": ...}``."""


class NotFound(LookupError):
    """Unknown model, version, label or signature: answered 404."""


_NUMERIC = {"DT_FLOAT": np.float32, "DT_DOUBLE": np.float64, "DT_INT32": np.int32, "DT_INT64": np.int64,
            "DT_INT16": np.int16, "DT_INT8": np.int8, "DT_UINT8": np.uint8, "DT_HALF": np.float16,
            "DT_BOOL": np.bool_}


def _unb64(value: Any, where: str) -> Any:
    """``{"b64": "..."}`` -> bytes, recursively; plain strings -> utf-8 bytes."""
    if isinstance(value, dict):
        if set(value) != {"b64"}:
            raise BadRequest(f"{where}: an object value must be {{\"b64\": \"...\"}}, got keys {sorted(value)}")
        try:
            return base64.b64decode(value["b64"], validate=True)
        except (binascii.Error, TypeError) as err:
            raise BadRequest(f"{where}: invalid base64 in b64 value: {err}") from None
    if isinstance(value, list):
        return [_unb64(v, where) for v in value]
    if isinstance(value, str):
        return value.encode()
    return value


def to_array(value: Any, dtype: str, name: str) -> np.ndarray:
    """One input's JSON value as a numpy array of the signature's dtype; 400 on a mismatch."""
    if dtype == "DT_STRING":
        raw = _unb64(value, f"input '{name}'")
        arr = np.array(raw, dtype=object)
        flat = arr.reshape(-1)
        for item in flat:
            if not isinstance(item, bytes):
                raise BadRequest(f"input '{name}' expects strings (DT_STRING), got {type(item).__name__} "
                                 f"{item!r}")
        return arr
    np_type = _NUMERIC.get(dtype)
    if np_type is None:
        raise BadRequest(f"input '{name}': dtype {dtype} is not supported over JSON")
    try:
        arr = np.array(value)
    except ValueError as err:  # ragged lists
        raise BadRequest(f"input '{name}': values are not a rectangular array: {err}") from None
    if arr.dtype.kind not in "biuf":
        raise BadRequest(f"input '{name}' expects numbers ({dtype}), got {_describe(value)}")
    if np.issubdtype(np_type, np.integer) and arr.dtype.kind == "f":
        if not np.all(np.mod(arr, 1) == 0):
            raise BadRequest(f"input '{name}' expects integers ({dtype}), got a fractional number")
    return arr.astype(np_type)


def _describe(value: Any) -> str:
    flat = value
    while isinstance(flat, list) and flat:
        flat = flat[0]
    return f"{type(flat).__name__} {flat!r}"[:80]


def parse_predict(body: dict[str, Any], inputs: dict[str, dict[str, Any]],
                  feature_types: dict[str, str]) -> tuple[dict[str, np.ndarray], bool]:
    """A predict body -> ({input name: array}, row_format). ``inputs``: the signature's
    inputs as {name: {"dtype": ..., "tensor_shape": ...}}."""
    has_rows, has_cols = "instances" in body, "inputs" in body
    if has_rows == has_cols:
        raise BadRequest("Missing 'instances' key" if not has_rows else
                         "Request body must have exactly one of 'instances' or 'inputs', not both")
    names = sorted(inputs)
    if has_rows:
        rows = body["instances"]
        if not isinstance(rows, list) or not rows:
            raise BadRequest("'instances' must be a non-empty JSON array")
        return _rows_to_columns(rows, inputs, names, feature_types), True
    cols = body["inputs"]
    if len(names) == 1 and not (isinstance(cols, dict) and set(cols) == set(names)):
        cols = {names[0]: cols}
    if not isinstance(cols, dict):
        raise BadRequest(f"'inputs' must be an object keyed by input name {names}")
    missing, extra = set(names) - set(cols), set(cols) - set(names)
    if missing or extra:
        raise BadRequest(f"'inputs' must name the signature's inputs {names}; "
                         f"missing {sorted(missing)}, unknown {sorted(extra)}")
    return {n: to_array(cols[n], inputs[n]["dtype"], n) for n in names}, False


def _rows_to_columns(rows: list[Any], inputs: dict[str, dict[str, Any]], names: list[str],
                     feature_types: dict[str, str]) -> dict[str, np.ndarray]:
    examples_input = _examples_input(inputs)
    if (examples_input and all(isinstance(r, dict) and r and "b64" not in r and set(r) != {examples_input}
                               for r in rows)):
        # Raw feature dicts for a signature that parses tf.Examples: build the Examples.
        return {examples_input: np.array([to_example(r, feature_types) for r in rows], dtype=object)}
    if len(names) == 1:
        name = names[0]
        values = [r[name] if isinstance(r, dict) and set(r) == {name} else r for r in rows]
        return {name: to_array(values, inputs[name]["dtype"], name)}
    columns: dict[str, list[Any]] = {n: [] for n in names}
    for i, row in enumerate(rows):
        if not isinstance(row, dict) or set(row) != set(names):
            got = sorted(row) if isinstance(row, dict) else type(row).__name__
            raise BadRequest(f"instance {i}: expected an object with the inputs {names}, got {got}")
        for n in names:
            columns[n].append(row[n])
    return {n: to_array(columns[n], inputs[n]["dtype"], n) for n in names}


def _examples_input(inputs: dict[str, dict[str, Any]]) -> str | None:
    """The one DT_STRING input of a signature that takes serialized tf.Examples, else None."""
    if len(inputs) == 1:
        [(name, spec)] = inputs.items()
        if spec["dtype"] == "DT_STRING":
            return name
    return None


def to_example(features: dict[str, Any], feature_types: dict[str, str],
               context: dict[str, Any] | None = None) -> bytes:
    """A feature dict -> serialized tf.Example. Types come from the model's parse spec
    (``feature_types``: name -> DT_FLOAT/DT_INT64/DT_STRING), else from the JSON values."""
    from tensorflow.core.example import example_pb2, feature_pb2

    if not isinstance(features, dict):
        raise BadRequest(f"an example must be an object of feature values, got {type(features).__name__}")
    merged = {**(context or {}), **features}
    feats = {}
    for name, value in merged.items():
        values = value if isinstance(value, list) else [value]
        kind = feature_types.get(name) or _infer(values, name)
        try:
            if kind == "DT_STRING":
                data = [_as_bytes(v, name) for v in values]
                feats[name] = feature_pb2.Feature(bytes_list=feature_pb2.BytesList(value=data))
            elif kind == "DT_INT64":
                feats[name] = feature_pb2.Feature(int64_list=feature_pb2.Int64List(value=[_as_int(v, name)
                                                                                          for v in values]))
            else:
                feats[name] = feature_pb2.Feature(float_list=feature_pb2.FloatList(value=[_as_float(v, name)
                                                                                          for v in values]))
        except (TypeError, ValueError) as err:
            raise BadRequest(str(err)) from None
    return example_pb2.Example(features=feature_pb2.Features(feature=feats)).SerializeToString()


def _infer(values: list[Any], name: str) -> str:
    if all(isinstance(v, bool) for v in values) or not values:
        return "DT_INT64"
    if all(isinstance(v, int) and not isinstance(v, bool) for v in values):
        return "DT_INT64"
    if all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in values):
        return "DT_FLOAT"
    if all(isinstance(v, (str, dict)) for v in values):
        return "DT_STRING"
    raise BadRequest(f"feature '{name}': values must all be numbers or all strings, got {values!r}"[:200])


def _as_bytes(value: Any, name: str) -> bytes:
    if isinstance(value, dict):
        return _unb64(value, f"feature '{name}'")
    if isinstance(value, str):
        return value.encode()
    raise TypeError(f"feature '{name}' expects strings (DT_STRING), got {type(value).__name__} {value!r}")


def _as_int(value: Any, name: str) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or (
            isinstance(value, float) and not value.is_integer()):
        raise TypeError(f"feature '{name}' expects integers (DT_INT64), got {type(value).__name__} {value!r}")
    return int(value)


def _as_float(value: Any, name: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise TypeError(f"feature '{name}' expects numbers (DT_FLOAT), got {type(value).__name__} {value!r}")
    return float(value)


def parse_examples(body: dict[str, Any], feature_types: dict[str, str]) -> list[bytes]:
    """A classify/regress body (``examples`` + optional ``context``) -> serialized tf.Examples."""
    examples = body.get("examples")
    if not isinstance(examples, list) or not examples:
        raise BadRequest("'examples' must be a non-empty JSON array of feature objects")
    context = body.get("context")
    if context is not None and not isinstance(context, dict):
        raise BadRequest("'context' must be an object of feature values")
    return [to_example(e, feature_types, context) for e in examples]


def to_json(arr: Any, name: str) -> Any:
    """An output tensor -> JSON; strings as utf-8, or ``{"b64"}`` when the output name
    ends in ``_bytes`` or the bytes are not utf-8 (TF Serving's rule)."""
    arr = np.asarray(arr)
    if arr.dtype == object or arr.dtype.kind == "S":
        def conv(v: Any) -> Any:
            if isinstance(v, list):
                return [conv(x) for x in v]
            if isinstance(v, bytes):
                if name.endswith("_bytes"):
                    return {"b64": base64.b64encode(v).decode()}
                try:
                    return v.decode()
                except UnicodeDecodeError:
                    return {"b64": base64.b64encode(v).decode()}
            return v
        return conv(arr.tolist())
    return arr.tolist()  # NaN/Infinity are written as TF Serving writes them (NaN, Infinity)


def format_predict(outputs: dict[str, Any], row_format: bool) -> dict[str, Any]:
    """TF Serving's reply: row -> ``predictions`` (a list per instance, or a list of dicts
    when there are several outputs); columnar -> ``outputs`` (the value, or a dict)."""
    names = sorted(outputs)
    if not row_format:
        if len(names) == 1:
            return {"outputs": to_json(outputs[names[0]], names[0])}
        return {"outputs": {n: to_json(outputs[n], n) for n in names}}
    if len(names) == 1:
        return {"predictions": to_json(outputs[names[0]], names[0])}
    sizes = {n: np.asarray(outputs[n]).shape[:1] for n in names}
    if len(set(sizes.values())) != 1:
        raise BadRequest(f"outputs have different batch sizes {sizes}; use the columnar 'inputs' format")
    cols = {n: to_json(outputs[n], n) for n in names}
    return {"predictions": [{n: cols[n][i] for n in names} for i in range(len(cols[names[0]]))]}
