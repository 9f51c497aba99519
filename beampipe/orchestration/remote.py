"""What the launcher does differently when the pipeline root is an object store.

TensorFlow (without tensorflow-io), TFDV's and TFT's file helpers, TFMA's model loading
and pyarrow cannot open ``s3://`` (docs/storage.md, "Which library opens which URI"), so
executors never see a remote URI: the launcher *localizes* at its boundary.

- Inputs: each input artifact's URI is downloaded into the attempt's local scratch
  (``<staging>/.inputs/...``) and the executor gets a copy of the artifact whose ``uri`` is
  that local copy. The execution's input events keep the real URIs.
- Outputs: the executor writes into local staging (``staging.staging_base``); publish
  fingerprints the local tree, uploads it to its final unique URI and only then commits
  in MLMD (``launcher._publish``).
- Node logs: written to a local scratch directory named for its owner (so a killed
  process's log scratch is reclaimed like its staging) and uploaded to
  ``<root>/.beampipe/logs/<run>/<node>.log`` when the node ends, failed or not.

For a local root every function here is a no-op, so local runs behave exactly as before.
"""
from __future__ import annotations

import contextlib
import copy
import logging
import os
import shutil
from collections.abc import Iterator
from typing import Any

from beampipe import io
from beampipe.metadata.owner import owner_token
from beampipe.orchestration.staging import staging_base, staging_name

Outputs = dict[str, list[Any]]


def localize_inputs(inputs: Outputs, scratch: str) -> tuple[Outputs, dict[str, str]]:
    """Local copies of the remote input artifacts, and local path -> remote URI.

    An artifact recorded with no file (an empty output: object stores cannot hold an empty
    directory) becomes an empty local directory, as it was when it was written."""
    local: Outputs = {}
    mapping: dict[str, str] = {}
    for key, arts in inputs.items():
        local[key] = []
        for index, art in enumerate(arts):
            if not art.uri or not io.is_remote(art.uri):
                local[key].append(art)
                continue
            target = os.path.join(scratch, key, str(index), io.basename(art.uri) or "artifact")
            try:
                io.copy(art.uri, target)
            except FileNotFoundError:
                os.makedirs(target, exist_ok=True)
            twin = copy.copy(art)
            twin.__dict__.update(properties=dict(art.properties),
                                 custom_properties=dict(art.custom_properties), uri=target)
            local[key].append(twin)
            mapping[target] = art.uri
    return local, mapping


def restore_uris(outputs: Outputs, mapping: dict[str, str]) -> None:
    """Custom properties an executor copied from a localized input (Evaluator's
    ``baseline_model``, Pusher's ``pushed_model``) name the remote URI, not a scratch path."""
    if not mapping:
        return
    for arts in outputs.values():
        for art in arts:
            for name, value in list(art.custom_properties.items()):
                if isinstance(value, str):
                    art.custom_properties[name] = _remote_spelling(value, mapping)


def _remote_spelling(value: str, mapping: dict[str, str]) -> str:
    for local, remote in mapping.items():
        if value == local or value.startswith(local + os.sep):
            return remote + value[len(local):].replace(os.sep, "/")
    return value


@contextlib.contextmanager
def log_location(root: str, recorded: str, node_id: str) -> Iterator[str]:
    """The local file a node logs into; for a remote root, a scratch file uploaded to
    ``recorded`` at exit (also when the node failed) and then removed."""
    if not io.is_remote(root):
        yield recorded
        return
    base = staging_base(root)
    os.makedirs(base, exist_ok=True)
    scratch = os.path.join(base, staging_name(f"log-{os.urandom(4).hex()}", owner_token()))
    os.makedirs(scratch)
    local = os.path.join(scratch, f"{node_id}.log")
    try:
        yield local
    finally:
        try:
            if os.path.exists(local):
                io.copy(local, recorded)
        except OSError as err:  # storage errors included; the node's outcome (already in MLMD) stands
            logging.getLogger(__name__).warning("could not upload the log of node %s to %s: %s",
                                                node_id, recorded, io.redact(str(err)))
        finally:
            shutil.rmtree(scratch, ignore_errors=True)
