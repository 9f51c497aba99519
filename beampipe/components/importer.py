"""Importer: register data that already exists (local, ``s3://``, ``gs://``) as an artifact.

    schema = Importer(source_uri="gs://bucket/schema", artifact_type=Schema).with_id("import_schema")
    SchemaGen(..., schema=schema.outputs["result"])

Nothing is copied: the artifact's URI is the source URI, recorded in MLMD as external, so
the launcher neither moves nor ever deletes it. As in TFX, an earlier artifact with the same
URI, type, properties and custom properties is reused (same MLMD id) unless ``reimport=True``,
which registers a new one. A new import fingerprints the content, so nodes that read it
re-run when ``reimport=True`` brings changed data; a reused artifact keeps its fingerprint.
Never cached: what it answers depends on what the store holds now.
"""
from __future__ import annotations

import importlib
import os
from typing import Any

from beampipe import io
from beampipe.components.base import BaseComponent, ExecContext, In, Out, Param, WiringError
from beampipe.metadata.artifacts import EXTERNAL_KEY, Artifact, artifact_class

RESULT_KEY = "result"
_OWN_KEYS = {"fingerprint", EXTERNAL_KEY}  # beampipe's bookkeeping, not the user's properties
_PROPERTY_TYPES = {"int": int, "float": float, "str": str}


class Importer(BaseComponent):
    """TFX's ``Importer(source_uri, artifact_type, reimport, properties, custom_properties,
    output_key)``; the output is ``outputs['result']`` (or ``output_key``)."""

    INPUTS: dict[str, In] = {}
    OUTPUTS: dict[str, Out] = {}
    PARAMETERS = {
        "artifact_uri": Param(str, required=True, path=True),
        "reimport": Param(int, default=0),
        "output_key": Param(str, default=RESULT_KEY),
        "artifact_type": Param(str, required=True),
        "artifact_class": Param(str, required=True),
        "properties": Param(dict, default={}),
        "property_types": Param(dict, default={}),
        "custom_properties": Param(dict, default={}),
    }

    def __init__(self, source_uri: str, artifact_type: type[Artifact], reimport: bool | None = False,
                 properties: dict[str, Any] | None = None, custom_properties: dict[str, Any] | None = None,
                 output_key: str | None = None) -> None:
        if not (isinstance(artifact_type, type) and issubclass(artifact_type, Artifact)):
            raise WiringError(f"Importer: artifact_type must be an artifact class (e.g. "
                              f"tfx.types.standard_artifacts.Schema), got {artifact_type!r}")
        if not isinstance(source_uri, str) or not source_uri:
            raise WiringError(f"Importer: source_uri must be a non-empty string, got {source_uri!r}")
        key = output_key or RESULT_KEY
        props = _checked_properties(artifact_type, properties or {})
        custom = _checked_custom_properties(custom_properties or {})
        self.OUTPUTS = {key: Out(artifact_type)}
        super().__init__({}, {
            "artifact_uri": _absolute(source_uri), "reimport": int(bool(reimport)), "output_key": key,
            "artifact_type": artifact_type.TYPE_NAME,
            "artifact_class": f"{artifact_type.__module__}.{artifact_type.__qualname__}",
            "properties": props, "custom_properties": custom,
            "property_types": {k: t.__name__ for k, t in artifact_type.PROPERTIES.items()}})
        self.enable_cache = False

    @classmethod
    def execute(cls, ctx: ExecContext) -> None:
        uri, key = ctx.prop("artifact_uri"), ctx.prop("output_key", RESULT_KEY)
        art_cls = _artifact_type(ctx.prop("artifact_class"), ctx.prop("artifact_type"),
                                 ctx.prop("property_types", {}))
        props, custom = ctx.prop("properties", {}), ctx.prop("custom_properties", {})
        if not io.exists(uri):
            raise FileNotFoundError(f"Importer: source_uri {uri} does not exist (nothing to register)")
        if not ctx.prop("reimport") and ctx.store is not None:
            previous = _previous(ctx, uri, art_cls, props, custom)
            if previous is not None:
                ctx.log.info("Importer: reusing artifact %d for %s (reimport=False)", previous.id, uri)
                ctx.outputs[key] = [previous]
                return
        art = art_cls(uri)
        for name, value in props.items():
            setattr(art, name, value)
        art.custom_properties.update(custom)
        art.is_external = True
        art.custom_properties["fingerprint"] = io.fingerprint(uri)
        ctx.log.info("Importer: registering %s as a new %s", uri, art_cls.TYPE_NAME)
        ctx.outputs[key] = [art]


def _previous(ctx: ExecContext, uri: str, art_cls: type[Artifact], props: dict[str, Any],
              custom: dict[str, Any]) -> Artifact | None:
    """The newest LIVE artifact registered at this URI with the same type and properties."""
    ids = [a.id for a in ctx.store.call("get_artifacts_by_uri", uri)]
    matches = [a for a in ctx.store.artifacts_by_id(ids) if a.TYPE_NAME == art_cls.TYPE_NAME
               and a.state == "LIVE" and a.properties == props
               and {k: v for k, v in a.custom_properties.items() if k not in _OWN_KEYS} == custom]
    return max(matches, key=lambda a: a.id or 0) if matches else None


def _artifact_type(path: str, type_name: str, property_types: dict[str, str]) -> type[Artifact]:
    """The user's class when this process can import it, else the class known by name; a task
    that cannot import the user's file (a compiled pipeline's) rebuilds the declared properties,
    so MLMD records the type exactly as a local run does."""
    module, _, name = path.rpartition(".")
    try:
        found = getattr(importlib.import_module(module), name, None)
    except ImportError:
        found = None
    if isinstance(found, type) and issubclass(found, Artifact) and found.TYPE_NAME == type_name:
        return found
    cls = artifact_class(type_name)
    declared = {k: _PROPERTY_TYPES[t] for k, t in property_types.items()}
    if declared and cls.PROPERTIES != declared:
        cls = type(type_name, (cls,), {"TYPE_NAME": type_name, "PROPERTIES": declared})
    return cls


def _checked_properties(art_cls: type[Artifact], properties: dict[str, Any]) -> dict[str, Any]:
    unknown = sorted(set(properties) - set(art_cls.PROPERTIES))
    if unknown:
        raise WiringError(f"Importer: {art_cls.TYPE_NAME} declares no properties {unknown}; its properties "
                          f"are {sorted(art_cls.PROPERTIES)} (use custom_properties for others)")
    return {k: art_cls.PROPERTIES[k](v) for k, v in properties.items()}


def _checked_custom_properties(custom: dict[str, Any]) -> dict[str, Any]:
    checked = {}
    for key, value in custom.items():
        if isinstance(value, bytes):
            value = value.decode("utf-8")
        if isinstance(value, bool):
            value = int(value)
        if not isinstance(value, (int, str)):
            raise WiringError(f"Importer: custom property {key!r} must be a string or an integer "
                              f"(as in TFX), got {value!r}")
        if key in _OWN_KEYS:
            raise WiringError(f"Importer: custom property {key!r} is beampipe's own; choose another name")
        checked[key] = value
    return checked


def _absolute(uri: str) -> str:
    """A local path is made absolute (tasks may run elsewhere); a remote URI is normalized."""
    return io.normalize(uri) if io.is_remote(uri) else os.path.abspath(uri)
