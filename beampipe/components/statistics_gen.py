"""StatisticsGen: TFDV statistics of every split, as TFX 1.16 writes them, plus an HTML report
(``beampipe.transforms.reports``: the web UI's view of the split, beside the others).

Output per split: the statistics (binary DatasetFeatureStatisticsList) and a report, where
``ExampleStatistics.stats_file`` / ``report_file`` put them. All splits are computed in ONE Beam pipeline so Beam and
TFDV start once. With no Beam args, Beam is skipped at any size (``tfdv_io.skips_beam``):
``tfdv_stream`` streams the examples through the same TFDV calls, so the numbers are Beam's.
Args that only ask DirectRunner for several worker processes skip it too: the examples are
then read and decoded in a second process (``decode_process``), with the same numbers.
"""
from __future__ import annotations

import contextlib
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
            processes = tfdv_io.stream_processes(ctx.beam_pipeline_args)
            ctx.log.info("StatisticsGen: streaming the examples without Beam (%d process%s)",
                         processes, "es" if processes > 1 else "")
            with contextlib.ExitStack() as stack:
                reader = None
                if processes > 1:
                    from beampipe.transforms.decode_process import DecodeProcess
                    reader = stack.enter_context(DecodeProcess())
                for split in splits:
                    tfdv_io.statistics_in_memory(examples.split_uri(split), out.stats_file(split),
                                                 tfdv_io.stats_options(raw_options, schema), reader=reader)
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
