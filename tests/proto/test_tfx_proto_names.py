"""The tfx.proto names of issue 10: resolve lazily, carry TFX 1.16's fields, survive the IR."""
from __future__ import annotations

import json
import subprocess
import sys

import pytest

import beampipe as tfx
from beampipe.components.base import to_jsonable
from beampipe.proto._message import from_dict

NAMES = ["FeatureSlicingSpec", "SingleSlicingSpec", "TensorFlowServing", "TensorFlowServingRequestSpec",
         "KubernetesConfig", "LocalDockerConfig", "PodOverrides", "EnvVar", "EnvVarSource",
         "SecretKeySelector", "PredictOutput", "PredictOutputCol", "ClassifyOutput", "RegressOutput",
         "OutputColumnsSpec", "CustomConfig", "DistributionValidatorConfig", "FeatureComparator",
         "PayloadFormat", "Versioning"]


def test_names_resolve_without_loading_ml_libraries():
    code = ("import sys, beampipe as tfx\n"
            f"names = {NAMES!r}\n"
            "assert all(getattr(tfx.proto, n) for n in names)\n"
            "assert tfx.proto.orchestration.RunState and tfx.proto.orchestration.run_state_pb2.DESCRIPTOR\n"
            "assert tfx.testing.Channel\n"
            "print([m for m in ('tensorflow', 'apache_beam', 'tfx_bsl', 'tensorflow_model_analysis')"
            " if m in sys.modules])\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "[]"
    assert set(NAMES + ["orchestration"]) <= set(dir(tfx.proto))


def _round_trip(value):
    back = from_dict(type(value), json.loads(json.dumps(to_jsonable(value))))
    assert back == value
    return back


def test_configs_round_trip_through_the_ir():
    p = tfx.proto
    env = p.EnvVar(name="TOKEN", value_from=p.EnvVarSource(secret_key_ref=p.SecretKeySelector("s", "k")))
    _round_trip(p.ServingSpec(tensorflow_serving=p.TensorFlowServing(image_name="my/serving", tags=["2.16.1"]),
                              kubernetes=p.KubernetesConfig(service_account_name="sa", serving_pod_overrides=
                                                            p.PodOverrides(annotations={"a": "b"}, env=[env]))))
    _round_trip(p.RequestSpec(tensorflow_serving=p.TensorFlowServingRequestSpec(tag_set=["serve"]),
                              num_examples=3, make_warmup=True))
    spec = _round_trip(p.OutputExampleSpec(output_columns_spec=[
        p.OutputColumnsSpec(signature_name="c", classify_output=p.ClassifyOutput("l", "s")),
        p.OutputColumnsSpec(predict_output=p.PredictOutput([p.PredictOutputCol("out", "col")]))]))
    assert spec.output_columns_spec[1].WhichOneof("output_type") == "predict_output"
    assert spec.output_columns_spec[0].HasField("classify_output")
    _round_trip(p.FeatureSlicingSpec(specs=[p.SingleSlicingSpec(column_for_slicing=["island"])]))
    dest = _round_trip(p.PushDestination(filesystem=p.PushDestination.Filesystem(
        base_directory="/srv", versioning=p.Versioning.UNIX_TIMESTAMP)))
    assert dest.filesystem.versioning is p.Versioning.UNIX_TIMESTAMP


def test_tfx_defaults_and_oneofs():
    p = tfx.proto
    assert p.TensorFlowServing().tags == [] and p.ClassifyOutput().label_column == ""
    assert p.ServingSpec().WhichOneof("serving_binary") is None
    assert p.ServingSpec(local_docker=p.LocalDockerConfig()).WhichOneof("serving_platform") == "local_docker"
    with pytest.raises(ValueError, match="oneof 'output_type'"):
        p.OutputColumnsSpec(classify_output=p.ClassifyOutput(), regress_output=p.RegressOutput())
    assert p.Versioning.AUTO == 0 and p.Versioning.Name(1) == "UNIX_TIMESTAMP"
    assert dict(p.PayloadFormat.items()) == {"FORMAT_UNSPECIFIED": 0, "FORMAT_TF_EXAMPLE": 6,
                                             "FORMAT_TF_SEQUENCE_EXAMPLE": 7, "FORMAT_PROTO": 11,
                                             "FORMAT_PARQUET": 15}
    assert p.PayloadFormat.Value("FORMAT_PARQUET") == 15


def test_tfmd_and_any_messages_become_json_dicts():
    from google.protobuf import any_pb2, struct_pb2
    from tensorflow_metadata.proto.v0 import path_pb2, schema_pb2
    p = tfx.proto
    comparator = p.FeatureComparator(
        path=path_pb2.Path(step=["age"]),
        distribution_comparator=schema_pb2.FeatureComparator(
            jensen_shannon_divergence=schema_pb2.JensenShannonDivergence(threshold=0.1)))
    assert comparator.path == {"step": ["age"]}
    assert comparator.distribution_comparator == {"jensen_shannon_divergence": {"threshold": 0.1}}
    config = _round_trip(p.DistributionValidatorConfig(
        default_slice_config=p.DistributionValidatorConfig.DatasetConfig(feature=[comparator])))
    assert config.default_slice_config.feature[0].path == {"step": ["age"]}
    packed = any_pb2.Any()
    packed.Pack(struct_pb2.Struct(fields={"k": struct_pb2.Value(string_value="v")}))
    custom = p.CustomConfig(custom_config=packed)
    assert custom.custom_config["@type"].endswith("google.protobuf.Struct")
    assert p.CustomConfig(custom_config={"a": 1}).custom_config == {"a": 1}


def test_run_state_is_a_wire_compatible_message():
    from google.protobuf import json_format
    RunState = tfx.proto.orchestration.RunState
    state = RunState(state=RunState.FAILED, status_msg="boom", update_time=1700000000)
    state.status_code.value = 13
    wire = state.SerializeToString()
    assert RunState.FromString(wire) == state
    # field numbers as TFX's run_state.proto: state=1 (enum), status_msg=2, status_code=3, update_time=4
    assert wire[:2] == bytes([0x08, 7]) and bytes([0x12, 4]) + b"boom" in wire
    assert json_format.MessageToDict(state)["state"] == "FAILED"
    assert RunState.State.Name(8) == "SKIPPED_PARTIAL_RUN"
    module = tfx.proto.orchestration.run_state_pb2
    assert module.RunState is RunState and module.DESCRIPTOR.package == "tfx.orchestration"
