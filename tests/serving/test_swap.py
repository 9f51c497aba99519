"""Hot swap: new versions take traffic atomically, broken ones never answer, even under load."""
from __future__ import annotations

import os
import threading
import time

import pytest
import requests

from tests.serving.conftest import ROW, push, push_broken, start_server

pytestmark = pytest.mark.e2e
BODY = {"instances": [ROW]}


@pytest.fixture(scope="module")
def served(penguin_model, tmp_path_factory):
    tmp = str(tmp_path_factory.mktemp("serve-swap"))
    base = os.path.join(tmp, "models")
    os.makedirs(base)
    push(penguin_model, base, 1)
    srv = start_server(tmp, "--model-name", "penguin", "--model-base-path", base)
    yield srv, base
    srv.stop()


def _version(srv) -> str:
    r = srv.post("/v1/models/penguin:predict", BODY)
    assert r.status_code == 200, r.text
    return r.headers["X-Model-Version"]


def test_new_version_swaps_in_and_a_broken_one_is_reported_never_served(served, penguin_model):
    srv, base = served
    assert _version(srv) == "1"
    push(penguin_model, base, 2)
    srv.wait_for(lambda: _version(srv) == "2", timeout=60)
    srv.wait_for(lambda: srv.versions() == {"2": "AVAILABLE", "1": "END"})  # old one unloaded
    push_broken(base, 3)
    srv.wait_for(lambda: srv.versions().get("3") == "END")
    [status] = srv.get("/v1/models/penguin/versions/3").json()["model_version_status"]
    assert status["status"]["error_code"] == "UNKNOWN" and "saved_model.pb" in status["status"]["error_message"]
    assert {_version(srv) for _ in range(20)} == {"2"}
    assert srv.post("/v1/models/penguin/versions/3:predict", BODY).status_code == 404
    assert 'version="3",outcome="failure"} 1' in srv.get("/metrics").text


def test_swap_under_load_drops_nothing_and_answers_only_from_live_versions(served, penguin_model):
    """The issue's bounded load: 8 clients, at least 20,000 requests, while versions 4 (good), 5 (broken)
    and 6 (good) are pushed."""
    srv, base = served
    assert _version(srv) == "2"
    done = threading.Event()
    results: list[list[tuple[float, float, int, str]]] = [[] for _ in range(8)]

    def client(out: list) -> None:
        with requests.Session() as s:
            while not done.is_set() or len(out) < 2500:
                t0 = time.monotonic()
                try:
                    r = s.post(srv.url + "/v1/models/penguin:predict", json=BODY, timeout=30)
                    out.append((t0, time.monotonic(), r.status_code, r.headers.get("X-Model-Version", "")))
                except requests.RequestException as err:
                    out.append((t0, time.monotonic(), 0, repr(err)))

    threads = [threading.Thread(target=client, args=(out,)) for out in results]
    started = time.monotonic()
    for t in threads:
        t.start()
    pushed = {}
    time.sleep(0.5)
    for version, broken in ((4, False), (5, True), (6, False)):
        pushed[str(version)] = time.monotonic()
        if broken:
            push_broken(base, version)
            srv.wait_for(lambda: srv.versions().get("5") == "END", timeout=60)
        else:
            push(penguin_model, base, version)
            srv.wait_for(lambda v=version: any(r and r[-1][3] == str(v) for r in results), timeout=60)
        time.sleep(0.3)
    done.set()
    for t in threads:
        t.join(600)
    elapsed = time.monotonic() - started
    flat = [r for out in results for r in out]
    print(f"swap under load: {len(flat)} requests from 8 clients in {elapsed:.1f}s")
    assert len(flat) >= 20000
    assert [r for r in flat if r[2] != 200] == []  # 0 failed requests
    assert {r[3] for r in flat} <= {"2", "4", "6"} and {"4", "6"} <= {r[3] for r in flat}
    for _, end, _, version in flat:  # never before it was pushed
        assert version == "2" or end > pushed[version]
    for out in results:  # swaps are atomic: once a client saw a version, it never sees an older one
        seen = [int(r[3]) for r in out]
        assert seen == sorted(seen)
    srv.wait_for(lambda: srv.versions() == {"6": "AVAILABLE", "5": "END", "4": "END", "3": "END", "2": "END",
                                            "1": "END"})


def test_warmup_file_is_replayed_and_a_version_failing_warmup_is_never_served(served, penguin_model, tmp_path):
    """InfraValidator's stamped model (assets.extra/tf_serving_warmup_requests) warms the version;
    a version whose warmup requests fail is reported like one that does not load."""
    from beampipe.components.infra_warmup import write_warmup_model
    from beampipe.serving.codec import to_example

    srv, base = served
    good, bad = str(tmp_path / "good"), str(tmp_path / "bad")
    types = {"bill_length_mm": "DT_FLOAT", "bill_depth_mm": "DT_FLOAT", "flipper_length_mm": "DT_INT64",
             "body_mass_g": "DT_INT64", "island": "DT_STRING", "sex": "DT_STRING", "year": "DT_INT64"}
    write_warmup_model(penguin_model, good, "penguin", ["serving_default"], ["serve"], [to_example(ROW, types)] * 4)
    write_warmup_model(penguin_model, bad, "penguin", ["serving_default"], ["serve"], [b"not a tf.Example"])
    push(bad, base, 7)
    srv.wait_for(lambda: srv.versions().get("7") == "END")
    [status] = srv.get("/v1/models/penguin/versions/7").json()["model_version_status"]
    assert "parse" in status["status"]["error_message"].lower()
    assert {_version(srv) for _ in range(10)} == {"6"}
    push(good, base, 8)
    srv.wait_for(lambda: _version(srv) == "8")
    with open(srv.access_log.replace("access-", "serve-").replace(".jsonl", ".err")) as f:
        assert "version 8 loaded and warmed (4 requests)" in f.read()
