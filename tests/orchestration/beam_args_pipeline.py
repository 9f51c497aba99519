"""A one-node pipeline whose executor records the Beam args it was given (no Beam run)."""
from __future__ import annotations

import json

from beampipe.components.base import BaseComponent, ExecContext, Out
from beampipe.metadata.artifacts import Model
from beampipe.orchestration.pipeline import Pipeline


class RecordArgs(BaseComponent):
    OUTPUTS = {"record": Out(Model)}

    @classmethod
    def execute(cls, ctx: ExecContext) -> None:
        ctx.output("record").custom_properties["beam_args"] = json.dumps(ctx.beam_pipeline_args)


def make_pipeline(root: str, pipeline_args: list[str], node_args: list[str]) -> Pipeline:
    node = RecordArgs().with_beam_pipeline_args(node_args)
    return Pipeline("beam-args", root, [node], beam_pipeline_args=pipeline_args)
