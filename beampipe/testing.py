"""``tfx.testing``: a Channel for unit-testing a component without its upstream pipeline.

``Channel(Examples)`` wires a component in a test with nothing upstream (inspect its
outputs and exec properties). With ``artifact_ids``, the channel carries artifacts that
already exist in the pipeline's MLMD store: when the pipeline runs, the launcher resolves
the input to exactly those artifacts (TFX compiles them as static inputs), so one component
can be run on fixed inputs produced by an earlier run.
"""
from __future__ import annotations

from typing import Sequence

from beampipe.components.base import Channel as _Channel
from beampipe.metadata.artifacts import Artifact


class Channel(_Channel):
    """A producer-less channel of ``artifact_type``, optionally holding MLMD artifact ids."""

    def __init__(self, artifact_type: type[Artifact], artifact_ids: Sequence[int] = ()) -> None:
        super().__init__(artifact_type)
        self.artifact_ids = [int(i) for i in artifact_ids]

    def describe(self) -> str:
        return f"{self.type.TYPE_NAME} for testing, artifact ids {self.artifact_ids}"

    def __hash__(self) -> int:
        return hash(self.type)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Channel) and self.type is other.type
