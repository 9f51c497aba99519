"""`beampipe ui` in a real browser: headless Chromium (DevTools protocol, tests/support/chromium.py)
against a server started here over a store made by real pipelines (tests/ui/penguin_store.py):
one penguin run, a failed run whose data drifted and carries ``<script>`` payloads, and a second
penguin run started in the background and watched live. Every page is screenshotted into
$BEAMPIPE_SCREENSHOT_DIR (else a tmp dir; the path is printed at the end of the session)."""
from __future__ import annotations

import json
import re

import pytest

from tests.ui.penguin_store import NUMERIC, PAYLOAD, SECOND_STEPS

pytestmark = pytest.mark.e2e

def _artifact_id(site, run: str, node: str, key: str) -> int:
    from beampipe.metadata.store import MetadataStore

    result = site.store.results[run]
    store = MetadataStore(site.uri)
    try:
        [art] = store.artifacts_of(result.nodes[node].execution_id)[key]
    finally:
        store.close()
    return art.id


def _go(page, path: str) -> None:
    page.goto(page.site.base + path)


def test_runs_page_lists_the_runs(page):
    site = page.site
    _go(page, "/")
    assert page.js("document.body.dataset.page") == "runs"
    rows = page.js("""Array.from(document.querySelectorAll('#runs-body tr.run-row')).map(function (r) {
        return [r.dataset.runId, r.dataset.state, r.querySelector('td.count-complete').innerText.trim()]; })""")
    assert [site.runs["penguin"], "COMPLETE", str(len(site.store.results["penguin"].nodes))] in rows
    assert [site.runs["drift"], "FAILED", "2"] in rows
    assert "train_steps=200" in page.text(f'tr.run-row[data-run-id="{site.runs["penguin"]}"] td.run-params')
    page.shot("runs")


def test_run_page_shows_every_node_and_its_state(page):
    site = page.site
    run = site.runs["penguin"]
    _go(page, "/")
    page.click(f'tr.run-row[data-run-id="{run}"] a[href="/runs/{run}"]', navigates=True)
    assert page.js("document.querySelector('#run-header').dataset.runId") == run
    expected = {node: result.status for node, result in site.store.results["penguin"].nodes.items()}
    in_dag = page.js("""Object.fromEntries(Array.from(document.querySelectorAll('#dag g.gnode')).map(function (g) {
        return [g.dataset.nodeId, (g.getAttribute('class').match(/node-state-(\\w+)/) || [])[1]]; }))""")
    in_table = page.js("""Object.fromEntries(Array.from(document.querySelectorAll('#nodes-body tr.node-row')).map(
        function (r) { return [r.dataset.nodeId, (r.className.match(/node-state-(\\w+)/) || [])[1]]; }))""")
    assert in_dag == expected and in_table == expected
    # every node's name is visible in the drawing (long ones are cut with an ellipsis)
    labels = page.js("Array.from(document.querySelectorAll('#dag g.gnode .glabel')).map(t => t.textContent)")
    assert all(any(node.startswith(label.rstrip("…")) for label in labels) for node in expected)
    page.shot("run")


def test_failed_run_shows_the_error_the_resume_command_and_the_log(page):
    run = page.site.runs["drift"]
    _go(page, f"/runs/{run}")
    assert page.js("document.querySelector('#run-header').dataset.state") == "FAILED"
    assert page.count('#dag g.gnode.node-state-FAILED[data-node-id="DriftGate"]') == 1
    assert "drift gate: body_mass_g moved too far" in page.text('section.node-error[data-node-id="DriftGate"]')
    assert page.text("code.resume-command").endswith("--from-node DriftGate")
    page.shot("failed-run")
    page.click('a.log-link[data-node-id="DriftGate"]', navigates=True)
    log = page.text("#log-text")
    assert "FAILED" in log and "drift gate" in log


def test_clicking_an_artifact_opens_its_view(page):
    site = page.site
    stats = _artifact_id(site, "penguin", "StatisticsGen", "statistics")
    _go(page, f"/runs/{site.runs['penguin']}")
    page.click(f'#nodes-body a.artifact-link[data-artifact-id="{stats}"]', navigates=True)
    assert page.url == f"{site.base}/artifacts/{stats}"
    header = page.js("Object.assign({}, document.querySelector('#artifact-header').dataset)")
    assert header == {"artifactId": str(stats), "type": "ExampleStatistics"}
    assert page.js("document.querySelector('#artifact-producer').innerText").startswith("produced by StatisticsGen")
    assert page.count("#artifact-view .view.statistics") == 1 and page.count("#artifact-files a.file-link") >= 1


def _charts(page) -> list[str]:
    """aria-labels of the charts drawn with a size (bars inside) in the artifact's view."""
    return page.js("""Array.from(document.querySelectorAll('#artifact-view svg.chart')).filter(function (svg) {
        var r = svg.getBoundingClientRect(); return r.width > 0 && r.height > 0 && svg.querySelector('rect'); })
        .map(svg => svg.getAttribute('aria-label'))""")


def test_statistics_view_draws_one_histogram_per_numeric_feature_and_split(page):
    site = page.site
    stats = _artifact_id(site, "penguin", "StatisticsGen", "statistics")
    _go(page, f"/artifacts/{stats}")
    charts = _charts(page)
    for split in ("train", "eval"):
        histograms = sorted(c[:-len(f" ({split})")] for c in charts if c.endswith(f" ({split})") and ":" not in c)
        assert histograms == sorted(NUMERIC), charts
        top_values = sorted(c.split(":")[0] for c in charts if c.endswith(f": top values ({split})"))
        assert top_values == ["island", "sex", "species"], charts
    # the splits of a feature sit side by side
    tops = page.js("Array.from(document.querySelectorAll('#artifact-view .feature')[0].querySelectorAll('.split'))"
                   ".map(d => Math.round(d.getBoundingClientRect().top))")
    assert len(tops) == 2 and tops[0] == tops[1]
    page.shot("statistics", start="#artifact-view", max_height=1500)


def test_statistics_compared_marks_the_drifted_features(page):
    site = page.site
    base = _artifact_id(site, "penguin", "StatisticsGen", "statistics")
    drifted = _artifact_id(site, "drift", "StatisticsGen", "statistics")
    _go(page, f"/artifacts/{base}?compare={drifted}")
    marked = page.js("Array.from(document.querySelectorAll('#artifact-view table.drift-table tr.drift'))"
                     ".map(r => r.cells[0].innerText.trim())")
    assert set(marked) == {"body_mass_g", "bill_length_mm"}, marked
    color = page.js("getComputedStyle(document.querySelector('#artifact-view tr.drift b.bad')).color")
    assert color != page.js("getComputedStyle(document.body).color")  # drift stands out
    page.shot("statistics-drift", start="#artifact-view", max_height=1500)


def test_evaluation_view_shows_the_metric_and_the_blessing(page):
    site = page.site
    evaluation = _artifact_id(site, "penguin", "Evaluator", "evaluation")
    blessing = _artifact_id(site, "penguin", "Evaluator", "blessing")
    _go(page, f"/runs/{site.runs['penguin']}")
    page.click(f'#nodes-body a.artifact-link[data-artifact-id="{evaluation}"]', navigates=True)
    assert page.js("document.querySelector('#artifact-header').dataset.type") == "ModelEvaluation"
    assert page.text("#artifact-view p.verdict").startswith("All thresholds passed")
    overall = page.js("""Array.from(document.querySelectorAll('#artifact-view table.metrics tbody tr'))
        .filter(r => r.cells[0].innerText.trim() === 'Overall').map(r => r.innerText)[0]""")
    header = page.text("#artifact-view table.metrics thead")
    assert "sparse_categorical_accuracy" in header and "example_count" in header
    accuracy = [float(x) for x in re.findall(r"0\.\d+", overall)]
    assert accuracy and all(0.5 < a <= 1 for a in accuracy), overall
    page.shot("evaluation", max_height=1300)
    _go(page, f"/runs/{site.runs['penguin']}")
    page.click(f'#nodes-body a.artifact-link[data-artifact-id="{blessing}"]', navigates=True)
    verdict = page.js("(function(){var v=document.querySelector('#artifact-view .view.blessing p.verdict');"
                      "return [v.className, v.innerText.trim()]})()")
    assert verdict == ["verdict ok", "BLESSED"]


def test_lineage_of_the_pushed_model_reaches_the_examplegen_examples(page):
    site = page.site
    pushed = _artifact_id(site, "penguin", "Pusher", "pushed_model")
    examples = _artifact_id(site, "penguin", "CsvExampleGen", "examples")
    _go(page, f"/artifacts/{pushed}")
    page.click("#lineage-link", navigates=True)
    assert page.count(f'#lineage g.lineage-focus[data-artifact-id="{pushed}"]') == 1
    assert page.count(f'#lineage g.lineage-artifact[data-artifact-id="{examples}"]') == 1
    executions = page.js("Array.from(document.querySelectorAll('#lineage g.lineage-execution .glabel'))"
                         ".map(t => t.textContent)")
    assert {"Pusher", "Trainer", "Transform"} <= set(executions)
    page.shot("lineage")


def test_script_payloads_render_as_text_and_never_run(page):
    """The drift data's extra column: its name and every value are ``<script>alert(1)</script>``."""
    site = page.site
    pages = [f"/artifacts/{_artifact_id(site, 'drift', 'StatisticsGen', 'statistics')}",
             f"/artifacts/{_artifact_id(site, 'drift', 'CsvExampleGen', 'examples')}",
             f"/runs/{site.runs['drift']}"]
    for path in pages:
        _go(page, path)
        if "statistics" in path or path == pages[0]:
            # shown as text: the feature's heading, its table row, the chart labels
            assert page.js(f"document.body.innerText.split({json.dumps(PAYLOAD)}).length - 1") >= 3
            assert page.count(f"#artifact-view svg.chart[aria-label^={json.dumps(PAYLOAD)}]") >= 1
        scripts = page.js("Array.from(document.scripts).map(s => s.src || s.textContent)")
        assert all(s.startswith(site.base + "/static/") for s in scripts), scripts
        assert page.js("window.__xss") is None
        assert page.js("document.querySelectorAll('[onerror], [onload], [onclick]').length") == 0
    assert page.dialogs == []


def test_runs_page_follows_a_run_live(page):
    """A second penguin run (``beampipe run`` in a subprocess): its row appears RUNNING and turns
    COMPLETE on the runs page without a reload."""
    site = page.site
    _go(page, "/")
    page.js("window.__sameDocument = true")
    known = set(site.runs.values())
    site.store.second.start()
    new_row = ("Array.from(document.querySelectorAll('#runs-body tr.run-row'))"
               f".filter(r => !{json.dumps(sorted(known))}.includes(r.dataset.runId))"
               ".map(r => [r.dataset.runId, r.dataset.state])[0]")
    run_id, state = page.wait_for(new_row, timeout=120)
    assert state == "RUNNING"
    site.runs["second"] = run_id
    page.wait_for(f"document.querySelector('tr.run-row[data-run-id=\"{run_id}\"]')"
                  ".querySelector('td.count-complete').innerText.trim() !== ''", timeout=120)
    page.shot("runs-live")
    page.wait_for(f"document.querySelector('tr.run-row[data-run-id=\"{run_id}\"]').dataset.state !== 'RUNNING'",
                  timeout=400, interval=1)
    site.store.second.wait(timeout=60)
    assert page.js(f"document.querySelector('tr.run-row[data-run-id=\"{run_id}\"]').dataset.state") == "COMPLETE"
    assert page.js("window.__sameDocument") is True  # updated in place, never reloaded
    assert f"train_steps={SECOND_STEPS}" in page.text(f'tr.run-row[data-run-id="{run_id}"] td.run-params')


def _second_run(site) -> str:
    site.store.second.wait()
    if "second" not in site.runs:
        from beampipe.metadata.store import MetadataStore
        store = MetadataStore(site.uri)
        try:
            site.runs["second"] = next(r["run_id"] for r in store.runs("penguin") if r["run_id"] != site.runs["penguin"])
        finally:
            store.close()
    return site.runs["second"]


def test_compare_shows_two_runs_metrics(page):
    site = page.site
    first, second = site.runs["penguin"], _second_run(site)
    _go(page, "/")
    for run in (first, second):
        page.click(f'input.compare-pick[value="{run}"]')
    page.click("#compare-button", navigates=True)
    assert re.search(r"/compare\?runs=", page.url)
    heads = page.js("Array.from(document.querySelectorAll('#compare-table thead a')).map(a => a.textContent.trim())")
    assert set(heads) == {first, second}
    rows = page.js("""Object.fromEntries(Array.from(document.querySelectorAll('#compare-metrics tr.compare-row')).map(
        function (r) { return [r.dataset.key, Array.from(r.querySelectorAll('td')).map(c => c.innerText.trim())]; }))""")
    accuracy = rows["sparse_categorical_accuracy"]
    values = [re.match(r"\d+(\.\d+)?", v) for v in accuracy[-2:]]
    assert all(values) and all(0 < float(v.group(0)) <= 1 for v in values), rows
    assert "blessed" in rows and "example_count" in rows
    params = page.js("Array.from(document.querySelectorAll('#compare-params tr.compare-row.differs'))"
                     ".map(r => r.dataset.key)")
    assert "train_steps" in params
    page.shot("compare")
