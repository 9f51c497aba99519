"""``beampipe serve`` throughput and latency, with and without batching, against the SavedModel
called in-process (the overhead ratio: HTTP + JSON + tf.Example building per request).

Serves a pushed penguin version (``--model DIR``, e.g. ``runs/penguin/serving_model/<version>``)
on 127.0.0.1 and sends single-row raw-feature predict requests from 1, 8 and 32 concurrent
aiohttp clients. Load is bounded (``--requests`` per setting) and local only.

    python benchmarks/serve.py --model runs/penguin/serving_model/<version> [--requests 1000]
"""
from __future__ import annotations

import argparse
import asyncio
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
ROW = {"bill_length_mm": 39.1, "bill_depth_mm": 18.7, "flipper_length_mm": 181, "body_mass_g": 3750,
       "island": "Torgersen", "sex": "male", "year": 2007}


def _port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


async def _load(url: str, clients: int, total: int) -> tuple[float, list[float]]:
    import aiohttp

    latencies: list[float] = []
    left = [total]

    async def client(session: aiohttp.ClientSession) -> None:
        while left[0] > 0:
            left[0] -= 1
            t0 = time.perf_counter()
            async with session.post(url, json={"instances": [ROW]}) as r:
                await r.read()
                assert r.status == 200, r.status
            latencies.append(time.perf_counter() - t0)

    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=clients)) as session:
        for _ in range(20):  # warm the connections
            async with session.post(url, json={"instances": [ROW]}) as r:
                await r.read()
        started = time.perf_counter()
        await asyncio.gather(*(client(session) for _ in range(clients)))
        return time.perf_counter() - started, latencies


def _pct(values: list[float], p: float) -> float:
    s = sorted(values)
    return s[min(len(s) - 1, int(p / 100 * len(s)))] * 1000


def _serve(base: str, batching: bool) -> tuple[subprocess.Popen, str]:
    port = _port()
    args = [sys.executable, "-m", "beampipe", "serve", "--model-name", "penguin", "--model-base-path", base,
            "--port", str(port), "--access-log", "off"]
    if batching:
        args += ["--enable-batching", "--max-batch-size", "32"]
    env = {**os.environ, "PYTHONPATH": ROOT, "TF_CPP_MIN_LOG_LEVEL": "2"}
    proc = subprocess.Popen(args, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}/v1/models/penguin"
    import urllib.request
    for _ in range(600):
        try:
            with urllib.request.urlopen(url, timeout=2) as r:
                if b"AVAILABLE" in r.read():
                    return proc, url + ":predict"
        except OSError:
            pass
        time.sleep(0.1)
    proc.kill()
    raise SystemExit("the server did not start")


def _in_process(model: str, total: int) -> float:
    """Seconds per single-row call of the signature, tf.Example building included."""
    import numpy as np

    from beampipe.serving.codec import to_example
    from beampipe.serving.model import ModelVersion

    mv = ModelVersion("penguin", 1, model)
    mv.load()
    mv.warm_up()
    started = time.perf_counter()
    for _ in range(total):
        mv.run("serving_default", {"examples": np.array([to_example(ROW, mv.feature_types)], dtype=object)})
    return (time.perf_counter() - started) / total


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", required=True, help="a pushed version directory (holds saved_model.pb)")
    parser.add_argument("--requests", type=int, default=1000, help="requests per setting (default 1000)")
    args = parser.parse_args()
    base = tempfile.mkdtemp(prefix="beampipe-serve-bench-")
    sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    from benchmarks.results import record
    try:
        shutil.copytree(args.model, os.path.join(base, "1"))
        per_call = _in_process(args.model, min(args.requests, 500))
        print(f"in-process SavedModel call (1 row): {per_call * 1000:.2f} ms  ({1 / per_call:.0f} calls/s)")
        print(f"{'batching':<9} {'clients':>7} {'req/s':>8} {'p50 ms':>8} {'p99 ms':>8} {'overhead':>9}")
        for batching in (False, True):
            proc, url = _serve(base, batching)
            try:
                for clients in (1, 8, 32):
                    seconds, lat = asyncio.run(_load(url, clients, args.requests))
                    print(f"{'on' if batching else 'off':<9} {clients:>7} {len(lat) / seconds:>8.0f} "
                          f"{_pct(lat, 50):>8.2f} {_pct(lat, 99):>8.2f} "
                          f"{(seconds / len(lat)) / per_call:>8.1f}x", flush=True)
                    if clients in (1, 32):
                        record("serve.py", f"single-row predict, {clients} client(s), batching "
                               f"{'on' if batching else 'off'}",
                               f"{len(lat) / seconds:.0f} req/s, p99 {_pct(lat, 99):.1f} ms",
                               "python benchmarks/serve.py --model DIR")
            finally:
                proc.terminate()
                proc.wait(20)
    finally:
        shutil.rmtree(base, ignore_errors=True)


if __name__ == "__main__":
    main()
