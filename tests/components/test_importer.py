"""tfx.dsl.Importer on real MLMD: no copy, reuse (same id) unless reimport, a user type, and the
compiled IR run node by node in fresh processes (as Airflow and KFP tasks run it)."""
from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap

import pytest

import beampipe as tfx
from beampipe.components.base import WiringError
from beampipe.metadata.store import MetadataStore
from beampipe.orchestration import ir as ir_mod
from beampipe.orchestration.local_runner import LocalDagRunner

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
dsl = tfx.dsl.components
Schema = tfx.types.standard_artifacts.Schema
Model = tfx.types.standard_artifacts.Model


@dsl.component
def ReadSchema(schema: dsl.InputArtifact[Schema], seen: dsl.OutputArtifact[Model]) -> dsl.OutputDict(text=str):
    text = open(schema.schema_file()).read()
    with open(os.path.join(seen.uri, "copy.pbtxt"), "w") as f:
        f.write(text)
    return {"text": text}


def _pipeline(root: str, source: str, reimport: bool = False, **kwargs) -> tfx.dsl.Pipeline:
    importer = tfx.dsl.Importer(source_uri=source, artifact_type=Schema, reimport=reimport,
                                **kwargs).with_id("import_schema")
    reader = ReadSchema(schema=importer.outputs["result"])
    return tfx.dsl.Pipeline("imports", root, [importer, reader])


def _imported(root: str, run_id: str) -> tuple:
    store = MetadataStore(os.path.join(root, "metadata.sqlite"))
    try:
        execs = {e["node_id"]: e for e in store.executions_in_context("pipeline_run", run_id)}
        [art] = store.artifacts_of(execs["import_schema"]["id"])["result"]
        [read] = store.artifacts_of(execs["ReadSchema"]["id"], kind="INPUT")["schema"]
        text = store.artifacts_of(execs["ReadSchema"]["id"])["text"][0].value
        return art, read, text, execs["ReadSchema"]["state"]
    finally:
        store.close()


@pytest.fixture
def source(tmp_path) -> str:
    folder = tmp_path / "external" / "schema"
    folder.mkdir(parents=True)
    (folder / "schema.pbtxt").write_text('feature { name: "x" type: INT }\n')
    return str(folder)


def test_import_registers_in_place_and_reuses_unless_reimport(tmp_path, source) -> None:
    root = str(tmp_path / "root")
    first = LocalDagRunner().run(_pipeline(root, source))
    assert first.status == "COMPLETE", first.nodes
    art, read, text, state = _imported(root, first.run_id)
    assert art.uri == source and art.is_external and art.state == "LIVE"  # no copy under the root
    assert read.id == art.id and text.startswith('feature { name: "x"')
    assert not os.path.exists(os.path.join(root, "import_schema"))

    second = LocalDagRunner().run(_pipeline(root, source))  # reimport=False: the same artifact
    art2, _, _, state2 = _imported(root, second.run_id)
    assert art2.id == art.id and second.nodes["import_schema"].status == "COMPLETE"
    assert state2 == "CACHED"  # the reader's input did not change

    third = LocalDagRunner().run(_pipeline(root, source, reimport=True))  # a new artifact, same URI
    art3, _, _, _ = _imported(root, third.run_id)
    assert art3.id != art.id and art3.uri == source
    assert os.listdir(source) == ["schema.pbtxt"]  # the source is never touched


def test_changed_data_reaches_readers_only_with_reimport(tmp_path, source) -> None:
    root = str(tmp_path / "root")
    LocalDagRunner().run(_pipeline(root, source))
    with open(os.path.join(source, "schema.pbtxt"), "w") as f:
        f.write('feature { name: "y" type: FLOAT }\n')
    kept = LocalDagRunner().run(_pipeline(root, source))  # TFX's semantics: reuse the registered one
    assert _imported(root, kept.run_id)[3] == "CACHED"
    fresh = LocalDagRunner().run(_pipeline(root, source, reimport=True))
    _, _, text, state = _imported(root, fresh.run_id)
    assert state == "COMPLETE" and 'name: "y"' in text  # new fingerprint: the reader re-ran


def test_properties_take_part_in_reuse(tmp_path, source) -> None:
    root = str(tmp_path / "root")
    a = LocalDagRunner().run(_pipeline(root, source, custom_properties={"origin": "team-a", "n": 1}))
    b = LocalDagRunner().run(_pipeline(root, source, custom_properties={"origin": "team-b", "n": 1}))
    c = LocalDagRunner().run(_pipeline(root, source, custom_properties={"origin": "team-a", "n": 1}))
    ids = [_imported(root, r.run_id)[0] for r in (a, b, c)]
    assert ids[0].id != ids[1].id and ids[2].id == ids[0].id
    assert ids[1].custom_properties["origin"] == "team-b" and ids[1].custom_properties["n"] == 1


def test_bad_imports_fail_clearly(tmp_path) -> None:
    with pytest.raises(WiringError, match="Schema declares no properties \\['span'\\]"):
        tfx.dsl.Importer(source_uri="/x", artifact_type=Schema, properties={"span": 1})
    with pytest.raises(WiringError, match="custom property 'f' must be a string or an integer"):
        tfx.dsl.Importer(source_uri="/x", artifact_type=Schema, custom_properties={"f": 0.5})
    with pytest.raises(WiringError, match="artifact_type must be an artifact class"):
        tfx.dsl.Importer(source_uri="/x", artifact_type=str)
    result = LocalDagRunner().run(_pipeline(str(tmp_path / "root"), str(tmp_path / "nowhere")))
    node = result.nodes["import_schema"]
    assert node.status == "FAILED" and "source_uri" in node.error and "does not exist" in node.error
    assert result.nodes["ReadSchema"].status != "COMPLETE"


PIPELINE_FILE = """
import os
import beampipe as tfx

dsl = tfx.dsl.components


class Vocabulary(tfx.dsl.Artifact):
    TYPE_NAME = "Vocabulary"
    PROPERTIES = {{"size": int}}


@dsl.component
def CountWords(vocab: dsl.InputArtifact[Vocabulary]) -> dsl.OutputDict(words=int, size=int):
    return {{"words": len(open(os.path.join(vocab.uri, "words.txt")).read().split()), "size": vocab.size}}


importer = tfx.dsl.Importer(source_uri={source!r}, artifact_type=Vocabulary, properties={{"size": 3}},
                            output_key="vocab")
count = CountWords(vocab=importer.outputs["vocab"])
pipeline = tfx.dsl.Pipeline("compiled", {root!r}, [importer, count])
"""


def _run_node(ir_path: str, node: str, run_id: str) -> dict:
    proc = subprocess.run([sys.executable, "-m", "beampipe", "run-node", "--ir", ir_path, "--node", node,
                           "--run-id", run_id], env={**os.environ, "PYTHONPATH": REPO},
                          capture_output=True, text=True, timeout=180)
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout.strip().splitlines()[-1])


def test_compiled_ir_runs_the_importer_node_by_node(tmp_path) -> None:
    """A user artifact type with a declared property, imported and read in separate processes."""
    vocab = tmp_path / "vocab"
    vocab.mkdir()
    (vocab / "words.txt").write_text("a b c d\n")
    root = str(tmp_path / "root")
    pipeline_file = tmp_path / "vocab_pipeline.py"
    pipeline_file.write_text(textwrap.dedent(PIPELINE_FILE.format(source=str(vocab), root=root)))
    ir = ir_mod.compile_pipeline(ir_mod.load_module_from_file(str(pipeline_file)).pipeline)
    assert ir["nodes"][0]["exec_properties"]["artifact_uri"] == str(vocab)
    ir_path = tmp_path / "ir.json"
    ir_path.write_text(json.dumps(ir))
    ids = []
    for run_id in ("r1", "r2"):
        assert _run_node(str(ir_path), "Importer", run_id)["status"] == "COMPLETE"
        assert _run_node(str(ir_path), "CountWords", run_id)["status"] in ("COMPLETE", "CACHED")
        store = MetadataStore(os.path.join(root, "metadata.sqlite"))
        try:
            execs = {e["node_id"]: e for e in store.executions_in_context("pipeline_run", run_id)}
            [art] = store.artifacts_of(execs["Importer"]["id"])["vocab"]
            out = store.artifacts_of(execs["CountWords"]["id"])
            assert (out["words"][0].value, out["size"][0].value) == (4, 3)
        finally:
            store.close()
        assert art.TYPE_NAME == "Vocabulary" and art.uri == str(vocab) and art.properties == {"size": 3}
        ids.append(art.id)
    assert ids[0] == ids[1]


@dsl.component
def SchemaSize(schema: dsl.InputArtifact[Schema]) -> dsl.OutputDict(size=int):
    from beampipe import io
    return {"size": len(io.read_bytes(schema.schema_file()))}


@dsl.component
def Twice(size: int) -> dsl.OutputDict(double=int):
    return {"double": 2 * size}


def test_s3_source_and_s3_root_with_value_artifacts(tmp_path, s3_server, monkeypatch) -> None:
    """An s3:// source registered in place; value artifacts published to an s3:// root, read
    downstream and by a Cond through the storage layer."""
    import uuid

    from beampipe import io
    from beampipe.io import backends

    for name, value in s3_server.env.items():
        monkeypatch.setenv(name, value)
    backends.clear_cache()
    prefix = f"s3://{s3_server.bucket}/imp-{uuid.uuid4().hex[:10]}"
    source = f"{prefix}/external/schema"
    io.write_text(f"{source}/schema.pbtxt", "feature {}\n")
    meta = f"sqlite://{tmp_path / 'm.sqlite'}"

    def pipeline(reimport: bool) -> tfx.dsl.Pipeline:
        importer = tfx.dsl.Importer(source_uri=source, artifact_type=Schema, reimport=reimport)
        size = SchemaSize(schema=importer.outputs["result"])
        with tfx.dsl.Cond(size.outputs["size"].future().value == 11):
            twice = Twice(size=size.outputs["size"])
        return tfx.dsl.Pipeline("s3imports", f"{prefix}/root", [importer, size, twice], metadata_uri=meta)

    runs = [LocalDagRunner().run(pipeline(r)) for r in (False, False, True)]
    assert all(r.status == "COMPLETE" for r in runs), [r.nodes for r in runs]
    assert runs[0].nodes["Twice"].status == "COMPLETE"
    store = MetadataStore(meta)
    try:
        ids = []
        for r in runs:
            execs = {e["node_id"]: e for e in store.executions_in_context("pipeline_run", r.run_id)}
            [art] = store.artifacts_of(execs["Importer"]["id"])["result"]
            assert art.uri == source
            ids.append(art.id)
        [double] = store.artifacts_of(
            {e["node_id"]: e for e in store.executions_in_context("pipeline_run", runs[0].run_id)}["Twice"]["id"]
        )["double"]
        assert double.uri.startswith(f"{prefix}/root/Twice/double/") and double.value == 22
    finally:
        store.close()
        backends.clear_cache()
    assert ids[0] == ids[1] != ids[2]
    assert io.listdir(f"{prefix}/external/schema") == ["schema.pbtxt"]
