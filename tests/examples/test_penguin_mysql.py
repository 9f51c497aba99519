"""The penguin pipeline end to end with its metadata on MySQL (MariaDB), as on Kubeflow."""
from __future__ import annotations

import pytest

from beampipe.metadata.store import MetadataStore
from beampipe.orchestration.local_runner import LocalDagRunner
from tests.examples.test_penguin import _build

pytestmark = pytest.mark.e2e


def _pipeline(root: str, uri: str):
    pipeline = _build(root)
    pipeline.metadata_uri = uri
    return pipeline


def test_penguin_pipeline_on_mysql_pushes_then_is_cached(mysql_server, tmp_path):
    root, uri = str(tmp_path / "root"), mysql_server.uri("mlmd_penguin")
    first = LocalDagRunner().run(_pipeline(root, uri))
    assert first.status == "COMPLETE", {n: (r.status, r.error) for n, r in first.nodes.items()}
    assert {r.status for r in first.nodes.values()} == {"COMPLETE"}
    assert not (tmp_path / "root" / "metadata.sqlite").exists()  # nothing went to the default store

    store = MetadataStore(uri)
    [model] = store.artifacts_of(first.nodes["Trainer"].execution_id)["model"]
    assert model.TYPE_NAME == "Model" and model.state == "LIVE"
    [pushed] = store.artifacts_of(first.nodes["Pusher"].execution_id)["pushed_model"]
    assert pushed.custom_properties["pushed"] == 1
    produced = {(a.TYPE_NAME, node) for a, node in store.artifacts_in_run(first.run_id)}
    assert {("Model", "Trainer"), ("PushedModel", "Pusher")} <= produced

    second = LocalDagRunner().run(_pipeline(root, uri))
    statuses = {n: r.status for n, r in second.nodes.items()}
    assert statuses.pop("latest_blessed_model_resolver") == "COMPLETE"  # never cached: it queries MLMD
    assert set(statuses.values()) == {"CACHED"}, statuses
    assert [r["state"] for r in store.runs("penguin")] == ["COMPLETE", "COMPLETE"]
