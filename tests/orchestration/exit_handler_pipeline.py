"""A two-node pipeline with an exit handler, for the exit-handler tests on every backend.

Loaded by path (as backend_pipeline.py is), so compiled tasks import the handler from here.
``rows=0`` makes ``Count`` fail; the handler writes the final status it receives to a file.
"""
from __future__ import annotations

import os

import beampipe as tfx
from beampipe.components.base import RuntimeParameter
from beampipe.components.decorator import InputArtifact, OutputArtifact, Parameter, component
from beampipe.metadata.artifacts import Examples, Model
from beampipe.orchestration.pipeline import Pipeline


@component
def Make(examples: OutputArtifact[Examples], rows: Parameter[int] = 3) -> None:
    with open(os.path.join(examples.uri, "rows.txt"), "w") as f:
        f.writelines(f"{i}\n" for i in range(rows))


@component
def Count(examples: InputArtifact[Examples], model: OutputArtifact[Model]) -> None:
    with open(os.path.join(examples.uri, "rows.txt")) as f:
        if not f.read():
            raise ValueError("no rows to count")
    open(os.path.join(model.uri, "count.txt"), "w").close()


@tfx.orchestration.experimental.exit_handler
def WriteStatus(final_status: Parameter[str], path: Parameter[str]) -> None:
    """Appends each final status it is given, one JSON document a line."""
    with open(path, "a") as f:
        f.write(final_status.replace("\n", " ") + "\n")


def make_pipeline(root: str, status_file: str) -> Pipeline:
    make = Make(rows=RuntimeParameter("rows", int, 3))
    count = Count(examples=make.outputs["examples"])
    handler = WriteStatus(final_status=tfx.orchestration.experimental.FinalStatusStr(), path=status_file)
    return Pipeline("exit-handler-test", root, [make, count], exit_handler=handler)
