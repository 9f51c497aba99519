"""Prometheus text-format metrics, written by hand: a few counters and two histograms do not
need a client library, and serving keeps its dependency set to aiohttp and TensorFlow."""
from __future__ import annotations

import threading
from collections import defaultdict

LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
BATCH_BUCKETS = (1, 2, 4, 8, 16, 32, 64, 128, 256)

Labels = tuple[tuple[str, str], ...]


class _Histogram:
    def __init__(self, buckets: tuple[float, ...]) -> None:
        self.buckets = buckets
        self.counts = [0] * len(buckets)
        self.total = 0
        self.sum = 0.0

    def observe(self, value: float) -> None:
        self.total += 1
        self.sum += value
        for i, bound in enumerate(self.buckets):
            if value <= bound:
                self.counts[i] += 1


class Metrics:
    """Thread-safe: the poller thread records load events, request handlers the rest."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._requests: dict[Labels, int] = defaultdict(int)
        self._errors: dict[Labels, int] = defaultdict(int)
        self._loads: dict[Labels, int] = defaultdict(int)
        self._latency: dict[Labels, _Histogram] = {}
        self._batches: dict[Labels, _Histogram] = {}

    def request(self, model: str, version: str, method: str, code: int, seconds: float) -> None:
        labels = (("model", model), ("version", version), ("method", method))
        with self._lock:
            self._requests[labels + (("code", str(code)),)] += 1
            if code >= 400:
                self._errors[labels + (("code", str(code)),)] += 1
            hist = self._latency.get(labels) or self._latency.setdefault(labels, _Histogram(LATENCY_BUCKETS))
            hist.observe(seconds)

    def batch(self, model: str, version: int, size: int) -> None:
        labels = (("model", model), ("version", str(version)))
        with self._lock:
            hist = self._batches.get(labels) or self._batches.setdefault(labels, _Histogram(BATCH_BUCKETS))
            hist.observe(size)

    def load_event(self, model: str, version: int, outcome: str) -> None:
        with self._lock:
            self._loads[(("model", model), ("version", str(version)), ("outcome", outcome))] += 1

    def render(self, versions: list[tuple[str, int, str]]) -> str:
        """The exposition text; ``versions``: (model, version, state) for the state gauge."""
        out: list[str] = []
        with self._lock:
            _counter(out, "beampipe_serving_requests_total", "Requests by model, version, method and status code.",
                     self._requests)
            _counter(out, "beampipe_serving_request_errors_total", "Requests answered with a 4xx or 5xx.",
                     self._errors)
            _histogram(out, "beampipe_serving_request_duration_seconds", "Request latency.", self._latency)
            _histogram(out, "beampipe_serving_batch_size", "Rows per model call when batching is on.",
                       self._batches)
            _counter(out, "beampipe_serving_model_load_events_total",
                     "Version loads (success, failure) and unloads.", self._loads)
        out.append("# HELP beampipe_serving_model_version_available 1 if the version is AVAILABLE.")
        out.append("# TYPE beampipe_serving_model_version_available gauge")
        for model, version, state in versions:
            out.append(f'beampipe_serving_model_version_available{{model="{_esc(model)}",version="{version}",'
                       f'state="{state}"}} {1 if state == "AVAILABLE" else 0}')
        return "\n".join(out) + "\n"


def _esc(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


def _fmt(labels: Labels, extra: str = "") -> str:
    parts = [f'{k}="{_esc(v)}"' for k, v in labels]
    if extra:
        parts.append(extra)
    return "{" + ",".join(parts) + "}" if parts else ""


def _counter(out: list[str], name: str, help_: str, values: dict[Labels, int]) -> None:
    out += [f"# HELP {name} {help_}", f"# TYPE {name} counter"]
    out += [f"{name}{_fmt(labels)} {value}" for labels, value in sorted(values.items())]


def _histogram(out: list[str], name: str, help_: str, values: dict[Labels, _Histogram]) -> None:
    out += [f"# HELP {name} {help_}", f"# TYPE {name} histogram"]
    for labels, hist in sorted(values.items()):
        for bound, count in zip(hist.buckets, hist.counts):
            le = 'le="%g"' % bound
            out.append(f"{name}_bucket{_fmt(labels, le)} {count}")
        inf = 'le="+Inf"'
        out.append(f"{name}_bucket{_fmt(labels, inf)} {hist.total}")
        out.append(f"{name}_sum{_fmt(labels)} {hist.sum:.6f}")
        out.append(f"{name}_count{_fmt(labels)} {hist.total}")
