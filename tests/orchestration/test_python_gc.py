"""fewer_collections: a higher young threshold while runs are on, the old one after."""
from __future__ import annotations

import gc
import threading

import pytest

from beampipe import Pipeline, component
from beampipe.orchestration.python_gc import YOUNG_THRESHOLD, fewer_collections


@pytest.fixture(autouse=True)
def _thresholds():
    before = gc.get_threshold()
    yield
    gc.set_threshold(*before)


def test_raised_inside_restored_after() -> None:
    gc.set_threshold(700, 10, 10)
    with fewer_collections():
        assert gc.get_threshold() == (YOUNG_THRESHOLD, 10, 10)
    assert gc.get_threshold() == (700, 10, 10)


def test_restored_when_the_block_raises() -> None:
    gc.set_threshold(700, 10, 10)
    with pytest.raises(RuntimeError), fewer_collections():
        raise RuntimeError("node failed")
    assert gc.get_threshold() == (700, 10, 10)


def test_a_higher_or_disabled_threshold_is_left_alone() -> None:
    for setting in [(50_000, 10, 10), (0, 10, 10)]:
        gc.set_threshold(*setting)
        with fewer_collections():
            assert gc.get_threshold() == setting
        assert gc.get_threshold() == setting


def test_overlapping_runs_restore_once_the_last_ends() -> None:
    gc.set_threshold(700, 10, 10)
    inside, release = threading.Event(), threading.Event()

    def other_run() -> None:
        with fewer_collections():
            inside.set()
            release.wait(10)

    t = threading.Thread(target=other_run)
    with fewer_collections():
        t.start()
        inside.wait(10)
    assert gc.get_threshold()[0] == YOUNG_THRESHOLD  # the other run is still on
    release.set()
    t.join()
    assert gc.get_threshold() == (700, 10, 10)


SEEN: list[int] = []


@component
def Probe() -> None:
    SEEN.append(gc.get_threshold()[0])


def test_a_local_run_runs_under_it(tmp_path) -> None:
    from beampipe.orchestration.local_runner import LocalDagRunner

    gc.set_threshold(700, 10, 10)
    result = LocalDagRunner().run(Pipeline("gcprobe", str(tmp_path / "root"), [Probe()],
                                           metadata_uri=str(tmp_path / "m.db")))
    assert result.status == "COMPLETE" and SEEN == [YOUNG_THRESHOLD]
    assert gc.get_threshold() == (700, 10, 10)
