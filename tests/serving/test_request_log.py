"""Closing the loop: `beampipe serve --request-log-dir` logs requests that the skew pipeline
(examples/penguin/penguin_serving_skew.py) compares with the training data."""
from __future__ import annotations

import csv
import glob
import os

from tests.serving.conftest import PENGUIN_DIR, start_server

NUMBERS = {"bill_length_mm": float, "bill_depth_mm": float, "flipper_length_mm": int, "body_mass_g": int,
           "year": int}


def penguin_rows() -> list[dict]:
    with open(os.path.join(PENGUIN_DIR, "data", "penguins.csv")) as f:
        rows = list(csv.DictReader(f))
    return [{k: NUMBERS[k](v) if k in NUMBERS else v for k, v in row.items() if k != "species"}
            for row in rows if all(row.values())]  # the complete rows (the model needs every feature)


def test_request_log_feeds_the_skew_pipeline(penguin_model, tmp_path):
    from tensorflow_metadata.proto.v0 import anomalies_pb2

    from beampipe.metadata.artifacts import ExampleAnomalies
    from beampipe.orchestration.ir import load_module_from_file
    from beampipe.orchestration.local_runner import LocalDagRunner
    from tests.serving.conftest import push

    base, log_dir = tmp_path / "models", tmp_path / "request_log"
    os.makedirs(base)
    push(penguin_model, str(base), 1)
    server = start_server(str(tmp_path), "--model-name", "penguin", "--model-base-path", str(base),
                          "--request-log-dir", str(log_dir), "--request-log-sample", "1.0")
    rows = penguin_rows()
    for row in rows:
        row["body_mass_g"] += 3000  # serving sees heavier penguins than training did
    try:
        for i in range(0, len(rows), 16):
            r = server.post("/v1/models/penguin:predict", {"instances": rows[i:i + 16]})
            assert r.status_code == 200, r.text
        text = server.get("/metrics").text
        assert 'beampipe_serving_request_log_span{model="penguin"} 1' in text
        assert 'beampipe_serving_request_log_rows_total{model="penguin",outcome="dropped"} 0' in text
    finally:
        server.stop()  # SIGTERM: the buffered rows are written
    files = sorted(glob.glob(str(log_dir / "span-*" / "*")) + glob.glob(str(log_dir / "span-*" / ".*")))
    assert files and all(os.path.basename(f).startswith("requests-") and f.endswith(".tfrecord.gz")
                         for f in files), files

    module = load_module_from_file(os.path.join(PENGUIN_DIR, "penguin_serving_skew.py"), "penguin_serving_skew")
    root = str(tmp_path / "skew")
    pipe = module.create_pipeline(pipeline_name="penguin_skew", pipeline_root=root, data_root=module.DATA_ROOT,
                                  request_log_dir=str(log_dir))
    result = LocalDagRunner().run(pipe)
    assert result.status == "COMPLETE", {n: r.error for n, r in result.nodes.items() if r.error}
    [uri] = glob.glob(os.path.join(root, "ExampleValidator", "anomalies", "*"))
    art = ExampleAnomalies(uri)
    for split in ("train", "eval"):
        with open(art.anomalies_file(split), "rb") as f:
            anomalies = anomalies_pb2.Anomalies.FromString(f.read())
        assert set(anomalies.anomaly_info) == {"body_mass_g"}, anomalies  # only the shifted feature
        info = anomalies.anomaly_info["body_mass_g"]
        assert "between training and serving" in info.description, info
        assert info.reason[0].type == anomalies_pb2.AnomalyInfo.COMPARATOR_JENSEN_SHANNON_DIVERGENCE_HIGH
