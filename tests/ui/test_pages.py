"""The pages over a real store (SQLite and PostgreSQL): what each shows, live updates,
escaping of hostile strings, and that the UI never writes."""
from __future__ import annotations

import json
import re

from beampipe.metadata.store import RUN_CONTEXT
from tests.ui.ui_pipeline import ERROR_PAYLOAD, PAYLOAD


def _artifact_ids(store, run_id: str) -> dict[str, int]:
    return {f"{node}.{a.TYPE_NAME}": a.id for a, node in store.artifacts_in_run(run_id)}


def test_runs_page_lists_every_run_with_state_and_counts(site):
    status, html, headers = site.get("/")
    assert status == 200 and "script-src 'self'" in headers["Content-Security-Policy"]
    assert 'id="runs-table"' in html
    for key, state in (("ok", "COMPLETE"), ("other", "COMPLETE"), ("failed", "FAILED"), ("live", "RUNNING")):
        assert f'data-run-id="{site.runs[key]}" data-state="{state}"' in html
    row = re.search(rf'data-run-id="{site.runs["other"]}".*?</tr>', html, re.S).group(0)
    assert re.search(r'count-cached">1<', row) and re.search(r'count-complete">2<', row)
    failed_row = re.search(rf'data-run-id="{site.runs["failed"]}".*?</tr>', html, re.S).group(0)
    assert re.search(r'count-failed">1<', failed_row) and re.search(r'count-not_run">1<', failed_row)
    assert "steps=300" in row


def test_runs_page_filters(site):
    _, html, _ = site.get("/?state=FAILED")
    assert site.runs["failed"] in html and site.runs["ok"] not in html
    _, html, _ = site.get("/?pipeline=nope")
    assert "no runs recorded that match the filters" in html


def test_live_updates_follow_a_running_run(site):
    _, html, _ = site.get("/")
    assert 'data-live="/api/runs"' in html
    status, body, headers = site.get("/api/runs")
    data = json.loads(body)
    assert status == 200 and headers["Content-Type"] == "application/json"
    assert data["running"] and data["next"] == 2000 and 'data-state="RUNNING"' in data["replace"]["runs-body"]
    live = site.runs["live"]
    assert 'data-live="/api/runs/' in site.get(f"/runs/{live}")[1]
    assert json.loads(site.get(f"/api/runs/{live}")[1])["next"] == 2000
    site.store.set_run_state("ui-test", live, "COMPLETE")
    try:
        data = json.loads(site.get("/api/runs")[1])
        assert not data["running"] and f'data-run-id="{live}" data-state="COMPLETE"' in data["replace"]["runs-body"]
        run = json.loads(site.get(f"/api/runs/{live}")[1])
        assert run["state"] == "COMPLETE" and run["reload"] and not run["next"]
    finally:
        site.store.set_run_state("ui-test", live, "RUNNING")


def test_run_page_draws_the_dag_with_states(site):
    status, html, _ = site.get(f"/runs/{site.runs['other']}")
    assert status == 200 and '<svg id="dag"' in html
    assert re.search(r'class="gnode node-state-CACHED node-cached" data-node-id="MakeData"', html)
    assert re.search(r'class="gnode node-state-COMPLETE" data-node-id="TrainIt"', html)
    assert 'data-from="MakeData" data-to="TrainIt"' in html and 'data-from="TrainIt" data-to="EvaluateIt"' in html


def test_failed_node_shows_its_error_resume_command_and_log(site):
    run_id = site.runs["failed"]
    _, html, _ = site.get(f"/runs/{run_id}")
    assert 'class="gnode node-state-FAILED" data-node-id="TrainIt"' in html
    assert 'class="gnode node-state-NOT_RUN" data-node-id="EvaluateIt"' in html
    section = re.search(r'<section class="node-error".*?</section>', html, re.S).group(0)
    assert "training blew up" in section
    command = re.search(r'<code class="resume-command">(.*?)</code>', section).group(1)
    assert command.startswith("beampipe run ") and "ui_pipeline.py" in command
    assert command.endswith("--from-node TrainIt") and "--param fail=1" in command
    _, html, _ = site.get(f"/runs/{run_id}?log=TrainIt")
    log = re.search(r'<pre id="log-text">(.*?)</pre>', html, re.S).group(1)
    assert "FAILED" in log and "training blew up" in log
    assert site.get(f"/runs/{run_id}?log=..%2F..%2Fetc")[0] == 404


def test_artifact_page_shows_producer_consumers_and_files(site):
    ids = _artifact_ids(site.store, site.runs["ok"])
    status, html, _ = site.get(f"/artifacts/{ids['MakeData.Examples']}")
    assert status == 200 and 'data-type="Examples"' in html
    assert "produced by <b>MakeData</b>" in html and site.runs["ok"] in html
    consumers = re.search(r'<table id="artifact-consumers".*?</table>', html, re.S).group(0)
    assert "TrainIt" in consumers and "re-used from cache" in consumers  # run 2 cached MakeData
    assert 'href="/artifacts/{}/files/data.txt"'.format(ids["MakeData.Examples"]) in html
    assert 'files/Split-train/part.txt' in html
    status, body, headers = site.get(f"/artifacts/{ids['MakeData.Examples']}/files/Split-train/part.txt")
    assert status == 200 and body == "1\n2\n" and headers["Content-Type"].startswith("text/plain")
    assert "sandbox" in headers["Content-Security-Policy"]
    assert site.get("/artifacts/999999")[0] == 404


def test_lineage_goes_upstream_and_downstream_across_runs(site):
    ids = _artifact_ids(site.store, site.runs["ok"])
    status, html, _ = site.get(f"/artifacts/{ids['TrainIt.Model']}/lineage")
    assert status == 200 and '<svg id="lineage"' in html
    assert f'data-artifact-id="{ids["MakeData.Examples"]}"' in html  # upstream
    assert f'data-artifact-id="{ids["EvaluateIt.ModelEvaluation"]}"' in html  # downstream
    assert re.search(r'class="gnode lineage-execution[^"]*" data-execution-id="\d+" data-node-id="TrainIt"', html)
    _, html, _ = site.get(f"/artifacts/{ids['EvaluateIt.ModelEvaluation']}/lineage?depth=1")
    assert 'id="lineage-more"' in html and f'data-artifact-id="{ids["MakeData.Examples"]}"' not in html


def test_compare_shows_parameters_and_metrics_side_by_side(site):
    a, b = site.runs["ok"], site.runs["other"]
    status, html, _ = site.get(f"/compare?runs={a},{b}")
    assert status == 200 and 'id="compare-table"' in html
    steps = re.search(r'<tr class="compare-row differs" data-key="steps">(.*?)</tr>', html, re.S).group(1)
    assert "100" in steps and "300" in steps
    accuracy = re.search(r'<tr class="compare-row differs" data-key="accuracy">(.*?)</tr>', html, re.S).group(1)
    assert "0.6" in accuracy and "0.8 (+0.2)" in accuracy
    assert 'class="compare-row" data-key="example_count"' in html  # equal: not highlighted
    assert 'data-key="blessed"' in html
    assert site.get("/compare?runs=nope,also-nope")[0] == 404


def test_every_user_string_is_escaped(site):
    failed = site.runs["failed"]
    ids = _artifact_ids(site.store, site.runs["ok"])
    pages = ["/", "/api/runs", f"/runs/{failed}", f"/api/runs/{failed}", f"/runs/{failed}?log=TrainIt",
             f"/artifacts/{ids['MakeData.Examples']}", f"/compare?runs={site.runs['ok']},{failed}",
             "/nope<script>alert(1)</script>", "/runs/%3Cscript%3Ealert(1)%3C%2Fscript%3E"]
    seen_payload = set()
    for path in pages:
        _, body, _ = site.get(path)
        text = json.dumps(json.loads(body)) if path.startswith("/api/") else body
        text = text.replace("\\u003c", "<").replace("\\u003e", ">").replace('\\"', '"')
        assert "<script>alert" not in text, path
        for payload in (PAYLOAD, ERROR_PAYLOAD):
            if payload.replace("<", "&lt;").replace(">", "&gt;").replace("'", "&#39;") in text:
                seen_payload.add(payload)
    assert seen_payload == {PAYLOAD, ERROR_PAYLOAD}  # shown, escaped


def test_the_ui_never_writes(site):
    def census() -> tuple[int, ...]:
        call = site.store.call
        return (len(call("get_artifact_types")), len(call("get_execution_types")), len(call("get_context_types")),
                len(call("get_contexts")), len(call("get_executions")), len(call("get_artifacts")))

    before = census()
    run_id = site.runs["failed"]
    for path in ["/", f"/runs/{run_id}", f"/compare?runs={run_id},{site.runs['ok']}", "/artifacts/1",
                 "/artifacts/1/lineage", "/runs/not-a-run", "/compare?runs=not-a-run"]:
        site.get(path)
    assert census() == before
    assert site.get("/", method="POST")[0] == 405
    assert site.store.call("get_context_by_type_and_name", RUN_CONTEXT, "not-a-run") is None
