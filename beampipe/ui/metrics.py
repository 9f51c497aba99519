"""Evaluation metrics of a run, for the compare page, without loading TFMA or TensorFlow.

The Evaluator records its metrics only in TFMA's output under the ModelEvaluation's URI
(``metrics-*.tfrecord``: TFRecord framing around ``MetricsForSlice`` protos) and its
verdict on the ModelBlessing (``blessed``). TFRecord framing is 12 bytes of header and 4 of
footer per record, read here directly; the proto class comes from TFMA's generated
``metrics_for_slice_pb2.py``, loaded from its file: that module needs only protobuf's own
wrappers, while importing it by name would run ``tensorflow_model_analysis/__init__``,
which loads TensorFlow (seconds, and a gigabyte).
"""
from __future__ import annotations

import importlib.util
import struct
import threading
from typing import Any

from beampipe import io
from beampipe.metadata.store import RUN_CONTEXT, MetadataStore

_PB2: Any = None
_PB2_LOCK = threading.Lock()


def _metrics_pb2() -> Any:
    global _PB2
    with _PB2_LOCK:
        if _PB2 is None:
            spec = importlib.util.find_spec("tensorflow_model_analysis")  # finds it; runs nothing
            if spec is None or not spec.submodule_search_locations:
                raise ImportError("tensorflow_model_analysis is not installed")
            path = f"{list(spec.submodule_search_locations)[0]}/proto/metrics_for_slice_pb2.py"
            mod_spec = importlib.util.spec_from_file_location("_beampipe_ui_metrics_for_slice_pb2", path)
            if mod_spec is None or mod_spec.loader is None:
                raise ImportError(f"cannot load {path}")
            module = importlib.util.module_from_spec(mod_spec)
            mod_spec.loader.exec_module(module)
            _PB2 = module
    return _PB2


def tfrecords(data: bytes) -> list[bytes]:
    """The records of a TFRecord file (CRCs not checked: the file is read, never trusted to run)."""
    out, off = [], 0
    while off + 12 <= len(data):
        (n,) = struct.unpack_from("<Q", data, off)
        off += 12
        if off + n + 4 > len(data):
            break
        out.append(data[off:off + n])
        off += n + 4
    return out


def evaluation_metrics(uri: str) -> dict[str, dict[str, float]]:
    """Scalar metrics by slice ('Overall', 'island = Dream') from a ModelEvaluation's URI."""
    pb2 = _metrics_pb2()
    table: dict[str, dict[str, float]] = {}
    for path in io.glob(io.join(uri, "metrics*")):
        for record in tfrecords(io.read_bytes(path)):
            msg = pb2.MetricsForSlice.FromString(record)
            keys = msg.slice_key.single_slice_keys
            where = ", ".join(f"{k.column} = {_slice_value(k)}" for k in keys) or "Overall"
            row = table.setdefault(where, {})
            for kv in msg.metric_keys_and_values:
                if kv.value.WhichOneof("type") != "double_value":
                    continue
                name = kv.key.name
                if kv.key.model_name:
                    name += f" [{kv.key.model_name}]"
                if kv.key.is_diff:
                    name += " (diff)"
                row[name] = kv.value.double_value.value
    return table


def _slice_value(key: Any) -> str:
    which = key.WhichOneof("kind")
    value = getattr(key, which) if which else ""
    return value.decode("utf-8", "replace") if isinstance(value, bytes) else str(value)


def run_metrics(store: MetadataStore, run_id: str) -> dict[str, float]:
    """The run's overall evaluation metrics (every ModelEvaluation it produced or re-used from
    cache) and its blessing (``blessed``: 1.0 / 0.0); {} when the run evaluated nothing."""
    ctx = store.call("get_context_by_type_and_name", RUN_CONTEXT, run_id)
    if ctx is None:
        return {}
    execs = {e.id: e for e in store.call("get_executions_by_context", ctx.id)}
    events = [ev for ev in store.call("get_events_by_execution_ids", list(execs)) if ev.type == store.pb.Event.OUTPUT] \
        if execs else []
    arts = store.artifacts_by_id({ev.artifact_id for ev in events}) if events else []
    evaluations = [a for a in arts if a.TYPE_NAME == "ModelEvaluation"]
    prefix = len(evaluations) > 1
    out: dict[str, float] = {}
    for art in sorted(evaluations, key=lambda a: a.id or 0):
        try:
            overall = evaluation_metrics(art.uri).get("Overall", {})
        except (OSError, ImportError, ValueError):  # a missing or foreign file: its metrics are absent
            overall = {}
        for name, value in overall.items():
            out[f"{art.id}: {name}" if prefix else name] = value
    for art in arts:
        if art.TYPE_NAME == "ModelBlessing" and "blessed" in art.custom_properties:
            out["blessed"] = float(art.custom_properties["blessed"])
    return out
