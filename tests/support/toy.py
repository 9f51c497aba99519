"""Tiny @component nodes (no TF, no Beam) for orchestration tests."""
from __future__ import annotations

import os
import time

from beampipe.components import InputArtifact, OutputArtifact, Parameter, component
from beampipe.components.base import BaseComponent, ExecContext, Out, Param
from beampipe.metadata.artifacts import Examples, Model
from beampipe.orchestration.pipeline import Pipeline

CRASH_FLAG = "BEAMPIPE_TEST_CRASH_IN"


@component
def Produce(examples: OutputArtifact[Examples], text: Parameter[str] = "hello",
            source: Parameter[str] = "") -> None:
    """Writes text (or a source file's content) into its output."""
    if source:
        with open(source) as f:
            text = f.read()
    with open(os.path.join(examples.uri, "data.txt"), "w") as f:
        f.write(text)
    examples.splits = ["train"]


@component
def Consume(examples: InputArtifact[Examples], model: OutputArtifact[Model],
            sleep: Parameter[float] = 0.0) -> None:
    """Reads its input; crashes half-way when asked to by the environment."""
    time.sleep(sleep)
    with open(os.path.join(examples.uri, "data.txt")) as f:
        text = f.read()
    with open(os.path.join(model.uri, "partial.txt"), "w") as f:
        f.write("half-written")
    if os.environ.get(CRASH_FLAG) == "Consume":
        raise RuntimeError("simulated crash inside the executor")
    with open(os.path.join(model.uri, "len.txt"), "w") as f:
        f.write(str(len(text)))


class MaybeExtra(BaseComponent):
    """Two declared outputs; ``extra`` is produced only when asked (as BulkInferrer's
    ``output_examples`` is only with ``output_example_spec``)."""

    OUTPUTS = {"model": Out(Model), "extra": Out(Examples)}
    PARAMETERS = {"with_extra": Param(bool, default=False)}

    def __init__(self, with_extra: bool = False) -> None:
        super().__init__({}, {"with_extra": with_extra})

    @classmethod
    def execute(cls, ctx: ExecContext) -> None:
        with open(os.path.join(ctx.output("model").uri, "model.txt"), "w") as f:
            f.write("m")
        if ctx.prop("with_extra"):
            with open(os.path.join(ctx.output("extra").uri, "extra.txt"), "w") as f:
                f.write("x")
        else:
            ctx.drop_output("extra")


def chain(root: str, n: int = 3, text: str = "hello", name: str = "toy",
          metadata_uri: str | None = None) -> Pipeline:
    """Produce -> Consume -> ... a chain of n nodes."""
    first = Produce(text=text)
    nodes = [first]
    previous = first.outputs["examples"]
    for i in range(1, n):
        node = Consume(examples=previous).with_id(f"Consume{i}")
        nodes.append(node)
        passthrough = Produce(text=f"step{i}").with_id(f"Produce{i}")
        # keep it a chain of Examples: Consume outputs Model, so alternate producer nodes
        nodes.append(passthrough)
        previous = passthrough.outputs["examples"]
    return Pipeline(name, root, nodes, metadata_uri=metadata_uri)
