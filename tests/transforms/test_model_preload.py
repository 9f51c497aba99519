"""model_preload: the DoFns' load finds the model the thread loaded, built once."""
from __future__ import annotations

import threading
import time
from types import SimpleNamespace

from beampipe.transforms.model_preload import preloaded


class _Model:
    pass


def _loader_and_calls(delay: float = 0.0):
    from tensorflow_model_analysis.api import types

    calls = []

    def construct():
        calls.append(threading.current_thread().name)
        time.sleep(delay)
        return _Model()

    return types.ModelLoader(construct_fn=construct, tags=["serve"]), calls


def test_dofn_load_gets_the_preloaded_model_built_once():
    import cloudpickle

    loader, calls = _loader_and_calls(delay=0.2)
    # What a DoFn holds: Beam's pickled copy of the loader (same Shared key).
    copy = cloudpickle.loads(cloudpickle.dumps(loader))
    with preloaded([SimpleNamespace(model_loader=loader, model_path="m")]):
        # A load while the thread still loads waits for it, then shares its model.
        first = copy.load(model_load_time_callback=lambda seconds: None)
        again = loader.load()
    assert first is again and isinstance(first, _Model)
    assert calls == ["beampipe-model-preload"]


def test_a_failed_preload_is_left_to_the_dofn():
    from tensorflow_model_analysis.api import types

    attempts = []

    def construct():
        attempts.append(1)
        if len(attempts) == 1:
            raise OSError("transient")
        return _Model()

    loader = types.ModelLoader(construct_fn=construct, tags=["serve"])
    with preloaded([SimpleNamespace(model_loader=loader, model_path="m"), SimpleNamespace(model_loader=None)]):
        time.sleep(0.05)
    assert isinstance(loader.load(), _Model) and len(attempts) == 2
