"""Artifact types, named as TFX names them so MLMD-reading tools show familiar lineage."""
from __future__ import annotations

import json
from typing import Any

PropertyType = type  # int, float or str


class Artifact:
    """One typed piece of data that lives at a URI and is recorded in MLMD.

    Properties are declared per type (and become MLMD type properties); custom
    properties are free-form. Both hold plain int / float / str values.
    """

    TYPE_NAME = "Artifact"
    PROPERTIES: dict[str, PropertyType] = {}

    def __init__(self, uri: str = "") -> None:
        self.uri = uri
        self.id: int | None = None
        self.name = ""
        self.state = "UNKNOWN"
        self.properties: dict[str, Any] = {}
        self.custom_properties: dict[str, Any] = {}

    # -- TFX-style accessors -------------------------------------------------
    def get_custom_property(self, key: str) -> Any:
        return self.custom_properties.get(key)

    def set_custom_property(self, key: str, value: Any) -> None:
        self.custom_properties[key] = value

    def set_string_custom_property(self, key: str, value: str) -> None:
        self.custom_properties[key] = str(value)

    def set_int_custom_property(self, key: str, value: int) -> None:
        self.custom_properties[key] = int(value)

    def get_string_custom_property(self, key: str) -> str:
        return str(self.custom_properties.get(key, ""))

    def get_int_custom_property(self, key: str) -> int:
        return int(self.custom_properties.get(key, 0))

    def __getattr__(self, name: str) -> Any:
        # Declared properties read as attributes (artifact.span), as in TFX.
        props = self.__dict__.get("properties")
        if props is not None and name in type(self).PROPERTIES:
            return props.get(name, _default(type(self).PROPERTIES[name]))
        raise AttributeError(name)

    def __setattr__(self, name: str, value: Any) -> None:
        if name in type(self).PROPERTIES:
            self.properties[name] = type(self).PROPERTIES[name](value)
        else:
            object.__setattr__(self, name, value)

    @property
    def type_name(self) -> str:
        return self.TYPE_NAME

    def __repr__(self) -> str:
        return f"{self.TYPE_NAME}(id={self.id}, uri={self.uri!r})"


def _default(ptype: PropertyType) -> Any:
    return ptype()


class _SplitsMixin:
    """split_names is a JSON list in a string property, exactly as TFX stores it."""

    @property
    def splits(self) -> list[str]:
        raw = self.properties.get("split_names")  # type: ignore[attr-defined]
        return json.loads(raw) if raw else []

    @splits.setter
    def splits(self, names: list[str]) -> None:
        self.properties["split_names"] = json.dumps(list(names))  # type: ignore[attr-defined]


class Examples(_SplitsMixin, Artifact):
    TYPE_NAME = "Examples"
    PROPERTIES = {"span": int, "version": int, "split_names": str}


class ExampleStatistics(_SplitsMixin, Artifact):
    TYPE_NAME = "ExampleStatistics"
    PROPERTIES = {"span": int, "split_names": str}


class ExampleAnomalies(_SplitsMixin, Artifact):
    TYPE_NAME = "ExampleAnomalies"
    PROPERTIES = {"span": int, "split_names": str}


class Schema(Artifact):
    TYPE_NAME = "Schema"


class TransformGraph(Artifact):
    TYPE_NAME = "TransformGraph"


class TransformCache(Artifact):
    TYPE_NAME = "TransformCache"


class Model(Artifact):
    TYPE_NAME = "Model"


class ModelRun(Artifact):
    TYPE_NAME = "ModelRun"


class ModelEvaluation(Artifact):
    TYPE_NAME = "ModelEvaluation"


class ModelBlessing(Artifact):
    TYPE_NAME = "ModelBlessing"


class InfraBlessing(Artifact):
    TYPE_NAME = "InfraBlessing"


class PushedModel(Artifact):
    TYPE_NAME = "PushedModel"


class HyperParameters(Artifact):
    TYPE_NAME = "HyperParameters"


class InferenceResult(Artifact):
    TYPE_NAME = "InferenceResult"


STANDARD_TYPES: dict[str, type[Artifact]] = {
    cls.TYPE_NAME: cls
    for cls in (
        Examples, ExampleStatistics, ExampleAnomalies, Schema, TransformGraph, TransformCache,
        Model, ModelRun, ModelEvaluation, ModelBlessing, InfraBlessing, PushedModel,
        HyperParameters, InferenceResult,
    )
}


def artifact_class(type_name: str) -> type[Artifact]:
    """The class for a type name; unknown names (user types) get a plain subclass."""
    cls = STANDARD_TYPES.get(type_name)
    if cls is None:
        cls = type(type_name, (Artifact,), {"TYPE_NAME": type_name})
        STANDARD_TYPES[type_name] = cls
    return cls
