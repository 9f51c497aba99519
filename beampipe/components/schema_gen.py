"""SchemaGen (infer a schema from statistics) and ImportSchemaGen (use a hand-written one).

Both write the Schema artifact's schema file (``Schema.schema_file``). SchemaGen infers from the first split and widens the
schema with every other split (``tfdv.update_schema``), as TFX does.
"""
from __future__ import annotations

import os

from beampipe.components.base import BaseComponent, Channel, ExecContext, In, Out, Param
from beampipe.metadata.artifacts import ExampleStatistics, Schema


class SchemaGen(BaseComponent):
    INPUTS = {"statistics": In(ExampleStatistics)}
    OUTPUTS = {"schema": Out(Schema)}
    PARAMETERS = {"infer_feature_shape": Param(bool, default=True), "exclude_splits": Param(list, default=[])}

    def __init__(self, statistics: Channel, infer_feature_shape: bool = True,
                 exclude_splits: list[str] | None = None) -> None:
        super().__init__({"statistics": statistics},
                         {"infer_feature_shape": infer_feature_shape, "exclude_splits": exclude_splits})

    @classmethod
    def execute(cls, ctx: ExecContext) -> None:
        import tensorflow_data_validation as tfdv
        from beampipe.transforms import tfdv_io

        statistics = ctx.input("statistics")
        splits = tfdv_io.chosen_splits(statistics.splits, ctx.prop("exclude_splits", []))
        if not splits:
            raise ValueError(f"node '{ctx.node_id}': no split left to infer a schema from")
        shape = bool(ctx.prop("infer_feature_shape", True))
        schema = None
        for split in splits:
            stats = tfdv_io.load_statistics(statistics, split)
            if schema is None:
                schema = tfdv.infer_schema(stats, infer_feature_shape=shape)
            else:
                schema = tfdv.update_schema(schema, stats, infer_feature_shape=shape)
        out = ctx.output("schema")
        path = tfdv_io.write_schema(schema, out)
        ctx.log.info("SchemaGen: %d features from splits %s -> %s", len(schema.feature), splits, path)


class ImportSchemaGen(BaseComponent):
    """A user-curated schema file (e.g. with drift comparators) as a Schema artifact."""

    OUTPUTS = {"schema": Out(Schema)}
    PARAMETERS = {"schema_file": Param(str, required=True, path=True)}

    def __init__(self, schema_file: str) -> None:
        super().__init__({}, {"schema_file": schema_file})

    @classmethod
    def cache_material(cls, exec_properties: dict) -> str:
        """The file's content, so an edited schema file re-runs the node."""
        path = str(exec_properties.get("schema_file", ""))
        if not os.path.isfile(path):
            return f"missing:{path}"
        from beampipe.transforms.input_patterns import fingerprint_files
        return fingerprint_files([path])

    @classmethod
    def execute(cls, ctx: ExecContext) -> None:
        from beampipe.transforms import tfdv_io

        path = os.path.abspath(ctx.prop("schema_file"))
        schema = tfdv_io.parse_schema_file(path)
        tfdv_io.write_schema(schema, ctx.output("schema"))
        ctx.log.info("ImportSchemaGen: %d features from %s", len(schema.feature), path)
