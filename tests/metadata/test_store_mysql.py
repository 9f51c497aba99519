"""The MLMD store on a real MySQL-protocol server (MariaDB), as Kubeflow deployments keep it."""
from __future__ import annotations

from beampipe.metadata.store import MetadataStore
from beampipe.orchestration.local_runner import LocalDagRunner
from tests.metadata.test_store import _round_trip
from tests.support.toy import chain


def test_mysql_round_trip(mysql_server):
    store = MetadataStore(mysql_server.uri("mlmd_roundtrip"))  # MLMD creates the database itself
    _round_trip(store)
    # a second connection sees the same data
    again = MetadataStore(mysql_server.uri("mlmd_roundtrip"))
    assert again.runs("p")[0]["run_id"] == "run-1"


def test_toy_pipeline_on_mysql_completes_then_is_cached(mysql_server, tmp_path):
    uri = mysql_server.uri("mlmd_toy")
    first = LocalDagRunner().run(chain(str(tmp_path / "root"), metadata_uri=uri))
    assert first.status == "COMPLETE", {n: (r.status, r.error) for n, r in first.nodes.items()}
    assert {r.status for r in first.nodes.values()} == {"COMPLETE"}

    second = LocalDagRunner().run(chain(str(tmp_path / "root"), metadata_uri=uri))
    assert second.status == "COMPLETE"
    assert {r.status for r in second.nodes.values()} == {"CACHED"}, {n: r.status for n, r in second.nodes.items()}

    store = MetadataStore(uri)
    runs = store.runs("toy")
    assert [r["state"] for r in runs] == ["COMPLETE", "COMPLETE"]
    assert mysql_server.query("SELECT COUNT(*) FROM Type GROUP BY name, type_kind HAVING COUNT(*) > 1",
                              db="mlmd_toy") == []
