"""Two metadata stores on one pipeline root: neither overwrites the other's LIVE outputs,
and a cache hit is served only when the bytes still match the recorded fingerprint."""
from __future__ import annotations

import os

from beampipe.metadata.store import MetadataStore
from beampipe.orchestration.cache import fingerprint_dir
from beampipe.orchestration.local_runner import LocalDagRunner
from beampipe.orchestration.pipeline import Pipeline
from tests.support.toy import Consume, Produce


def _pipeline(root: str, uri: str, text: str) -> Pipeline:
    produce = Produce(text=text)
    return Pipeline("shared", root, [produce, Consume(examples=produce.outputs["examples"])], metadata_uri=uri)


def _live(uri: str) -> dict[str, tuple[str, str]]:
    store = MetadataStore(uri)
    try:
        return {a.uri: (a.custom_properties["fingerprint"].string_value, fingerprint_dir(a.uri))
                for a in store.call("get_artifacts") if a.state == store.pb.Artifact.LIVE}
    finally:
        store.close()


def test_two_stores_one_root_keep_their_own_outputs(tmp_path):
    root = str(tmp_path / "root")
    a, b = str(tmp_path / "a.sqlite"), str(tmp_path / "b.sqlite")
    assert LocalDagRunner().run(_pipeline(root, a, "from store A")).status == "COMPLETE"
    assert LocalDagRunner().run(_pipeline(root, b, "store B writes more")).status == "COMPLETE"
    live_a, live_b = _live(a), _live(b)
    assert set(live_a).isdisjoint(live_b)  # same execution ids, different directories
    for live in (live_a, live_b):
        assert all(recorded == actual for recorded, actual in live.values())
    again = LocalDagRunner().run(_pipeline(root, a, "from store A"))
    assert [r.status for r in again.nodes.values()] == ["CACHED", "CACHED"]
    assert all(recorded == actual for recorded, actual in _live(a).values())


def test_a_tampered_output_is_not_served_from_the_cache(tmp_path):
    root = str(tmp_path / "root")
    first = LocalDagRunner().run(_pipeline(root, os.path.join(root, "metadata.sqlite"), "hello"))
    store = MetadataStore(os.path.join(root, "metadata.sqlite"))
    [model] = store.artifacts_of(first.nodes["Consume"].execution_id)["model"]
    with open(os.path.join(model.uri, "len.txt"), "w") as f:
        f.write("999")  # the bytes no longer match what was published
    again = LocalDagRunner().run(_pipeline(root, os.path.join(root, "metadata.sqlite"), "hello"))
    assert again.nodes["Produce"].status == "CACHED"
    assert again.nodes["Consume"].status == "COMPLETE"
    [fresh] = store.artifacts_of(again.nodes["Consume"].execution_id)["model"]
    assert fresh.uri != model.uri and open(os.path.join(fresh.uri, "len.txt")).read() == "5"
