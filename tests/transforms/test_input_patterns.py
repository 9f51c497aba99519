"""Span / version / date patterns and the input fingerprint."""
from __future__ import annotations

import os

import pytest

from beampipe.transforms.input_patterns import fingerprint_files, resolve


def touch(base, rel: str, text: str = "a\n1\n") -> str:
    path = os.path.join(base, rel)
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w") as f:
        f.write(text)
    return path


def test_latest_span_and_version_by_default(tmp_path):
    for rel in ["span-1/v1/a.csv", "span-2/v1/a.csv", "span-2/v3/a.csv", "span-2/v3/b.csv", "span-10/v0/a.csv"]:
        touch(tmp_path, rel)
    got = resolve(str(tmp_path), [{"name": "s", "pattern": "span-{SPAN}/v{VERSION}/*.csv"}])
    assert (got.span, got.version) == (10, 0)
    got = resolve(str(tmp_path), [{"name": "s", "pattern": "span-{SPAN}/v{VERSION}/*.csv"}],
                  {"static_range": {"start_span_number": 2, "end_span_number": 2}})
    assert (got.span, got.version) == (2, 3)
    assert [os.path.basename(f) for f in got.files["s"]] == ["a.csv", "b.csv"]


def test_missing_span_and_bad_range(tmp_path):
    touch(tmp_path, "span-1/a.csv")
    with pytest.raises(ValueError, match="no input for span 5.*spans found: \\[1\\]"):
        resolve(str(tmp_path), [{"name": "s", "pattern": "span-{SPAN}/*"}],
                {"static_range": {"start_span_number": 5, "end_span_number": 5}})
    with pytest.raises(ValueError, match="one span"):
        resolve(str(tmp_path), [{"name": "s", "pattern": "span-{SPAN}/*"}],
                {"static_range": {"start_span_number": 1, "end_span_number": 2}})
    with pytest.raises(ValueError, match="rolling_range: ExampleGen reads a single span"):
        resolve(str(tmp_path), [{"name": "s", "pattern": "span-{SPAN}/*"}],
                {"rolling_range": {"start_span_number": 0, "num_spans": 2}})
    with pytest.raises(ValueError, match="no input file matches"):
        resolve(str(tmp_path), [{"name": "s", "pattern": "other-{SPAN}/*"}])


def test_date_pattern_is_days_since_epoch(tmp_path):
    touch(tmp_path, "2024-01-02/data.csv")
    touch(tmp_path, "2023-12-31/data.csv")
    got = resolve(str(tmp_path), [{"name": "s", "pattern": "{YYYY}-{MM}-{DD}/*.csv"}])
    assert got.span == 19724  # 2024-01-02


def test_pre_split_inputs_share_the_span(tmp_path):
    touch(tmp_path, "span-3/train/a.csv")
    touch(tmp_path, "span-3/eval/a.csv")
    got = resolve(str(tmp_path), [{"name": "train", "pattern": "span-{SPAN}/train/*"},
                                  {"name": "eval", "pattern": "span-{SPAN}/eval/*"}])
    assert got.span == 3 and set(got.files) == {"train", "eval"}


def test_fingerprint_sees_same_size_edit(tmp_path):
    path = touch(tmp_path, "a.csv", "x\n1\n")
    before = fingerprint_files([path])
    touch(tmp_path, "a.csv", "x\n2\n")
    assert fingerprint_files([path]) != before
