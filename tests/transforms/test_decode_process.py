"""Reading and decoding in a child process (StatisticsGen with DirectRunner's multi_processing)
gives the in-process batches and statistics exactly, raises the same errors, and never
outlives its parent."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import pytest

from beampipe.transforms import tfdv_io, tfdv_stream
from beampipe.transforms.decode_process import DecodeProcess
from tests.transforms.test_example_decode import _assert_same_batch
from tests.transforms.test_tfdv_stream import _edge_case_examples, _write_tfrecords

TWO = ["--direct_num_workers=2", "--direct_running_mode=multi_processing"]


def test_stream_processes():
    assert tfdv_io.stream_processes([]) == 1
    assert tfdv_io.stream_processes(TWO) == 2
    assert tfdv_io.stream_processes(["--direct_running_mode", "multi_processing", "--direct_num_workers", "4"]) == 2
    assert tfdv_io.stream_processes(["--direct_num_workers=2", "--direct_running_mode=multi_threading"]) == 1
    assert tfdv_io.stream_processes(["--direct_num_workers=1", "--direct_running_mode=multi_processing"]) == 1
    assert tfdv_io.stream_processes(["--direct_num_workers=0", "--direct_running_mode=multi_processing"]) == (
        2 if (os.cpu_count() or 1) > 1 else 1)


@pytest.fixture(scope="module")
def mixed_files(tmp_path_factory):
    """Shards of irregular rows (tfx-bsl decodes them) then regular ones (numpy decodes them)."""
    folder = tmp_path_factory.mktemp("mixed")
    irregular = _edge_case_examples(3_500, seed=7)
    regular = _edge_case_examples(12_500, seed=8, regular=True)
    files = [str(folder / "a.gz"), str(folder / "b.gz")]
    _write_tfrecords(files[0], irregular + regular[:4_000])
    _write_tfrecords(files[1], regular[4_000:])
    return files


def test_child_batches_are_the_in_process_batches(mixed_files):
    expected = list(tfdv_stream.record_batches(mixed_files))
    with DecodeProcess() as reader:
        for _ in range(2):  # one child, several jobs
            got = list(reader.batches(mixed_files))
            assert len(got) == len(expected) == 16
            for a, b in zip(got, expected):
                _assert_same_batch(a, b)


def test_child_statistics_are_byte_identical(mixed_files):
    options = tfdv_io.stats_options(None)
    alone = tfdv_stream.statistics_of_files(mixed_files, options)
    with DecodeProcess() as reader:
        child = tfdv_stream.statistics_of_files(mixed_files, tfdv_io.stats_options(None), reader=reader)
    assert child.SerializeToString(deterministic=True) == alone.SerializeToString(deterministic=True)
    assert alone.datasets[0].num_examples == 16_000


@pytest.fixture(scope="module")
def taxi_examples(tmp_path_factory):
    from tests.components.testdata.taxi_examples import taxi_examples as write_taxi_examples
    return write_taxi_examples(tmp_path_factory.mktemp("taxi"), 6_000)


def test_statistics_gen_with_two_workers_writes_the_same_bytes(taxi_examples, tmp_path):
    from beampipe.components.base import ExecContext
    from beampipe.components.statistics_gen import StatisticsGen
    from beampipe.metadata.artifacts import ExampleStatistics
    outs = {}
    for name, args in (("one", []), ("two", TWO)):
        out = ExampleStatistics(uri=str(tmp_path / name))
        ctx = ExecContext(node_id="StatisticsGen", run_id="r", pipeline_name="t", pipeline_root=str(tmp_path),
                          inputs={"examples": [taxi_examples]}, outputs={"statistics": [out]},
                          exec_properties={}, temp_dir=str(tmp_path / "tmp"), beam_pipeline_args=args)
        StatisticsGen.execute(ctx)
        outs[name] = ctx.output("statistics")
    for split in ("train", "eval"):
        with open(outs["one"].stats_file(split), "rb") as a, open(outs["two"].stats_file(split), "rb") as b:
            assert a.read() == b.read(), split


def test_a_bad_file_raises_the_same_error_and_the_child_goes_on(mixed_files, tmp_path):
    bad = tmp_path / "bad.gz"
    bad.write_bytes(b"not a tfrecord file at all")
    with pytest.raises(ValueError) as alone:
        list(tfdv_stream.record_batches([mixed_files[1], str(bad)]))
    with DecodeProcess() as reader:
        with pytest.raises(ValueError) as child:
            list(reader.batches([mixed_files[1], str(bad)]))
        assert str(child.value) == str(alone.value)
        assert sum(b.num_rows for b in reader.batches(mixed_files[1:])) == 8_500


def _gone(pid: int, wait_s: float = 60) -> bool:
    """Whether process ``pid`` has exited (reaped or a zombie) within ``wait_s``."""
    deadline = time.monotonic() + wait_s
    while time.monotonic() < deadline:
        try:
            with open(f"/proc/{pid}/stat") as f:
                if f.read().split(") ", 1)[1].startswith("Z"):
                    return True
        except FileNotFoundError:
            return True
        time.sleep(0.1)
    return False


def test_closing_mid_job_stops_the_child(mixed_files):
    reader = DecodeProcess()
    batches = reader.batches(mixed_files)
    next(batches)
    pid = reader._proc.pid
    reader.close()
    assert _gone(pid)


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")
def test_the_child_dies_with_its_parent(mixed_files):
    code = ("import sys; sys.path.insert(0, %r)\n"
            "from beampipe.transforms.decode_process import DecodeProcess\n"
            "r = DecodeProcess(); b = r.batches(%r); next(b)\n"
            "print(r._proc.pid, flush=True); sys.stdin.read()\n") % (os.getcwd(), mixed_files)
    parent = subprocess.Popen([sys.executable, "-c", code], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    child_pid = int(parent.stdout.readline())
    os.kill(parent.pid, signal.SIGKILL)
    parent.wait()
    assert _gone(child_pid)
