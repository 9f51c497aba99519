"""Pusher: copy a blessed model to a serving directory, ``<base_directory>/<version>/``.

The PushedModel artifact keeps a copy of what was pushed (as TFX's Pusher archives it), so
the pushed bytes stay in the pipeline root and its lineage even when the serving directory
is cleaned up, and records ``pushed_destination`` and ``pushed_version``.

The version is a unix timestamp in seconds, bumped when needed so it always increases and
never reuses a directory (TF Serving loads the highest number). The copy goes to a hidden
temporary name first and is renamed into place, so a server never sees a half-written model.
An unblessed model (evaluation or infra validation) is never pushed: ``pushed`` = 0.

``base_directory`` may be ``s3://`` or ``gs://`` (``push_remote``): an object store has no
rename, so the model is uploaded straight into a version directory that did not exist;
TF Serving's S3/GCS file systems only load a version once its ``saved_model.pb`` is
there, and that file is uploaded last.
"""
from __future__ import annotations

import os
import shutil
import time
from typing import Any

from beampipe import io
from beampipe.components.base import BaseComponent, Channel, ExecContext, In, Out, Param, WiringError
from beampipe.components.evaluator import serving_model_path, why_not_blessed
from beampipe.metadata import layout
from beampipe.metadata.artifacts import InfraBlessing, Model, ModelBlessing, PushedModel
from beampipe.proto.serving import PushDestination, Versioning, from_dict


class Pusher(BaseComponent):
    INPUTS = {"model": In(Model), "model_blessing": In(ModelBlessing, optional=True),
              "infra_blessing": In(InfraBlessing, optional=True)}
    OUTPUTS = {"pushed_model": Out(PushedModel)}
    PARAMETERS = {"push_destination": Param(dict, required=True)}

    def __init__(self, model: Channel, model_blessing: Channel | None = None,
                 infra_blessing: Channel | None = None,
                 push_destination: PushDestination | None = None) -> None:
        if push_destination is not None and not isinstance(push_destination, (PushDestination, dict)):
            raise WiringError("Pusher: push_destination must be "
                              "PushDestination(filesystem=PushDestination.Filesystem(base_directory=...))")
        super().__init__({"model": model, "model_blessing": model_blessing,
                          "infra_blessing": infra_blessing}, {"push_destination": push_destination})

    @classmethod
    def data_paths(cls, exec_properties: dict[str, Any]) -> dict[str, str]:
        dest = exec_properties.get("push_destination") or {}
        base = (dest.get("filesystem") or {}).get("base_directory") if isinstance(dest, dict) else None
        return {"push_destination": base} if isinstance(base, str) and base else {}

    @classmethod
    def execute(cls, ctx: ExecContext) -> None:
        model = ctx.input("model")
        out = ctx.output("pushed_model")
        dest = from_dict(PushDestination, ctx.prop("push_destination"))
        base = dest.filesystem.base_directory if dest and dest.filesystem else ""
        if not base:
            raise ValueError(f"node '{ctx.node_id}': push_destination.filesystem.base_directory is empty")
        if int(dest.filesystem.versioning) not in (Versioning.AUTO, Versioning.UNIX_TIMESTAMP):
            raise ValueError(f"node '{ctx.node_id}': push_destination.filesystem.versioning "
                             f"{dest.filesystem.versioning!r} is not one of {Versioning.keys()}")
        refusal = _refusal(ctx.optional_input("model_blessing"), ctx.optional_input("infra_blessing"))
        if refusal:
            ctx.log.warning("not pushing %s: %s", model.uri, refusal)
            out.custom_properties.update({out.PUSHED_KEY: 0, "pushed_reason": refusal})
            return
        source = serving_model_path(model)
        if not os.path.isfile(layout.join(source, layout.SAVED_MODEL_FILE)):
            raise ValueError(f"node '{ctx.node_id}': {source} holds no SavedModel "
                             f"({layout.SAVED_MODEL_FILE})")
        # The archive copy first: it is staging until publish, so a failure here leaves no
        # pushed model behind; the push (visible to servers at once) comes last.
        shutil.copytree(source, out.model_dir(), dirs_exist_ok=True)
        version, target = push(source, base)
        ctx.log.info("pushed %s to %s", source, target)
        out.custom_properties.update({out.PUSHED_KEY: 1, out.DESTINATION_KEY: target,
                                      out.VERSION_KEY: str(version), "pushed_model": model.uri,
                                      "pushed_model_id": int(model.id or 0)})


def _refusal(model_blessing: ModelBlessing | None, infra_blessing: InfraBlessing | None) -> str:
    """Why the model must not be pushed ('' when it may be). Files decide, as in TFX; the
    Evaluator's record says which metric failed, its value and its threshold."""
    if model_blessing is not None and not os.path.exists(model_blessing.marker(blessed=True)):
        return (f"model is NOT BLESSED by the Evaluator: {why_not_blessed(model_blessing)} "
                f"(blessing {model_blessing.uri})")
    if infra_blessing is not None and not os.path.exists(infra_blessing.marker(blessed=True)):
        return f"model is not blessed by the InfraValidator ({infra_blessing.uri})"
    return ""


def push(source: str, base_directory: str) -> tuple[int, str]:
    """Copy ``source`` to ``<base_directory>/<version>``; returns (version, path)."""
    if io.is_remote(base_directory):
        return push_remote(source, base_directory)
    os.makedirs(base_directory, exist_ok=True)
    existing = [int(n) for n in os.listdir(base_directory) if n.isdigit()]
    version = max([int(time.time()), *[v + 1 for v in existing]])
    while True:
        target = PushedModel.version_dir(base_directory, version)
        staging = PushedModel.staging_dir(base_directory, version)
        shutil.rmtree(staging, ignore_errors=True)
        shutil.copytree(source, staging)
        try:
            os.rename(staging, target)  # fails if another pusher took this version meanwhile
            return version, target
        except OSError:
            shutil.rmtree(staging, ignore_errors=True)
            version += 1


def push_remote(source: str, base_directory: str) -> tuple[int, str]:
    """Upload ``source`` (a local SavedModel) to a new ``<base_directory>/<version>`` on an
    object store, ``saved_model.pb`` last so a server never loads a half-uploaded model."""
    existing = [int(n) for n in io.listdir(base_directory) if n.isdigit()] if io.exists(base_directory) else []
    version = max([int(time.time()), *[v + 1 for v in existing]])
    while io.exists(io.join(base_directory, str(version))):
        version += 1
    target = io.join(base_directory, str(version))
    for folder, _, names in os.walk(source):
        for name in sorted(names):
            full = os.path.join(folder, name)
            rel = os.path.relpath(full, source).replace(os.sep, "/")
            if rel != layout.SAVED_MODEL_FILE:
                io.copy(full, io.join(target, rel))
    io.copy(os.path.join(source, layout.SAVED_MODEL_FILE), io.join(target, layout.SAVED_MODEL_FILE))
    return version, target
