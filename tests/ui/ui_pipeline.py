"""A tiny real pipeline for the UI tests (no TF, no Beam): hostile strings in a runtime
parameter and in a failing node's error, and an Evaluator stand-in that writes TFMA's
metrics file format (TFRecord of MetricsForSlice) so the compare page has metrics."""
from __future__ import annotations

import os
import struct

from beampipe.components.base import RuntimeParameter
from beampipe.components.decorator import InputArtifact, OutputArtifact, Parameter, component
from beampipe.metadata.artifacts import Examples, Model, ModelBlessing, ModelEvaluation
from beampipe.orchestration.pipeline import Pipeline

PAYLOAD = "<script>alert('xss')</script>"
ERROR_PAYLOAD = "<script>alert('err')</script>"


@component
def MakeData(examples: OutputArtifact[Examples], note: Parameter[str] = "") -> None:
    with open(os.path.join(examples.uri, "data.txt"), "w") as f:
        f.write(f"rows\n{note}\n")
    os.makedirs(os.path.join(examples.uri, "Split-train"))
    with open(os.path.join(examples.uri, "Split-train", "part.txt"), "w") as f:
        f.write("1\n2\n")
    examples.splits = ["train"]


@component
def TrainIt(examples: InputArtifact[Examples], model: OutputArtifact[Model], steps: Parameter[int] = 1,
            fail: Parameter[int] = 0) -> None:
    if fail:
        raise ValueError(f"training blew up: {ERROR_PAYLOAD}")
    with open(os.path.join(model.uri, "weights.txt"), "w") as f:
        f.write(str(steps))


@component
def EvaluateIt(model: InputArtifact[Model], evaluation: OutputArtifact[ModelEvaluation],
               blessing: OutputArtifact[ModelBlessing]) -> None:
    with open(os.path.join(model.uri, "weights.txt")) as f:
        steps = int(f.read())
    write_metrics(evaluation.uri, {"accuracy": 0.5 + steps / 1000, "example_count": 120.0})
    open(blessing.marker(steps >= 100), "w").close()
    blessing.custom_properties[blessing.BLESSED_KEY] = int(steps >= 100)


def write_metrics(uri: str, overall: dict[str, float]) -> None:
    """A TFMA metrics file: one MetricsForSlice record for the Overall slice (CRCs left zero)."""
    from beampipe.views._protos import tfma_message
    msg = tfma_message("MetricsForSlice")()
    msg.slice_key.SetInParent()
    for name, value in overall.items():
        kv = msg.metric_keys_and_values.add()
        kv.key.name = name
        kv.value.double_value.value = value
    data = msg.SerializeToString()
    with open(os.path.join(uri, "metrics-00000-of-00001.tfrecord"), "wb") as f:
        f.write(struct.pack("<Q", len(data)) + b"\0" * 4 + data + b"\0" * 4)


def make_pipeline(root: str, metadata_uri: str | None = None) -> Pipeline:
    data = MakeData(note=RuntimeParameter("note", str, PAYLOAD))
    train = TrainIt(examples=data.outputs["examples"], steps=RuntimeParameter("steps", int, 100),
                    fail=RuntimeParameter("fail", int, 0))
    evaluate = EvaluateIt(model=train.outputs["model"])
    return Pipeline("ui-test", root, [data, train, evaluate], metadata_uri=metadata_uri)
