"""S3 settings from the environment, and Beam's S3 options made from them."""
from __future__ import annotations

import os

from beampipe import io
from tests.io.conftest import AWS_VARS

ENV = {"AWS_ENDPOINT_URL": "http://127.0.0.1:9000", "AWS_ACCESS_KEY_ID": "AKIDEXAMPLE",
       "AWS_SECRET_ACCESS_KEY": "wJalrXUtnFEMI/K7MDENG", "AWS_REGION": "eu-west-1"}


def test_settings_follow_botocore_names_and_precedence():
    s = io.S3Settings.from_env({**ENV, "AWS_ENDPOINT_URL_S3": "http://s3-only:1", "AWS_DEFAULT_REGION": "x"})
    assert (s.endpoint_url, s.access_key_id, s.region) == ("http://s3-only:1", "AKIDEXAMPLE", "eu-west-1")
    s = io.S3Settings.from_env({"AWS_DEFAULT_REGION": "us-west-2", "AWS_ENDPOINT_URL": "  "})
    assert (s.endpoint_url, s.region, s.access_key_id) == (None, "us-west-2", None)
    assert s.endpoint_label == "AWS S3 (default endpoint)"


def test_secret_is_not_in_reprs():
    s = io.S3Settings.from_env({**ENV, "AWS_SESSION_TOKEN": "tok-secret-123"})
    assert "wJalr" not in repr(s) and "tok-secret" not in repr(s) and "AKIDEXAMPLE" in repr(s)
    args = io.beam_s3_options({**ENV, "AWS_SESSION_TOKEN": "tok-secret-123"})
    assert "wJalr" not in repr(args) and "wJalr" not in str(args) and "tok-secret" not in f"{args}"
    assert "--s3_secret_access_key=***" in repr(args)


def test_beam_s3_options():
    assert list(io.beam_s3_options(ENV)) == [
        "--s3_endpoint_url=http://127.0.0.1:9000", "--s3_access_key_id=AKIDEXAMPLE",
        "--s3_secret_access_key=wJalrXUtnFEMI/K7MDENG", "--s3_region_name=eu-west-1"]
    assert list(io.beam_s3_options({})) == []
    merged = io.with_beam_s3_options(["--runner=DirectRunner", "--s3_endpoint_url=http://mine:1"], ENV)
    assert merged[:2] == ["--runner=DirectRunner", "--s3_endpoint_url=http://mine:1"]  # the user's wins
    assert not any(a.startswith("--s3_endpoint_url=http://127") for a in merged)
    assert "--s3_access_key_id=AKIDEXAMPLE" in merged


def test_redact():
    assert io.redact("sig for wJalrXUtnFEMI/K7MDENG failed", ENV) == "sig for *** failed"
    assert io.redact("nothing here", {}) == "nothing here"


def test_pinned_botocore_reads_aws_endpoint_url_itself(s3_env, s3_root):
    """Why the settings still pass endpoint_url explicitly is the client cache; but the pinned
    s3fs/botocore do honour AWS_ENDPOINT_URL, so other tools in the task (the AWS CLI,
    boto3 in user code) see the same server."""
    import s3fs

    io.write_bytes(io.join(s3_root, "f"), b"x")
    fs = s3fs.S3FileSystem(skip_instance_cache=True, use_listings_cache=False)  # nothing passed
    assert fs.cat(io.parse(io.join(s3_root, "f")).path) == b"x"


def test_beam_reads_and_writes_s3_with_the_options_alone(s3_env, s3_root, monkeypatch):
    """A Beam executor gets the settings as pipeline options: with no AWS_* variable left in
    the environment, Beam's S3 filesystem still reaches SeaweedFS with the right keys."""
    import apache_beam as beam
    from apache_beam.options.pipeline_options import PipelineOptions

    io.write_text(io.join(s3_root, "in.txt"), "a\nb\n")
    args = io.with_beam_s3_options(["--runner=DirectRunner"], dict(os.environ))
    for name in AWS_VARS:
        monkeypatch.delenv(name, raising=False)
    with beam.Pipeline(options=PipelineOptions(list(args))) as p:
        _ = (p | beam.io.ReadFromText(io.join(s3_root, "in.txt")) | beam.Map(str.upper)
             | beam.io.WriteToText(io.join(s3_root, "out"), shard_name_template=""))
    for name, value in s3_env.env.items():
        monkeypatch.setenv(name, value)
    assert sorted(io.read_text(io.join(s3_root, "out")).split()) == ["A", "B"]
