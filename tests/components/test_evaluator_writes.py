"""The Evaluator's one-step writer (``tfma_write``) writes the very files TFMA's writers write."""
from __future__ import annotations

import struct

from beampipe.components import evaluator
from tests.components import model_fixtures as mf
from tests.components.test_evaluator import run_evaluator
from tests.components.testdata.tree import files_under


def _both(tmp_path, examples, model, config, baseline=None):
    """(fast, TFMA's) evaluation and blessing files and blessing properties."""
    runs = {}
    for fast in (True, False):
        evaluator._FAST_WRITE = fast
        try:
            evaluation, blessing = run_evaluator(tmp_path / str(fast), examples, model, config,
                                                 baseline=baseline)
        finally:
            evaluator._FAST_WRITE = True
        runs[fast] = (files_under(evaluation.uri), files_under(blessing.uri), blessing.custom_properties)
    return runs[True], runs[False]


def _assert_same(fast, ref):
    assert sorted(fast[0]) == sorted(ref[0])
    assert {"eval_config.json", "metrics-00000-of-00001.tfrecord", "plots-00000-of-00001.tfrecord",
            "attributions-00000-of-00001.tfrecord", "validations.tfrecord"} <= set(fast[0])
    assert [name for name in fast[0] if fast[0][name] != ref[0][name]] == []
    assert fast[1] == ref[1] and fast[2] == ref[2]


def test_files_equal_tfmas_with_slices_and_failed_thresholds(tmp_path_factory, tmp_path):
    """Several slices (several metrics records) and failed thresholds (a full ValidationResult)."""
    examples, model = mf.shared(tmp_path_factory, "examples"), mf.shared(tmp_path_factory, "model")
    fast, ref = _both(tmp_path, examples, model, mf.eval_config_json(1.01))
    _assert_same(fast, ref)
    assert fast[2]["blessed"] == 0 and len(fast[0]["metrics-00000-of-00001.tfrecord"]) > 200


def test_files_equal_tfmas_with_a_baseline(tmp_path_factory, tmp_path):
    """Two models (candidate and baseline, diff metrics) and a change threshold."""
    examples = mf.shared(tmp_path_factory, "examples")
    good, bad = mf.shared(tmp_path_factory, "model"), mf.shared(tmp_path_factory, "bad_model")
    fast, ref = _both(tmp_path, examples, bad, mf.eval_config_json(0.0, change=-1e-10), baseline=good)
    _assert_same(fast, ref)
    assert fast[2]["blessed"] == 0


def test_tfrecord_framing_is_beams(tmp_path):
    from apache_beam.io.tfrecordio import _TFRecordUtil

    from beampipe.transforms.example_io import write_tfrecords

    records = [b"", b"a", b"\x00" * 1000, bytes(range(256))]
    write_tfrecords(str(tmp_path / "ours"), records, gzip=False)
    with open(tmp_path / "beams", "wb") as f:
        for record in records:
            _TFRecordUtil.write_record(f, record)
    assert (tmp_path / "ours").read_bytes() == (tmp_path / "beams").read_bytes()
    write_tfrecords(str(tmp_path / "empty"), [], gzip=False)  # an output with no records: an empty file
    assert (tmp_path / "empty").read_bytes() == b""
    assert struct.unpack("<Q", (tmp_path / "ours").read_bytes()[:8]) == (0,)


def test_validations_key_is_tfmas():
    import tensorflow_model_analysis as tfma

    from beampipe.transforms import tfma_write
    assert tfma_write._VALIDATIONS == tfma.constants.VALIDATIONS_KEY
