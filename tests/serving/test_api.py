"""TF Serving's REST API, as its documented JSON shapes, against the pushed penguin model."""
from __future__ import annotations

import base64
import json
import os
import subprocess
import sys

import pytest

from tests.serving.conftest import REPO, ROW, push, start_server

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def server(penguin_model, tmp_path_factory):
    tmp = str(tmp_path_factory.mktemp("serve-api"))
    base = os.path.join(tmp, "models")
    os.makedirs(base)
    for v in (1, 2, 3):
        push(penguin_model, base, v)
    config = os.path.join(tmp, "models.yaml")
    with open(config, "w") as f:
        f.write(f"models:\n  - name: penguin\n    base_path: {base}\n    version_policy: specific\n"
                f"    versions: [1, 2, 3]\n    labels: {{stable: 2}}\n")
    srv = start_server(tmp, "--model-config-file", config, "--max-body-bytes", "65536",
                       ready=lambda srv: list(srv.versions().values()) == ["AVAILABLE"] * 3)
    yield srv
    srv.stop()


def _example(row: dict) -> bytes:
    import tensorflow as tf
    feats = {}
    for k, v in row.items():
        if isinstance(v, str):
            feats[k] = tf.train.Feature(bytes_list=tf.train.BytesList(value=[v.encode()]))
        elif isinstance(v, float):
            feats[k] = tf.train.Feature(float_list=tf.train.FloatList(value=[v]))
        else:
            feats[k] = tf.train.Feature(int64_list=tf.train.Int64List(value=[v]))
    return tf.train.Example(features=tf.train.Features(feature=feats)).SerializeToString()


def test_status_and_metadata_have_tf_serving_shapes(server):
    r = server.get("/v1/models/penguin")
    assert r.status_code == 200
    assert r.json() == {"model_version_status": [
        {"version": v, "state": "AVAILABLE", "status": {"error_code": "OK", "error_message": ""}}
        for v in ("3", "2", "1")]}
    one = server.get("/v1/models/penguin/versions/2").json()["model_version_status"]
    assert [s["version"] for s in one] == ["2"]
    meta = server.get("/v1/models/penguin/metadata")
    assert meta.headers["X-Model-Version"] == "3"
    body = meta.json()
    assert body["model_spec"] == {"name": "penguin", "signature_name": "", "version": "3"}
    sig = body["metadata"]["signature_def"]["signature_def"]["serving_default"]
    assert sig["method_name"] == "tensorflow/serving/predict"
    assert sig["inputs"]["examples"]["dtype"] == "DT_STRING"
    assert sig["outputs"]["probabilities"]["tensor_shape"]["dim"][1]["size"] == "3"
    assert server.get("/v1/models/penguin/labels/stable/metadata").json()["model_spec"]["version"] == "2"


def test_predict_raw_features_rows_and_serialized_examples_agree_with_the_savedmodel(server, penguin_model):
    import tensorflow as tf

    rows = [ROW, {**ROW, "bill_length_mm": 50.0, "bill_depth_mm": 15.0, "flipper_length_mm": 220,
                  "body_mass_g": 5500, "island": "Biscoe"}]
    r = server.post("/v1/models/penguin:predict", {"instances": rows})
    assert r.status_code == 200, r.text
    assert r.headers["X-Model-Version"] == "3"
    preds = r.json()["predictions"]
    assert [sorted(p) for p in preds] == [["outputs", "probabilities"]] * 2
    expected = tf.saved_model.load(penguin_model).signatures["serving_default"](
        examples=tf.constant([_example(x) for x in rows]))["probabilities"].numpy()
    for got, want in zip(preds, expected):
        assert got["probabilities"] == pytest.approx(want.tolist(), abs=1e-6)
    b64 = [{"b64": base64.b64encode(_example(x)).decode()} for x in rows]
    row_b64 = server.post("/v1/models/penguin:predict", {"instances": b64}).json()["predictions"]
    assert row_b64 == preds
    cols = server.post("/v1/models/penguin/versions/1:predict",
                       {"signature_name": "serving_default", "inputs": {"examples": b64}})
    assert cols.headers["X-Model-Version"] == "1"
    assert cols.json()["outputs"]["probabilities"] == [p["probabilities"] for p in preds]
    assert server.post("/v1/models/penguin/labels/stable:predict",
                       {"inputs": b64}).headers["X-Model-Version"] == "2"


def test_classify_and_regress(server):
    r = server.post("/v1/models/penguin:classify", {"context": {"year": 2007}, "examples": [
        {k: v for k, v in ROW.items() if k != "year"}]})
    assert r.status_code == 200, r.text
    [result] = r.json()["results"]
    assert [label for label, _ in result] == ["0", "1", "2"]
    assert sum(score for _, score in result) == pytest.approx(1.0, abs=1e-5)
    reg = server.post("/v1/models/penguin:regress", {"examples": [ROW]})
    assert reg.status_code == 400 and "cannot regress" in reg.json()["error"]


@pytest.mark.parametrize("path, body, status, words", [
    ("/v1/models/penguin:predict", b'{"instances": [', 400, "JSON Parse error"),
    ("/v1/models/penguin:predict", b'[1, 2]', 400, "JSON object"),
    ("/v1/models/penguin:predict", {"instances": [{**ROW, "bill_length_mm": "long"}]}, 400, "bill_length_mm"),
    ("/v1/models/penguin:predict", {"instances": [{**ROW, "flipper_length_mm": 181.5}]}, 400, "flipper_length_mm"),
    ("/v1/models/penguin:predict", {"instances": [{k: v for k, v in ROW.items() if k != "island"}]}, 400,
     "island"),
    ("/v1/models/penguin:predict", {"instances": [{"b64": "not base64!"}]}, 400, "base64"),
    ("/v1/models/penguin:predict", {"instances": [{"b64": "aGVsbG8="}]}, 400, "parse"),
    ("/v1/models/penguin:predict", {"inputs": [1.5]}, 400, "DT_STRING"),
    ("/v1/models/penguin:predict", {"rows": []}, 400, "instances"),
    ("/v1/models/penguin:predict", {"instances": [ROW], "signature_name": "nope"}, 400, "nope"),
    ("/v1/models/penguin:classify", {"examples": "x"}, 400, "examples"),
    ("/v1/models/nope:predict", {"instances": [ROW]}, 404, "nope"),
    ("/v1/models/penguin/versions/9:predict", {"instances": [ROW]}, 404, "9"),
    ("/v1/models/penguin/versions/x:predict", {"instances": [ROW]}, 400, "version"),
    ("/v1/models/penguin/labels/canary:predict", {"instances": [ROW]}, 404, "canary"),
    ("/v1/models/penguin:explain", {"instances": [ROW]}, 404, "Malformed"),
    ("/v1/models/penguin:predict", {"instances": [ROW] * 2000}, 413, "too large"),
])
def test_bad_requests_get_tf_serving_errors_naming_the_problem(server, path, body, status, words):
    r = server.post(path, data=body if isinstance(body, bytes) else json.dumps(body))
    assert r.status_code == status, r.text
    assert set(r.json()) == {"error"}
    assert words.lower() in r.json()["error"].lower()


def test_unknown_model_status_and_wrong_methods(server):
    assert server.get("/v1/models/nope").status_code == 404
    assert server.get("/v1/models/penguin/versions/9").status_code == 404
    assert server.get("/v1/models/penguin:predict").status_code == 405
    assert server.get("/nowhere").json() == {"error": "Not Found"}
    assert server.proc.poll() is None  # still up after every bad request


def test_metrics_and_json_access_log(server):
    server.post("/v1/models/penguin:predict", {"instances": [ROW]})
    text = server.get("/metrics").text
    assert 'beampipe_serving_requests_total{model="penguin",version="3",method="predict",code="200"}' in text
    assert 'beampipe_serving_request_duration_seconds_bucket{model="penguin",version="3",method="predict",le="+Inf"}' \
        in text
    assert 'beampipe_serving_model_load_events_total{model="penguin",version="1",outcome="success"} 1' in text
    with open(server.access_log) as f:
        lines = [json.loads(line) for line in f if line.strip()]
    predicted = [x for x in lines if x["path"] == "/v1/models/penguin:predict" and x["status"] == 200]
    assert predicted and predicted[-1]["version"] == "3" and predicted[-1]["ms"] > 0


def test_serving_loads_the_transform_graph_with_tensorflow_alone(penguin_model):
    """The serving code path imports TensorFlow, never Beam, TFT, TFDV or TFMA."""
    code = ("import sys, numpy as np\n"
            "from beampipe.serving.model import ModelVersion\n"
            "from beampipe.serving.codec import to_example\n"
            f"mv = ModelVersion('penguin', 1, {penguin_model!r}); mv.load(); mv.warm_up()\n"
            f"ex = to_example({ROW!r}, mv.feature_types)\n"
            "out = mv.run('serving_default', {'examples': np.array([ex], dtype=object)})\n"
            "assert out['probabilities'].shape == (1, 3)\n"
            "import beampipe.serving.server, beampipe.serving.runner, beampipe.cli.serve\n"
            "bad = [m for m in ('apache_beam', 'tensorflow_transform', 'tensorflow_data_validation',\n"
            "       'tensorflow_model_analysis', 'tfx_bsl') if m in sys.modules]\n"
            "print('HEAVY', bad)\n")
    env = {**os.environ, "PYTHONPATH": REPO, "TF_CPP_MIN_LOG_LEVEL": "2"}
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr[-2000:]
    assert "HEAVY []" in out.stdout
