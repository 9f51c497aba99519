"""The proto round trip: beampipe's config dataclasses give the JSON protobuf gives TFX's protos,
read JSON back in either casing, and parse pbtxt files (local and s3://) into dataclasses or real protos."""
from __future__ import annotations

import json

import pytest

import beampipe as tfx
from beampipe import io
from beampipe.proto import utils
from beampipe.proto.example_diff import ExampleDiffConfig, PairedExampleSkew
from beampipe.proto.model import TrainArgs
from beampipe.proto.serving import PushDestination
from tests.io.conftest import s3_env  # noqa: F401 - the S3 server's settings, as tests/io use them

# TFX 1.16's tfx/proto/example_diff.proto, built as a real protobuf message (TFX is not installed).
_EXAMPLE_DIFF_PROTO = {
    "PairedExampleSkew": [("identifier_features", 1, "STRING", "REPEATED"), ("skew_sample_size", 2, "UINT32", ""),
                          ("ignore_features", 3, "STRING", "REPEATED"), ("float_round_ndigits", 4, "UINT32", ""),
                          ("allow_duplicate_identifiers", 5, "BOOL", ""),
                          ("confusion_config", 6, ".t.PairedExampleSkew.ConfusionConfig", "REPEATED")],
    "PairedExampleSkew.ConfusionConfig": [("feature_name", 1, "STRING", "")],
    "ExampleDiffConfig": [("paired_example_skew", 1, ".t.PairedExampleSkew", "")],
}


@pytest.fixture(scope="module")
def tfx_proto():
    """The real ExampleDiffConfig message class, from a descriptor written like TFX's .proto."""
    from google.protobuf import descriptor_pb2, descriptor_pool, message_factory

    fd = descriptor_pb2.FileDescriptorProto(name="t_example_diff.proto", package="t", syntax="proto3")
    messages = {}
    for name, fields in _EXAMPLE_DIFF_PROTO.items():
        outer, _, inner = name.partition(".")
        msg = messages[outer].nested_type.add(name=inner) if inner else fd.message_type.add(name=outer)
        messages.setdefault(name, msg)
        for fname, number, ftype, label in fields:
            f = msg.field.add(name=fname, number=number, json_name=utils._camel(fname),
                              label=getattr(descriptor_pb2.FieldDescriptorProto,
                                            f"LABEL_{label or 'OPTIONAL'}"))
            if ftype.startswith("."):
                f.type, f.type_name = descriptor_pb2.FieldDescriptorProto.TYPE_MESSAGE, ftype
            else:
                f.type = getattr(descriptor_pb2.FieldDescriptorProto, f"TYPE_{ftype}")
    pool = descriptor_pool.DescriptorPool()
    pool.Add(fd)
    return message_factory.GetMessageClass(pool.FindMessageTypeByName("t.ExampleDiffConfig"))


def _config() -> ExampleDiffConfig:
    return ExampleDiffConfig(paired_example_skew=PairedExampleSkew(
        identifier_features=["id", "ts"], skew_sample_size=10, allow_duplicate_identifiers=True,
        confusion_config=[PairedExampleSkew.ConfusionConfig(feature_name="species")]))


def test_proto_to_json_is_what_protobuf_writes_for_tfx_proto(tfx_proto):
    from google.protobuf import json_format
    config = _config()
    real = json_format.Parse(utils.proto_to_json(config), tfx_proto())
    assert utils.proto_to_json(config) == json_format.MessageToJson(
        real, sort_keys=True, preserving_proto_field_name=True)  # TFX's proto_utils.proto_to_json
    assert utils.proto_to_json(config, preserving_proto_field_name=False) == json_format.MessageToJson(
        real, sort_keys=True)
    assert utils.proto_to_json(real) == utils.proto_to_json(config)  # real messages go through json_format


def test_json_round_trip_both_casings_and_unknown_fields(tfx_proto):
    from google.protobuf import json_format
    config = _config()
    assert utils.json_to_proto(utils.proto_to_json(config), ExampleDiffConfig) == config
    camel = json_format.MessageToJson(json_format.Parse(utils.proto_to_json(config), tfx_proto()))
    assert "identifierFeatures" in camel
    assert utils.json_to_proto(camel, ExampleDiffConfig) == config
    with_extra = json.dumps({"paired_example_skew": {"identifier_features": ["id"], "future_field": 1}})
    assert utils.json_to_proto(with_extra, ExampleDiffConfig()).paired_example_skew.identifier_features == ["id"]
    assert utils.proto_to_json(ExampleDiffConfig()) == "{}"  # defaults are left out, as protobuf does


def test_json_to_proto_fills_an_instance_and_reads_64_bit_strings():
    args = TrainArgs(splits=["train"])
    out = utils.json_to_proto('{"numSteps": "100"}', args)
    assert out is args and args.num_steps == "100" and args.splits == ["train"]  # num_steps is untyped (Any)
    skew = utils.json_to_proto('{"skewSampleSize": "7", "allowDuplicateIdentifiers": true}', PairedExampleSkew)
    assert skew.skew_sample_size == 7 and skew.allow_duplicate_identifiers is True
    dest = utils.dict_to_proto({"filesystem": {"base_directory": "/srv/models"}}, PushDestination)
    assert dest.filesystem.base_directory == "/srv/models"


PBTXT = """
# ExampleDiff config, as a TFX user writes it
paired_example_skew {
  identifier_features: "id"
  identifier_features: 'ts'
  skew_sample_size: 10
  allow_duplicate_identifiers: true
  confusion_config { feature_name: "species" }
}
"""


def test_parse_pbtxt_into_dataclass(tmp_path):
    path = tmp_path / "config.pbtxt"
    path.write_text(PBTXT)
    assert tfx.utils.parse_pbtxt_file(str(path), ExampleDiffConfig()) == _config()
    path.write_text("paired_example_skew { identifier_feature: 'id' }")
    with pytest.raises(ValueError, match="identifier_feature"):
        utils.parse_pbtxt_file(str(path), ExampleDiffConfig)
    path.write_text("paired_example_skew { identifier_features: 'id' ")
    with pytest.raises(ValueError, match="unclosed"):
        utils.parse_pbtxt_file(str(path), ExampleDiffConfig)


def test_parse_pbtxt_real_protos_local_and_s3(tmp_path, s3_env):
    from tensorflow_metadata.proto.v0 import schema_pb2
    text = 'feature { name: "species" type: BYTES presence { min_fraction: 1.0 } }\n' \
           'feature { name: "body_mass_g" type: FLOAT }\n'
    for base in (str(tmp_path), f"s3://{s3_env.bucket}/pbtxt"):
        io.write_text(io.join(base, "schema.pbtxt"), text)
        schema = tfx.utils.parse_pbtxt_file(io.join(base, "schema.pbtxt"), schema_pb2.Schema())
        assert [f.name for f in schema.feature] == ["species", "body_mass_g"]
        assert schema.feature[1].type == schema_pb2.FLOAT


def test_our_pbtxt_reader_agrees_with_protobuf_text_format(tfx_proto):
    """The same text into a real message (protobuf's parser) and into the dataclass (ours)."""
    from google.protobuf import text_format
    text = PBTXT.replace("confusion_config {", "ignore_features: ['a', \"b\"] confusion_config <").replace(
        '"species" }', '"species" >; float_round_ndigits: 2')
    real = text_format.Parse(text, tfx_proto())
    ours = utils.parse_pbtxt(text, ExampleDiffConfig)
    assert ours.paired_example_skew.ignore_features == ["a", "b"]
    assert utils.proto_to_json(ours) == utils.proto_to_json(real)
    with pytest.raises(text_format.ParseError, match="multiple"):
        text_format.Parse(PBTXT + PBTXT, tfx_proto())
    with pytest.raises(ValueError, match="more than once"):
        utils.parse_pbtxt(PBTXT + PBTXT, ExampleDiffConfig)


def test_tfx_style_imports():
    from beampipe.utils import io_utils, proto_utils
    assert proto_utils.json_to_proto(proto_utils.proto_to_json(_config()), ExampleDiffConfig) == _config()
    assert io_utils.parse_pbtxt_file is tfx.utils.parse_pbtxt_file
    assert tfx.utils.JsonableType is utils.JsonableType
