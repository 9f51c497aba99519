"""Request logging that closes the loop: sampled requests and their predictions as tf.Examples.

A sampled fraction of predict/classify/regress requests (``sample``, per request: every row of a
sampled request is logged) is written, one tf.Example per row, as gzipped TFRecord files in span
directories that ``ImportExampleGen`` reads with ``input_config`` pattern
``span-{SPAN}/requests-*.tfrecord.gz``::

    DIR/span-1/requests-00000.tfrecord.gz
    DIR/span-1/requests-00001.tfrecord.gz
    DIR/span-2/...

Each row's tf.Example holds the request's input features (the tf.Example the client sent, or its
raw feature values; for a signature taking plain tensors, one feature per input) plus
``prediction_<output>`` (the output values, flattened: float, int64 or bytes) and
``model_version``. Spans: a server starts a new span after the highest one in DIR (never
appending to a span an earlier run wrote) and moves on to the next span after ``span_records``
rows, so a span is a closed batch of requests once a later span exists. Files: rows are buffered
and written every ``flush_records`` rows or ``flush_seconds`` seconds and when the server stops;
each file is written under a hidden temporary name (``.requests-*.tmp``, which the pattern does
not match) and renamed into place, so no half-written file is ever visible.

Writing happens on one background thread (the event loop only samples and enqueues); when the
queue is full (the disk is slower than the traffic) rows are dropped and counted, never a
request slowed down.
"""
from __future__ import annotations

import logging
import os
import queue
import random
import re
import threading
import time
from dataclasses import dataclass
from typing import Any

import numpy as np

log = logging.getLogger("beampipe.serving")
SPAN_DIR = re.compile(r"^span-(\d+)$")
PATTERN = "span-{SPAN}/requests-*.tfrecord.gz"  # ImportExampleGen's input_config pattern


@dataclass(frozen=True)
class RequestLogConfig:
    dir: str
    sample: float = 1.0
    span_records: int = 10000
    flush_records: int = 1000
    flush_seconds: float = 5.0


class RequestLog:
    """Sampled requests of one model into ``config.dir``."""

    def __init__(self, config: RequestLogConfig, seed: int | None = None) -> None:
        self.config = config
        self._random = random.Random(seed)
        self._queue: queue.Queue = queue.Queue(maxsize=10000)
        self.dropped = 0  # the queue was full
        self.failed = 0   # a request that could not be converted, or a file that could not be written
        self.written = 0
        os.makedirs(config.dir, exist_ok=True)
        spans = [int(m.group(1)) for n in os.listdir(config.dir) if (m := SPAN_DIR.match(n))]
        self.span = max(spans, default=0) + 1
        self._span_rows = 0
        self._file_seq = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="beampipe-request-log", daemon=True)
        self._thread.start()

    def sampled(self) -> bool:
        return self.config.sample >= 1.0 or self._random.random() < self.config.sample

    def add(self, version: int, inputs: dict[str, np.ndarray] | list[bytes], outputs: dict[str, Any]) -> None:
        """One answered request: ``inputs`` the signature's input arrays (or serialized
        tf.Examples), ``outputs`` its output arrays (batch-major)."""
        try:
            self._queue.put_nowait((version, inputs, outputs))
        except queue.Full:
            self.dropped += 1

    def metrics(self, model: str) -> list[str]:
        """Prometheus lines: rows written, dropped and failed, and the current span."""
        name = "beampipe_serving_request_log_rows_total"
        return [f'{name}{{model="{model}",outcome="{outcome}"}} {count}'
                for outcome, count in (("written", self.written), ("dropped", self.dropped), ("failed", self.failed))
                ] + [f'beampipe_serving_request_log_span{{model="{model}"}} {self.span}']

    def close(self) -> None:
        """Write what is buffered and stop the writer thread."""
        self._stop.set()
        self._thread.join(60)

    # -- writer thread ------------------------------------------------------------------------
    def _loop(self) -> None:
        rows: list[bytes] = []
        last = time.monotonic()
        while True:
            stopping = self._stop.is_set()
            try:
                item = self._queue.get(timeout=0.2)
            except queue.Empty:
                item = None
            if item is not None:
                try:
                    rows.extend(_rows(*item))
                except Exception as err:  # noqa: BLE001 - a row we cannot convert is skipped, logged
                    self.failed += 1
                    log.warning("request log: a request could not be logged: %s: %s", type(err).__name__, err)
            due = (len(rows) >= self.config.flush_records or
                   (rows and time.monotonic() - last >= self.config.flush_seconds))
            if rows and (due or (stopping and item is None)):
                rows = self._write(rows)
                last = time.monotonic()
            if stopping and item is None and not rows:
                return

    def _write(self, rows: list[bytes]) -> list[bytes]:
        """Write rows into the current span (as many as fit), rename into place; the rest."""
        import tensorflow as tf

        room = self.config.span_records - self._span_rows
        batch, rest = rows[:room], rows[room:]
        span_dir = os.path.join(self.config.dir, f"span-{self.span}")
        os.makedirs(span_dir, exist_ok=True)
        name = f"requests-{self._file_seq:05d}.tfrecord.gz"
        tmp = os.path.join(span_dir, f".{name}.tmp")
        try:
            with tf.io.TFRecordWriter(tmp, options="GZIP") as writer:
                for row in batch:
                    writer.write(row)
            os.replace(tmp, os.path.join(span_dir, name))
        except Exception as err:  # noqa: BLE001 - logging must not take serving down
            log.error("request log: writing %s failed, %d row(s) lost: %s", tmp, len(batch), err)
            self.failed += len(batch)
            try:
                os.remove(tmp)
            except OSError:
                pass
            return rest
        self.written += len(batch)
        self._file_seq += 1
        self._span_rows += len(batch)
        if self._span_rows >= self.config.span_records:
            self.span, self._span_rows, self._file_seq = self.span + 1, 0, 0
        return rest


def _rows(version: int, inputs: dict[str, np.ndarray] | list[bytes],
          outputs: dict[str, Any]) -> list[bytes]:
    """Serialized tf.Examples, one per row: the inputs' features + prediction_<output> + model_version."""
    from tensorflow.core.example import example_pb2

    if isinstance(inputs, dict) and len(inputs) == 1 and np.asarray(next(iter(inputs.values()))).dtype == object:
        inputs = [bytes(v) for v in np.asarray(next(iter(inputs.values()))).reshape(-1)]
    if isinstance(inputs, list):
        examples = [example_pb2.Example.FromString(r) for r in inputs]
    else:
        n = len(np.asarray(next(iter(inputs.values()))))
        examples = [example_pb2.Example() for _ in range(n)]
        for name, arr in inputs.items():
            for i, row in enumerate(np.asarray(arr)):
                _set(examples[i].features.feature[name], row)
    for key, arr in outputs.items():
        arr = np.asarray(arr)
        if arr.ndim == 0 or len(arr) != len(examples):
            continue
        for i, row in enumerate(arr):
            _set(examples[i].features.feature[f"prediction_{key}"], row)
    for example in examples:
        example.features.feature["model_version"].int64_list.value.append(int(version))
    return [e.SerializeToString() for e in examples]


def _set(feature: Any, value: Any) -> None:
    flat = np.asarray(value).reshape(-1)
    if flat.dtype == object or flat.dtype.kind in "SU":
        feature.bytes_list.value.extend(v if isinstance(v, bytes) else str(v).encode() for v in flat)
    elif flat.dtype.kind in "biu":
        feature.int64_list.value.extend(int(v) for v in flat)
    else:
        feature.float_list.value.extend(float(v) for v in flat)
