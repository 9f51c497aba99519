"""``beampipe serve``: TF Serving's REST API for the models Pusher pushed.

Layer: beside ``cli`` and ``ui``, above orchestration, but it depends only on ``metadata`` and
``io`` (import-linter checks it), and it imports TensorFlow but never Beam, TFDV, TFT or TFMA:
a serving process should be as small as the model it serves. See docs/serving.md.
"""
from __future__ import annotations

from beampipe.serving.config import Batching, ConfigError, ModelConfig, Policy, load_config_file

__all__ = ["Batching", "ConfigError", "ModelConfig", "Policy", "load_config_file", "run"]


def run(*args, **kwargs):  # noqa: ANN002, ANN003, ANN201 - re-exported lazily: aiohttp loads on use
    from beampipe.serving.runner import run as _run
    return _run(*args, **kwargs)
