"""Value artifacts: TFX's encodings byte for byte, None, the store round trip, Tuner's results."""
from __future__ import annotations

import json
import math
import os
from types import SimpleNamespace

import pytest

import beampipe as tfx
from beampipe.components.tuner import Tuner, write_tuner_results
from beampipe.metadata.artifacts import TunerResults, artifact_class
from beampipe.metadata.store import MetadataStore
from beampipe.metadata.value_artifacts import (IS_NULL_KEY, Boolean, Bytes, Float, Integer, JsonValue, String,
                                               ValueArtifact)

# (type, value, the bytes TFX 1.16 writes for it)
ENCODINGS = [
    (Integer, 42, b"42"), (Integer, -7, b"-7"),
    (Float, 0.5, b"0.5"), (Float, math.inf, b"Infinity"), (Float, -math.inf, b"-Infinity"),
    (String, "héllo", "héllo".encode()), (Boolean, True, b"1"), (Boolean, False, b"0"),
    (Bytes, b"\x00\xff", b"\x00\xff"), (JsonValue, {"b": [1, 2], "a": None}, b'{"a": null, "b": [1, 2]}'),
]


@pytest.mark.parametrize("cls,value,encoded", ENCODINGS)
def test_value_is_written_as_tfx_writes_it_and_reads_back(tmp_path, cls, value, encoded) -> None:
    art = cls(str(tmp_path / "a"))
    art.value = value
    with open(os.path.join(art.uri, "value"), "rb") as f:
        assert f.read() == encoded
    again = cls(art.uri)  # a fresh object reads the file
    again.custom_properties.update(art.custom_properties)
    assert again.value == value and again.read() == value
    assert art.custom_properties[IS_NULL_KEY] == 0


def test_nan_and_none(tmp_path) -> None:
    f = Float(str(tmp_path / "f"))
    f.value = math.nan
    assert open(f.value_file(), "rb").read() == b"NaN" and math.isnan(Float(f.uri).value)
    s = String(str(tmp_path / "s"))
    s.value = None
    assert open(s.value_file(), "rb").read() == b"" and s.custom_properties[IS_NULL_KEY] == 1
    reread = String(s.uri)
    reread.custom_properties.update(s.custom_properties)
    assert reread.value is None


@pytest.mark.parametrize("cls,wrong", [(Integer, "3"), (Float, 3), (String, b"x"), (Boolean, 1), (Bytes, "x")])
def test_wrong_python_type_is_refused(tmp_path, cls, wrong) -> None:
    with pytest.raises(TypeError, match=f"{cls.TYPE_NAME} artifact: expected"):
        cls(str(tmp_path / "a")).value = wrong


def test_uri_that_is_the_file_reads_as_tfx_records_it(tmp_path) -> None:
    """TFX records the value file itself as the URI: importing such a URI reads it."""
    path = tmp_path / "value"
    path.write_bytes(b"17")
    assert Integer(str(path)).value == 17
    with pytest.raises(FileNotFoundError, match="no value file"):
        Integer(str(tmp_path / "missing")).read()


def test_store_rebuilds_value_types_and_user_types(tmp_path) -> None:
    class Embedding(tfx.dsl.Artifact):
        TYPE_NAME = "EmbeddingForStoreTest"
        PROPERTIES = {"dim": int}

    assert artifact_class("Integer") is Integer and artifact_class("EmbeddingForStoreTest") is Embedding
    store = MetadataStore(f"sqlite://{tmp_path / 'm.sqlite'}")
    try:
        ctx = store.contexts("p", "r1", "n")
        num = Integer(str(tmp_path / "n"))
        num.value = 5
        emb = Embedding(str(tmp_path / "e"))
        emb.dim = 8
        exec_id = store.start_execution("t", ctx, {}, {})
        store.finish_execution(exec_id, "COMPLETE", ctx, {"n": [num], "e": [emb]})
        out = store.artifacts_of(exec_id)
        assert isinstance(out["n"][0], Integer) and out["n"][0].value == 5
        assert isinstance(out["e"][0], Embedding) and out["e"][0].dim == 8
    finally:
        store.close()


def test_namespace_names_are_the_classes() -> None:
    sa = tfx.types.standard_artifacts
    assert (sa.String, sa.Integer, sa.Float, sa.Boolean, sa.Bytes, sa.JsonValue) == \
        (String, Integer, Float, Boolean, Bytes, JsonValue)
    assert sa.TunerResults is TunerResults and issubclass(sa.Integer, ValueArtifact)
    assert issubclass(sa.String, tfx.dsl.Artifact)


def test_tuner_records_every_completed_trial_best_first(tmp_path) -> None:
    """What Tuner writes into ``tuner_results``: TFX's rows from keras-tuner's oracle."""
    def trial(tid: str, score: float, status: str = "COMPLETED", **hp):
        return SimpleNamespace(trial_id=tid, score=score, status=status,
                               hyperparameters=SimpleNamespace(values=hp))
    trials = [trial("02", 0.9, lr=0.01, units=8), trial("00", 0.7, lr=0.1, units=4),
              trial("01", None, status="FAILED", lr=1.0, units=2), trial("03", 0.5)]
    oracle = SimpleNamespace(max_trials=4, get_best_trials=lambda n: trials[:n])
    art = TunerResults(str(tmp_path))
    rows = write_tuner_results(SimpleNamespace(oracle=oracle), art)
    assert json.load(open(art.results_file())) == rows == [
        {"trial_id": "02", "score": 0.9, "lr": 0.01, "units": 8},
        {"trial_id": "00", "score": 0.7, "lr": 0.1, "units": 4}]
    assert Tuner.OUTPUTS["tuner_results"].type is TunerResults


def test_new_names_resolve_without_loading_an_ml_library() -> None:
    import subprocess
    import sys

    code = ("import sys, beampipe as tfx\n"
            "names = [tfx.dsl.components.component, tfx.dsl.components.OutputDict, tfx.dsl.Importer,\n"
            "         tfx.dsl.Artifact, tfx.dsl.ExecutionMode.SYNC, tfx.types.standard_artifacts.String,\n"
            "         tfx.types.BaseBeamComponent, tfx.types.BaseFunctionalComponentFactory]\n"
            "heavy = [m for m in ('tensorflow', 'apache_beam', 'tensorflow_data_validation',\n"
            "         'tensorflow_transform', 'tensorflow_model_analysis', 'tfx_bsl') if m in sys.modules]\n"
            "print(heavy)\n")
    repo = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         env={**os.environ, "PYTHONPATH": repo}, timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "[]"
