"""Helpers shared by CLI commands: load a pipeline file, parse --param, find the store,
print one-line failures that never show a password."""
from __future__ import annotations

import os
import shlex
import sys
from typing import Any
from urllib.parse import quote, unquote, urlparse

from beampipe.components.base import WiringError
from beampipe.orchestration.ir import load_module_from_file
from beampipe.orchestration.pipeline import Pipeline


class UsageError(Exception):
    """A problem with what the user typed: printed as one line, exit code 2."""


def load_pipeline(path: str, pipeline_root: str | None = None,
                  metadata_uri: str | None = None) -> Pipeline:
    """Import a Python file and return its module-level ``pipeline``."""
    if not os.path.isfile(path):
        raise UsageError(f"{path}: no such pipeline file")
    try:
        module = load_module_from_file(os.path.abspath(path))
    except WiringError:
        raise
    except SyntaxError as err:
        raise UsageError(f"{path}, line {err.lineno}: syntax error: {err.msg}") from None
    except Exception as err:  # the user's file failed while building its pipeline
        raise UsageError(f"{path}: failed while loading: {type(err).__name__}: {err}") from None
    pipeline = getattr(module, "pipeline", None)
    if callable(pipeline) and not isinstance(pipeline, Pipeline):
        pipeline = pipeline()
    if not isinstance(pipeline, Pipeline):
        raise UsageError(f"{path}: defines no module-level 'pipeline' (a beampipe Pipeline)")
    if pipeline_root:
        default_uri = os.path.join(pipeline.pipeline_root, "metadata.sqlite")
        if pipeline.metadata_uri == default_uri:
            pipeline.metadata_uri = os.path.join(pipeline_root, "metadata.sqlite")
        pipeline.pipeline_root = pipeline_root
    if metadata_uri:
        pipeline.metadata_uri = metadata_uri
    remember_uri(pipeline.metadata_uri)
    pipeline.source_file = os.path.abspath(path)
    return pipeline


def parse_params(items: list[str] | None) -> dict[str, str]:
    params = {}
    for item in items or []:
        if "=" not in item:
            raise UsageError(f"--param {item!r}: expected NAME=VALUE")
        key, value = item.split("=", 1)
        if not key.strip():
            raise UsageError(f"--param {item!r}: expected NAME=VALUE (the name is empty)")
        params[key.strip()] = value
    return params


def metadata_uri_from(args: Any) -> str:
    """--metadata-uri, else <--pipeline-root>/metadata.sqlite, else $BEAMPIPE_METADATA_URI."""
    if getattr(args, "metadata_uri", None):
        return remember_uri(args.metadata_uri)
    env = os.environ.get("BEAMPIPE_METADATA_URI")
    root = getattr(args, "pipeline_root", None)
    if root and root.split("://", 1)[0].lower() in ("s3", "gs") and "://" in root:
        if env:
            return remember_uri(env)
        raise UsageError(f"--pipeline-root {root} is an object store, which holds no metadata store: "
                         "give --metadata-uri URI (or set BEAMPIPE_METADATA_URI)")
    if root:
        return os.path.join(root, "metadata.sqlite")
    if env:
        return remember_uri(env)
    raise UsageError("which store? give --metadata-uri URI or --pipeline-root DIR "
                     "(or set BEAMPIPE_METADATA_URI)")


def command_line(argv: list[str]) -> str:
    return " ".join(shlex.quote(a) for a in ["beampipe", *argv])


def fail(message: str, code: int = 2) -> int:
    """Print one line ``beampipe: message`` (passwords masked); return the exit code."""
    print(f"beampipe: {scrub(' '.join(message.split()))}", file=sys.stderr)
    return code


# Passwords of the metadata URIs this command was given: never printed, whatever a
# library puts in its error message.
_SECRETS: set[str] = set()


def remember_uri(uri: str) -> str:
    """Note the URI's password so ``scrub`` masks it; returns the URI."""
    try:
        password = urlparse(uri).password
    except ValueError:
        password = None
    if password:  # as typed, decoded, and re-encoded
        _SECRETS.update({password, unquote(password), quote(unquote(password), safe="")})
    return uri


def scrub(text: str) -> str:
    """The text with every remembered password replaced by ***."""
    for secret in sorted(_SECRETS, key=len, reverse=True):
        text = text.replace(f":{secret}@", ":***@")
        if len(secret) >= 4:
            text = text.replace(secret, "***")
    return text
