"""SchemaGen infers a schema from statistics; ImportSchemaGen takes a file, with clear errors."""
from __future__ import annotations

import pytest

from beampipe.components.base import ExecContext
from beampipe.components.schema_gen import ImportSchemaGen, SchemaGen
from beampipe.metadata.artifacts import ExampleStatistics, Schema
from tests.components.test_statistics_gen import penguin_examples, run_statistics_gen  # noqa: F401


def run_component(cls, component, inputs, out_dir) -> Schema:
    ctx = ExecContext(node_id=cls.__name__, run_id="r1", pipeline_name="t", pipeline_root=str(out_dir),
                      inputs=inputs, outputs={"schema": [Schema(uri=str(out_dir))]},
                      exec_properties=component.exec_properties)
    cls.execute(ctx)
    return ctx.output("schema")


def test_schema_gen_infers_penguin_features(penguin_examples, tmp_path):  # noqa: F811
    from beampipe.transforms.tfdv_io import load_schema
    stats = run_statistics_gen(penguin_examples, tmp_path / "stats")
    schema_art = run_component(SchemaGen, SchemaGen(statistics=None), {"statistics": [stats]},  # type: ignore
                               tmp_path / "schema")
    schema = load_schema(schema_art)
    types = {f.name: f.type for f in schema.feature}
    from tensorflow_metadata.proto.v0 import schema_pb2
    assert types["species"] == schema_pb2.BYTES and types["year"] == schema_pb2.INT
    assert types["bill_length_mm"] == schema_pb2.FLOAT and types["body_mass_g"] == schema_pb2.INT
    assert {d.name for d in schema.string_domain} >= {"species", "island", "sex"}
    species = next(d for d in schema.string_domain if d.name == "species")
    assert set(species.value) == {"Adelie", "Chinstrap", "Gentoo"}


def test_import_schema_gen(tmp_path):
    good = tmp_path / "curated.pbtxt"  # a user's file: any name
    good.write_text('feature { name: "x" type: INT }\n')
    art = run_component(ImportSchemaGen, ImportSchemaGen(schema_file=str(good)), {}, tmp_path / "out")
    assert 'name: "x"' in open(art.schema_file()).read()
    assert art.uri == str(tmp_path / "out")
    with pytest.raises(ValueError, match="schema file .*missing.pbtxt does not exist"):
        run_component(ImportSchemaGen, ImportSchemaGen(schema_file=str(tmp_path / "missing.pbtxt")), {},
                      tmp_path / "o2")
    bad = tmp_path / "bad.pbtxt"
    bad.write_text("feature { name: x type: WHAT }\n")
    with pytest.raises(ValueError, match="bad.pbtxt is not a text-format tensorflow_metadata Schema"):
        run_component(ImportSchemaGen, ImportSchemaGen(schema_file=str(bad)), {}, tmp_path / "o3")
