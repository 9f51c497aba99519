"""The pieces without a model: JSON codec, config files, sticky buckets, batching, CLI errors."""
from __future__ import annotations

import asyncio
import base64
import os
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest

from beampipe.serving import codec
from beampipe.serving.batching import Batcher
from beampipe.serving.config import ConfigError, load_config_file
from beampipe.serving.manager import bucket
from beampipe.serving.metrics import Metrics
from tests.serving.conftest import REPO

SIG = {"examples": {"dtype": "DT_STRING"}}
TYPES = {"x": "DT_FLOAT", "n": "DT_INT64", "s": "DT_STRING"}


def test_feature_dicts_become_examples_typed_by_the_models_parse_spec():
    import tensorflow as tf

    arrays, row = codec.parse_predict({"instances": [{"x": 1, "n": 2.0, "s": "a"}]}, SIG, TYPES)
    assert row is True
    ex = tf.train.Example.FromString(arrays["examples"][0])
    assert ex.features.feature["x"].float_list.value == [1.0]  # an int for a float feature is fine
    assert ex.features.feature["n"].int64_list.value == [2]
    assert ex.features.feature["s"].bytes_list.value == [b"a"]
    with pytest.raises(codec.BadRequest, match="feature 'n' expects integers"):
        codec.parse_predict({"instances": [{"n": 2.5}]}, SIG, TYPES)
    with pytest.raises(codec.BadRequest, match="feature 's' expects strings"):
        codec.parse_predict({"instances": [{"s": 3}]}, SIG, TYPES)


def test_b64_rows_columns_and_reply_shapes():
    raw = b"\x00\x01bytes\x00"
    b64 = {"b64": base64.b64encode(raw).decode()}
    arrays, row = codec.parse_predict({"instances": [b64, b64]}, SIG, {})
    assert row and arrays["examples"].tolist() == [raw, raw]  # trailing NULs kept
    arrays, row = codec.parse_predict({"inputs": {"examples": [b64]}}, SIG, {})
    assert not row and arrays["examples"].tolist() == [raw]
    two = {"a": {"dtype": "DT_FLOAT"}, "b": {"dtype": "DT_INT64"}}
    arrays, _ = codec.parse_predict({"instances": [{"a": [1.5, 2], "b": 3}, {"a": [0, 0], "b": 4}]}, two, {})
    assert arrays["a"].dtype == np.float32 and arrays["b"].tolist() == [3, 4]
    with pytest.raises(codec.BadRequest, match="instance 1"):
        codec.parse_predict({"instances": [{"a": [1], "b": 3}, {"a": [1]}]}, two, {})
    with pytest.raises(codec.BadRequest, match="expects numbers"):
        codec.parse_predict({"inputs": {"a": ["x"], "b": [1]}}, two, {})
    out = {"scores": np.array([[0.5, 0.5], [1.0, 0.0]], np.float32), "id_bytes": np.array([b"\xff", b"a"])}
    assert codec.format_predict(out, True)["predictions"][0] == {"id_bytes": {"b64": "/w=="}, "scores": [0.5, 0.5]}
    assert codec.format_predict({"y": np.array([1, 2])}, True) == {"predictions": [1, 2]}
    assert codec.format_predict({"y": np.array([1, 2])}, False) == {"outputs": [1, 2]}


def test_config_file_and_its_errors(tmp_path):
    good = tmp_path / "models.yaml"
    good.write_text("models:\n  - name: a\n    base_path: /m/a\n    version_policy: canary\n    canary_percent: 5\n"
                    "  - name: b\n    base_path: s3://bucket/b\n    version_policy: specific\n    versions: [3]\n"
                    "    batching: {max_batch_size: 8, batch_timeout_ms: 1}\n"
                    f"    tags: [serve, gpu]\n    request_log: {{dir: {tmp_path}/log, sample: 0.1}}\n")
    a, b = load_config_file(str(good))
    assert (a.policy.kind, a.policy.canary_percent, b.policy.versions, b.batching.max_batch_size) == \
        ("canary", 5.0, (3,), 8)
    assert (a.tags, a.request_log, b.tags) == ((), None, ("serve", "gpu"))
    assert (b.request_log.dir, b.request_log.sample, b.request_log.span_records) == (f"{tmp_path}/log", 0.1, 10000)
    for text, words in [("models: []", "non-empty"), ("models:\n  - name: a\n", "base_path"),
                        ("models:\n  - {name: a, base_path: /x, version_policy: newest}", "newest"),
                        ("models:\n  - {name: a, base_path: /x, version_policy: specific}", "versions"),
                        ("models:\n  - {name: a/b, base_path: /x}", "name"),
                        ("models:\n  - {name: a, base_path: /x, colour: red}", "colour"),
                        ("models: [", "not valid YAML"),
                        ("models:\n  - {name: a, base_path: /x, request_log: {sample: 0.1}}", "needs 'dir'"),
                        ("models:\n  - {name: a, base_path: /x, request_log: {dir: /l, sample: 2}}", "sample <= 1"),
                        ("models:\n  - {name: a, base_path: /x, request_log: {dir: 's3://b/l'}}", "local"),
                        ("models:\n  - {name: a, base_path: /x, tags: 3}", "tags")]:
        bad = tmp_path / "bad.yaml"
        bad.write_text(text)
        with pytest.raises(ConfigError, match=words):
            load_config_file(str(bad))


def test_buckets_are_sticky_and_uniform():
    assert bucket("user-1") == bucket("user-1")
    share = sum(bucket(f"u{i}") < 10 for i in range(20000)) / 20000
    assert 0.09 < share < 0.11


def test_batcher_merges_concurrent_requests_and_isolates_a_bad_one():
    calls = []

    def run(arrays):
        calls.append(len(arrays["x"]))
        if (arrays["x"] < 0).any():
            raise codec.BadRequest("negative")
        return {"y": arrays["x"] * 2}

    metrics = Metrics()

    async def main():
        batcher = Batcher(run, ThreadPoolExecutor(2), max_batch_size=8, timeout_ms=20,
                          on_batch=lambda n: metrics.batch("m", 1, n))
        good = [batcher.submit({"x": np.array([i])}) for i in range(5)]
        results = await asyncio.gather(*good)
        bad = await asyncio.gather(batcher.submit({"x": np.array([1])}), batcher.submit({"x": np.array([-1])}),
                                   return_exceptions=True)
        return results, bad

    results, bad = asyncio.run(main())
    assert [r["y"].tolist() for r in results] == [[0], [2], [4], [6], [8]]
    assert calls[0] == 5  # one model call for the five
    assert bad[0]["y"].tolist() == [2] and isinstance(bad[1], codec.BadRequest)
    assert 'beampipe_serving_batch_size_bucket{model="m",version="1",le="8"} 2' in metrics.render([])


@pytest.mark.parametrize("args, words", [
    ([], "needs --model-name and --model-base-path"),
    (["--model-name", "a", "--model-base-path", "/x", "--model-config-file", "c.yaml"], "not both"),
    (["--model-config-file", "/nonexistent.yaml"], "cannot read"),
    (["--model-name", "a b", "--model-base-path", "/x"], "'name'"),
    (["--model-config-file", "c.yaml", "--request-log-dir", "/l"], "request_log"),
    (["--model-name", "a", "--model-base-path", "/x", "--request-log-dir", "/l", "--request-log-sample", "0"],
     "sample <= 1"),
])
def test_cli_errors_are_one_line(args, words):
    env = {**os.environ, "PYTHONPATH": REPO}
    out = subprocess.run([sys.executable, "-m", "beampipe", "serve", *args], capture_output=True, text=True,
                         env=env, timeout=60)
    assert out.returncode == 2
    lines = out.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("beampipe: ") and words in lines[0], out.stderr


def test_admin_api_refuses_clients_beyond_this_machine():
    from unittest import mock

    from aiohttp import web
    from aiohttp.test_utils import make_mocked_request

    from beampipe.serving.admin import _local_only

    def request(peer: str):
        transport = mock.Mock()
        transport.get_extra_info.side_effect = lambda name, default=None: (peer, 5000) if name == "peername" \
            else default
        return make_mocked_request("POST", "/admin/models/m/promote", transport=transport)

    _local_only(request("127.0.0.1"))
    _local_only(request("::1"))
    with pytest.raises(web.HTTPForbidden):
        _local_only(request("10.1.2.3"))


def test_request_log_spans_files_and_rows(tmp_path):
    """Rows go into span-<N>/requests-*.tfrecord.gz, a new span every span_records rows, after the
    highest span already there; no temporary file is left visible."""
    import gzip

    import numpy as np
    import tensorflow as tf

    from beampipe.serving.request_log import RequestLog, RequestLogConfig

    os.makedirs(tmp_path / "span-7")
    log = RequestLog(RequestLogConfig(dir=str(tmp_path), span_records=3, flush_records=2, flush_seconds=0.2))
    ex = tf.train.Example()
    ex.features.feature["island"].bytes_list.value.append(b"Dream")
    for _ in range(2):
        log.add(4, {"examples": np.array([ex.SerializeToString()] * 2, dtype=object)},
                {"probabilities": np.array([[0.5, 0.5], [0.1, 0.9]], dtype=np.float32)})
    log.add(4, {"x": np.array([[1.5], [2.5]], dtype=np.float32)}, {"y": np.array([1, 2])})
    log.close()
    files = sorted(str(p.relative_to(tmp_path)) for p in tmp_path.rglob("*") if p.is_file())
    assert all(f.startswith(("span-8/requests-", "span-9/requests-")) and f.endswith(".tfrecord.gz")
               for f in files), files
    rows = [tf.train.Example.FromString(r.numpy()) for f in files
            for r in tf.data.TFRecordDataset(str(tmp_path / f), compression_type="GZIP")]
    assert len(rows) == 6 and log.written == 6
    assert sum(1 for f in files if f.startswith("span-8/") for _ in
               tf.data.TFRecordDataset(str(tmp_path / f), compression_type="GZIP")) == 3
    first, last = rows[0].features.feature, rows[-1].features.feature
    assert first["island"].bytes_list.value == [b"Dream"] and first["model_version"].int64_list.value == [4]
    assert list(first["prediction_probabilities"].float_list.value) == [0.5, 0.5]
    assert list(last["x"].float_list.value) == [2.5] and list(last["prediction_y"].int64_list.value) == [2]
    assert gzip.open(tmp_path / files[0]).read(1)  # really gzip

    sampled = RequestLog(RequestLogConfig(dir=str(tmp_path / "sampled"), sample=0.1), seed=1)
    share = sum(sampled.sampled() for _ in range(5000)) / 5000
    sampled.close()
    assert 0.08 < share < 0.12 and not os.listdir(tmp_path / "sampled")  # nothing logged: no span dir


def test_a_server_started_for_a_job_stops_when_the_job_is_gone(tmp_path):
    """InfraValidator's server gets --exit-with-pid: if the pipeline is SIGKILLed, it stops too."""
    import signal
    import subprocess
    import sys
    import time

    job = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(600)"])
    (tmp_path / "models").mkdir()
    server = subprocess.Popen([sys.executable, "-m", "beampipe", "serve", "--model-name", "m", "--model-base-path",
                               str(tmp_path / "models"), "--port", "0", "--access-log", "off",
                               "--exit-with-pid", str(job.pid)],
                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        lines = [server.stdout.readline() for _ in range(2)]  # a warning (no versions yet) and the URL
        assert any("beampipe serve: http://127.0.0.1:" in line for line in lines), lines
        assert server.poll() is None
        job.send_signal(signal.SIGKILL)
        job.wait()
        deadline = time.monotonic() + 30
        while server.poll() is None and time.monotonic() < deadline:
            time.sleep(0.2)
        assert server.poll() == 0, "the server outlived the process it was started for"
    finally:
        job.kill()
        server.kill()
