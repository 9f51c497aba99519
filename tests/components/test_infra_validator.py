"""InfraValidator starts `beampipe serve` on the candidate and sends it real examples over REST."""
from __future__ import annotations

import os

from beampipe.components.base import Channel, ExecContext
from beampipe.components.infra_validator import InfraValidator
from beampipe.metadata import layout
from beampipe.metadata.artifacts import Examples, InfraBlessing, Model
from beampipe.proto.serving import RequestSpec, ValidationSpec
from tests.components import model_fixtures as mf


def run_validator(tmp_path, model, examples, **kwargs) -> InfraBlessing:
    out = InfraBlessing(str(tmp_path / "blessing"))
    os.makedirs(out.uri)
    comp = InfraValidator(model=Channel(Model), examples=Channel(Examples), **kwargs)
    ctx = ExecContext(node_id="InfraValidator", run_id="r", pipeline_name="p", pipeline_root=str(tmp_path),
                      inputs={"model": [model], "examples": [examples]}, outputs={"blessing": [out]},
                      exec_properties=comp.exec_properties)
    InfraValidator.execute(ctx)
    return out


def test_blesses_a_good_model(tmp_path_factory, tmp_path):
    examples, model = mf.shared(tmp_path_factory, "examples"), mf.shared(tmp_path_factory, "model")
    out = run_validator(tmp_path, model, examples, request_spec=RequestSpec(num_examples=4, split_name="eval"),
                        validation_spec=ValidationSpec(max_loading_time_seconds=120, num_tries=2))
    assert os.path.exists(out.marker(True)), out.custom_properties
    assert out.custom_properties["blessed"] == 1
    assert out.custom_properties["num_requests"] == 4
    assert 0 < out.custom_properties["load_seconds"] < 120
    message = out.custom_properties["message"]
    assert "beampipe serve loaded it" in message and "answered 4 request(s) on serving_default" in message


def test_does_not_bless_a_model_whose_signature_the_server_lacks(tmp_path_factory, tmp_path):
    from beampipe.proto import TensorFlowServingRequestSpec
    examples, model = mf.shared(tmp_path_factory, "examples"), mf.shared(tmp_path_factory, "model")
    out = run_validator(tmp_path, model, examples, request_spec=RequestSpec(
        tensorflow_serving=TensorFlowServingRequestSpec(signature_names=["serving_default", "nope"])),
        validation_spec=ValidationSpec(max_loading_time_seconds=120, num_tries=2))
    assert out.custom_properties["blessed"] == 0
    assert "no signature 'nope'" in out.custom_properties["message"]


def test_does_not_bless_a_directory_that_is_not_a_model(tmp_path_factory, tmp_path):
    examples = mf.shared(tmp_path_factory, "examples")
    broken = Model(str(tmp_path / "broken"))
    os.makedirs(broken.serving_dir())
    with open(layout.join(broken.serving_dir(), layout.SAVED_MODEL_FILE), "wb") as f:
        f.write(b"not a saved model")
    out = run_validator(tmp_path, broken, examples,
                        validation_spec=ValidationSpec(max_loading_time_seconds=60, num_tries=3))
    assert os.path.exists(out.marker(False))
    assert not os.path.exists(out.marker(True))
    assert out.custom_properties["blessed"] == 0
    assert "did not load in beampipe serve" in out.custom_properties["message"]
    assert "saved_model.pb" in out.custom_properties["message"] or "parse" in out.custom_properties["message"].lower()
    assert out.custom_properties["num_tries"] == 1  # a model that cannot load is not retried


# -- TFX's ServingSpec / RequestSpec: serving binary, platforms, tag_set, make_warmup --------------

def test_docker_and_kubernetes_platforms_are_refused_with_the_reason():
    import pytest
    from beampipe.components.base import WiringError
    from beampipe.proto import (EnvVar, EnvVarSource, KubernetesConfig, LocalDockerConfig, PodOverrides,
                                SecretKeySelector, ServingSpec, TensorFlowServing)
    binary = TensorFlowServing(tags=["2.16.1"])
    pod = PodOverrides(env=[EnvVar(name="TOKEN", value_from=EnvVarSource(
        secret_key_ref=SecretKeySelector(name="serving", key="token")))])
    for platform, words in [({"local_docker": LocalDockerConfig()}, "Docker daemon"),
                            ({"kubernetes": KubernetesConfig(serving_pod_overrides=pod)}, "Kubernetes")]:
        with pytest.raises(WiringError, match=f"{words}.*starts no containers or Pods"):
            InfraValidator(model=Channel(Model), serving_spec=ServingSpec(tensorflow_serving=binary, **platform))
    with pytest.raises(ValueError, match="oneof 'serving_platform'"):
        ServingSpec(local_docker=LocalDockerConfig(), kubernetes=KubernetesConfig())


def test_tag_set_signatures_and_warmup_model(tmp_path_factory, tmp_path):
    """tag_set and signature_names pick what is called; make_warmup stamps a copy of the model
    with one TF Serving warmup request per example and signature, typed by the signature."""
    import tensorflow as tf
    from tensorflow_serving.apis import prediction_log_pb2
    from beampipe.proto import ServingSpec, TensorFlowServing, TensorFlowServingRequestSpec
    examples = mf.shared(tmp_path_factory, "examples")
    model = mf.export_classify_regress_model(str(tmp_path / "model"))
    out = run_validator(
        tmp_path, model, examples,
        serving_spec=ServingSpec(tensorflow_serving=TensorFlowServing(tags=["latest"])),
        request_spec=RequestSpec(num_examples=3, split_name="train", make_warmup=True,
                                 tensorflow_serving=TensorFlowServingRequestSpec(
                                     tag_set=["serve"], signature_names=["classify", "regress"])))
    props = out.custom_properties
    assert props["blessed"] == 1 and props["has_model"] == 1, props
    assert props["serving_image"] == "tensorflow/serving" and props["serving_tags"] == "latest"
    stamped = os.path.join(out.uri, "stamped_model")
    assert os.path.isfile(os.path.join(stamped, "saved_model.pb"))
    logs = [prediction_log_pb2.PredictionLog.FromString(r.numpy()) for r in tf.data.TFRecordDataset(
        os.path.join(stamped, "assets.extra", "tf_serving_warmup_requests"))]
    assert [log.WhichOneof("log_type") for log in logs] == ["classify_log"] * 3 + ["regress_log"] * 3
    assert logs[0].classify_log.request.model_spec.signature_name == "classify"
    assert logs[0].classify_log.request.input.example_list.examples[0].features.feature["island"]

    wrong_tags = run_validator(tmp_path / "gpu", model, examples, request_spec=RequestSpec(
        tensorflow_serving=TensorFlowServingRequestSpec(tag_set=["serve", "gpu"])))
    assert wrong_tags.custom_properties["blessed"] == 0
    assert "did not load" in wrong_tags.custom_properties["message"]


def test_server_that_dies_or_is_too_slow_is_retried_then_not_blessed(tmp_path_factory, tmp_path, monkeypatch):
    """A server that exits (here: a model name it refuses) and one that does not load the model
    within max_loading_time_seconds get num_tries tries, then no blessing with the reason; no
    server process outlives the validation."""
    import tempfile

    from beampipe.proto import ServingSpec
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    examples, model = mf.shared(tmp_path_factory, "examples"), mf.shared(tmp_path_factory, "model")
    died = run_validator(tmp_path / "died", model, examples, serving_spec=ServingSpec(model_name="no spaces, please"),
                         validation_spec=ValidationSpec(max_loading_time_seconds=60, num_tries=2))
    props = died.custom_properties
    assert props["blessed"] == 0 and props["num_tries"] == 2, props
    assert "beampipe serve exited 2" in props["message"] and "'name'" in props["message"], props
    slow = run_validator(tmp_path / "slow", model, examples,
                         validation_spec=ValidationSpec(max_loading_time_seconds=1, num_tries=1))
    assert slow.custom_properties["blessed"] == 0
    assert "AVAILABLE within 1s" in slow.custom_properties["message"], slow.custom_properties
    left = []
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            with open(f"/proc/{pid}/cmdline", "rb") as f:
                if str(tmp_path).encode() in f.read():
                    left.append(pid)
        except OSError:
            pass
    assert not left, f"server processes left running: {left}"
    assert not [n for n in os.listdir(tmp_path) if n.startswith("beampipe-infra-")]  # temp base paths removed
