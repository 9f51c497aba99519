"""Load TFMA's models in a thread while Beam plans the evaluation.

TFMA loads each SavedModel in a DoFn's ``setup``, through ``ModelLoader.load``: a
``beam.utils.shared.Shared`` handle, so every DoFn of this process that holds the same loader
(its pickled copies keep the handle's key) gets the one object the first load made. The
Evaluator's process plans the pipeline first (TFMA's graph, then Beam's protos: about a
second on penguin) and loads the model only when the first stage starts. Calling the same
``load`` in a thread during that planning makes the DoFns find the model loaded: the same
call, made earlier, so the same model. A load that fails here is left for the DoFn to redo
and report.
"""
from __future__ import annotations

import contextlib
import logging
import threading
from typing import Any, Iterator

_LOG = logging.getLogger(__name__)


@contextlib.contextmanager
def preloaded(shared_models: list[Any]) -> Iterator[None]:
    """Start loading ``shared_models`` (``tfma.types.EvalSharedModel``) in a thread; hold
    the loaded models until the block ends, so that the DoFns' ``load`` finds them."""
    held: list[Any] = []

    def load() -> None:
        for shared in shared_models:
            loader = getattr(shared, "model_loader", None)
            if loader is None:
                continue
            try:
                held.append(loader.load())
            except Exception:  # noqa: BLE001 - the DoFn's own load raises it where TFMA reports it
                _LOG.debug("preloading %s failed; TFMA loads it in its DoFn", shared.model_path,
                           exc_info=True)

    thread = threading.Thread(target=load, name="beampipe-model-preload", daemon=True)
    thread.start()
    try:
        yield
    finally:
        thread.join()
        held.clear()
