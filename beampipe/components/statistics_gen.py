"""StatisticsGen: TFDV statistics of every split, as TFX 1.16 writes them, plus an HTML report
(``beampipe.transforms.reports``: the web UI's view of the split, beside the others).

Output per split: the statistics (binary DatasetFeatureStatisticsList) and a report, where
``ExampleStatistics.stats_file`` / ``report_file`` put them. All splits are computed in ONE Beam pipeline so Beam and
TFDV start once. With no Beam args, Beam is skipped at any size (``tfdv_io.skips_beam``):
``tfdv_stream`` streams the examples through the same TFDV calls, so the numbers are Beam's.
"""
from __future__ import annotations

from typing import Any

from beampipe.components.base import BaseComponent, Channel, ExecContext, In, Out, Param
from beampipe.metadata.artifacts import ExampleStatistics, Examples, Schema


class StatisticsGen(BaseComponent):
    INPUTS = {"examples": In(Examples), "schema": In(Schema, optional=True)}
    OUTPUTS = {"statistics": Out(ExampleStatistics)}
    PARAMETERS = {"stats_options": Param(object), "exclude_splits": Param(list, default=[])}

    def __init__(self, examples: Channel, schema: Channel | None = None, stats_options: Any = None,
                 exclude_splits: list[str] | None = None) -> None:
        from beampipe.transforms.tfdv_io import options_to_jsonable
        super().__init__({"examples": examples, "schema": schema},
                         {"stats_options": options_to_jsonable(stats_options), "exclude_splits": exclude_splits})

    @classmethod
    def execute(cls, ctx: ExecContext) -> None:
        from beampipe.transforms import reports, tfdv_io

        examples = ctx.input("examples")
        schema_art = ctx.optional_input("schema")
        schema = tfdv_io.load_schema(schema_art) if schema_art is not None else None
        out = ctx.output("statistics")
        splits = tfdv_io.chosen_splits(examples.splits, ctx.prop("exclude_splits", []))
        raw_options = ctx.prop("stats_options")
        if tfdv_io.skips_beam(ctx.beam_pipeline_args, tfdv_io.stats_options(raw_options, schema)):
            ctx.log.info("StatisticsGen: no Beam args: streaming the examples without Beam")
            for split in splits:
                tfdv_io.statistics_in_memory(examples.split_uri(split), out.stats_file(split),
                                             tfdv_io.stats_options(raw_options, schema))
        else:
            from beampipe.transforms.beam_util import reads_in_order
            in_order = reads_in_order(ctx.beam_pipeline_args)
            with ctx.beam_pipeline() as p:
                for split in splits:
                    options = tfdv_io.stats_options(raw_options, schema)
                    tfdv_io.generate_statistics(p, split, examples.split_uri(split),
                                                out.stats_file(split), options, in_order)
        for split in splits:
            stats = tfdv_io.load_statistics(out, split)
            reports.write(out.report_file(split), reports.statistics_html(out, split, splits))
            count = stats.datasets[0].num_examples if stats.datasets else 0
            out.set_int_custom_property(f"num_examples_{split}", count)
            ctx.log.info("StatisticsGen: split %s, %d examples", split, count)
        out.splits = splits
        out.span = examples.span
