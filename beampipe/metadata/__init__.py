"""Artifact types and the ML Metadata store."""
from __future__ import annotations

from beampipe.metadata import artifacts
from beampipe.metadata import value_artifacts  # registers String, Integer, ... with the standard types
from beampipe.metadata.artifacts import Artifact, artifact_class

__all__ = ["Artifact", "artifact_class", "artifacts", "value_artifacts"]
