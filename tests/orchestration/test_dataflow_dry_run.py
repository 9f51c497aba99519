"""DataflowRunner with ``--dry_run`` and a ``gs://`` root (the GCS emulator).

Dataflow itself cannot exist here; its runner's dry run can: Beam builds the whole job
(overrides, the portable graph, every DoFn pickled) and returns without submitting it.
These tests check what that means for beampipe:

- through the launcher, a Beam node on DataflowRunner is refused with one clear message
  before any Beam work, and nothing is recorded: the launcher gives executors local copies
  of a remote root's artifacts, which Dataflow's workers could never read (before, a dry run
  published CsvExampleGen's empty output LIVE and COMPLETE);
- the executor itself, given the gs:// artifacts a local run produced, builds a Dataflow job
  whose every step names gs:// URIs and no local path, and the dry run ends the node with
  ``BeamDryRun`` instead of reading outputs that were never written.
"""
from __future__ import annotations

import base64
import bz2
import os
import re
import tempfile
import uuid
import zlib

import pytest

from beampipe import io
from beampipe.io import backends
from beampipe.metadata.store import MetadataStore
from beampipe.orchestration.local_runner import LocalDagRunner
from beampipe.orchestration.pipeline import Pipeline

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
PENGUIN_DATA = os.path.join(REPO, "examples", "penguin", "data")


@pytest.fixture
def gcs(gcs_server, tmp_path, monkeypatch):
    """(gs:// root, bucket, Dataflow dry-run args, local metadata URI, temp dir)."""
    from google.auth.compute_engine import _metadata

    # No Google credentials, and no GCE metadata-server lookup (a request off this machine):
    # Beam's GCS client then looks for credentials (a few retries) and connects anonymously.
    monkeypatch.delenv("GOOGLE_APPLICATION_CREDENTIALS", raising=False)
    monkeypatch.setenv("CLOUDSDK_CONFIG", str(tmp_path / "gcloud"))
    monkeypatch.setenv("NO_GCE_CHECK", "True")
    monkeypatch.setattr(_metadata, "_NO_GCE_CHECK", True)
    for name, value in gcs_server.env.items():
        monkeypatch.setenv(name, value)
    scratch = tmp_path / "tmp"
    scratch.mkdir()
    monkeypatch.setenv("TMPDIR", str(scratch))
    monkeypatch.setattr(tempfile, "tempdir", str(scratch))
    backends.clear_cache()
    base = f"gs://{gcs_server.bucket}/dataflow-{uuid.uuid4().hex[:8]}"
    # A real project id and bucket name: Beam validates both before the dry run. --no_auth:
    # there are no Google credentials here, and the dry run needs none.
    args = ["--runner=DataflowRunner", "--dry_run=True", "--project=beampipe-test",
            "--region=us-central1", f"--temp_location={base}/tmp", "--no_auth"]
    yield f"{base}/root", base, args, str(tmp_path / "metadata.sqlite"), scratch
    backends.clear_cache()


def _live(uri: str) -> list:
    store = MetadataStore(uri)
    try:
        return [a for a in store.call("get_artifacts") if a.state == store.pb.Artifact.LIVE]
    finally:
        store.close()


def test_launcher_refuses_dataflow_for_local_copies_and_records_nothing(gcs):
    from beampipe.components import CsvExampleGen, StatisticsGen

    root, base, args, uri, scratch = gcs
    io.copy(PENGUIN_DATA, f"{base}/data")
    example_gen = CsvExampleGen(input_base=f"{base}/data")
    statistics_gen = StatisticsGen(examples=example_gen.outputs["examples"])
    result = LocalDagRunner().run(Pipeline("dataflow-dry", root, [example_gen, statistics_gen],
                                           metadata_uri=uri, beam_pipeline_args=args))
    failed = result.nodes["CsvExampleGen"]
    assert failed.status == "FAILED"
    assert "DataflowRunner workers cannot read this machine's files" in failed.error
    assert f"output 'examples' is the local path {scratch}" in failed.error
    assert result.nodes["StatisticsGen"].status != "COMPLETE"
    assert _live(uri) == []
    assert not io.exists(io.join(root, "CsvExampleGen"))


def _decoded_payloads(proto) -> bytes:
    """Every transform's payload, and each pickled function in it unpickled to its raw bytes
    (Beam stores pickles base64'd and compressed), so file names in a DoFn can be searched."""
    from apache_beam.portability import common_urns
    from apache_beam.portability.api import beam_runner_api_pb2 as api

    kinds = {common_urns.primitives.PAR_DO.urn: (api.ParDoPayload, "do_fn"),
             common_urns.composites.COMBINE_PER_KEY.urn: (api.CombinePayload, "combine_fn"),
             common_urns.composites.COMBINE_GLOBALLY.urn: (api.CombinePayload, "combine_fn"),
             common_urns.combine_components.COMBINE_PER_KEY_PRECOMBINE.urn: (api.CombinePayload, "combine_fn"),
             common_urns.combine_components.COMBINE_PER_KEY_MERGE_ACCUMULATORS.urn: (api.CombinePayload,
                                                                                     "combine_fn"),
             common_urns.combine_components.COMBINE_PER_KEY_EXTRACT_OUTPUTS.urn: (api.CombinePayload,
                                                                                  "combine_fn"),
             common_urns.combine_components.COMBINE_GROUPED_VALUES.urn: (api.CombinePayload, "combine_fn"),
             common_urns.deprecated_primitives.READ.urn: (api.ReadPayload, "source")}
    # Not the environments: their artifacts are files the SDK stages itself at submission
    # (e.g. a local submission_environment_dependencies.txt), uploaded before workers start.
    graph = type(proto)()
    graph.CopyFrom(proto)
    graph.components.ClearField("environments")
    blobs = [graph.SerializeToString()]
    for transform in proto.components.transforms.values():
        kind = kinds.get(transform.spec.urn)
        if kind is None:
            continue
        payload = kind[0].FromString(transform.spec.payload)
        pickled = getattr(payload, kind[1]).payload
        try:
            raw = base64.b64decode(pickled, validate=True)
        except ValueError:
            blobs.append(pickled)
            continue
        for decompress in (bz2.decompress, zlib.decompress):
            try:
                blobs.append(decompress(raw))
                break
            except (OSError, ValueError, zlib.error):
                continue
        else:
            blobs.append(raw)
    return b"\n".join(blobs)


@pytest.mark.e2e
def test_statistics_gen_builds_its_dataflow_job_on_gs_uris(gcs, tmp_path):
    """StatisticsGen's executor, given the gs:// Examples a local run published, builds a
    Dataflow job (dry run) that reads and writes gs:// only."""
    from beampipe.components import CsvExampleGen, StatisticsGen
    from beampipe.components.base import ExecContext
    from beampipe.metadata.artifacts import ExampleStatistics, Examples
    from beampipe.transforms.beam_util import BeamDryRun

    root, base, args, uri, scratch = gcs
    example_gen = CsvExampleGen(input_base=PENGUIN_DATA)
    run = LocalDagRunner().run(Pipeline("dataflow-inputs", root, [example_gen], metadata_uri=uri))
    assert run.status == "COMPLETE", run.nodes
    [published] = _live(uri)
    assert published.uri.startswith(root + "/")
    examples = Examples(published.uri)
    examples.splits = ["train", "eval"]
    statistics = ExampleStatistics(f"{root}/StatisticsGen/statistics/dry-run")
    ctx = ExecContext(node_id="StatisticsGen", run_id="dry", pipeline_name="dataflow-inputs",
                      pipeline_root=root, inputs={"examples": [examples]},
                      outputs={"statistics": [statistics]}, exec_properties={},
                      beam_pipeline_args=args, temp_dir=str(scratch))
    with pytest.raises(BeamDryRun, match="dry run .*DataflowRunner.* not executed") as raised:
        StatisticsGen.execute(ctx)
    job = raised.value.result.job
    assert job.proto.name.startswith("beamapp-")  # the job Dataflow would have been sent
    graph = _decoded_payloads(job.proto_pipeline)
    shards = io.glob(io.join(examples.split_uri("train"), "*.gz"))
    assert shards and all(s.encode() in graph for s in shards)  # the job reads the gs:// shards
    assert statistics.stats_file("train").encode() in graph  # and writes to gs://
    # Pickled functions carry their source file names (co_filename: beampipe's and the venv's own
    # .py files, wherever the checkout lives); those are not paths a worker opens.
    graph = re.sub(rb"/[\w./+-]+\.py\b", b"<source>", graph)
    for local in (str(tmp_path), tempfile.gettempdir(), REPO, "/tmp/"):
        at = graph.find(local.encode())
        assert at < 0, (local, graph[max(0, at - 300):at + 200])
    assert not io.exists(statistics.uri)  # nothing was executed
