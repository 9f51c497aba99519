"""Plain (uncompressed) Beam pickles: only where every reader has beampipe's codec."""
from __future__ import annotations

import base64
import bz2
import os
import pickle
import threading

import pytest

from beampipe.transforms import beam_payloads, beam_util

apache_beam = pytest.importorskip("apache_beam")
from apache_beam.internal import cloudpickle_pickler, dill_pickler, pickler  # noqa: E402
from apache_beam.testing.util import assert_that, equal_to  # noqa: E402


def _raw(encoded: bytes) -> bytes:
    return base64.b64decode(encoded)


@pytest.fixture(autouse=True)
def _off_after():
    yield
    beam_payloads.plain_pickles(False)


def test_both_picklers_use_the_codec() -> None:
    assert beam_payloads.install()
    assert cloudpickle_pickler.bz2 is beam_payloads.Codec and dill_pickler.bz2 is beam_payloads.Codec


@pytest.mark.parametrize("module", [cloudpickle_pickler, dill_pickler])
def test_off_it_writes_what_stock_beam_reads(module) -> None:
    beam_payloads.plain_pickles(False)
    data = {"fn": len, "n": list(range(100))}
    encoded = module.dumps(data)
    assert _raw(encoded)[:3] == b"BZh"
    assert module.loads(encoded) == data
    assert pickle.loads(bz2.decompress(_raw(encoded)))["n"] == data["n"]  # stock Beam's decode


@pytest.mark.parametrize("module", [cloudpickle_pickler, dill_pickler])
def test_on_it_writes_plain_pickles_and_reads_both(module) -> None:
    data = {"n": list(range(100))}
    compressed = module.dumps(data)
    beam_payloads.plain_pickles(True)
    plain = module.dumps(data)
    assert _raw(plain)[:1] == b"\x80" and pickle.loads(_raw(plain)) == data
    assert module.loads(plain) == data and module.loads(compressed) == data


def test_the_switch_is_per_thread_and_large_pickles_stay_compressed(monkeypatch) -> None:
    beam_payloads.plain_pickles(True)
    seen = []
    other = threading.Thread(target=lambda: seen.append(_raw(pickler.dumps([1, 2]))))
    other.start()
    other.join()
    assert seen[0][:3] == b"BZh"
    monkeypatch.setattr(beam_payloads, "PLAIN_MAX_BYTES", 1000)
    assert _raw(pickler.dumps(list(range(5000))))[:3] == b"BZh"
    assert _raw(pickler.dumps([1, 2]))[:1] == b"\x80"


def test_a_direct_pipeline_pickles_plain_until_its_with_block_ends() -> None:
    import apache_beam as beam

    with beam_util.make_pipeline([]) as p:
        assert _raw(pickler.dumps([1]))[:1] == b"\x80"
        assert_that(p | beam.Create([1, 2, 3]) | beam.Map(lambda x: x * 10), equal_to([10, 20, 30]))
    assert _raw(pickler.dumps([1]))[:3] == b"BZh"


def test_other_runners_keep_bz2() -> None:
    p = beam_util.make_pipeline(["--runner=PortableRunner", "--job_endpoint=localhost:1"])
    assert _raw(pickler.dumps([1]))[:3] == b"BZh"
    del p


def _pid(x: int) -> tuple[int, int]:
    return x, os.getpid()


def test_worker_processes_read_plain_pickles(tmp_path) -> None:
    import apache_beam as beam

    out = tmp_path / "seen"
    offset = 7  # a closure: the Map's pickle carries it
    with beam_util.make_pipeline(["--direct_running_mode=multi_processing", "--direct_num_workers=1"]) as p:
        assert _raw(pickler.dumps([1]))[:1] == b"\x80"
        _ = (p | beam.Create([1, 2]) | beam.Map(lambda x: _pid(x + offset))
             | beam.Map(lambda t: f"{t[0]}:{t[1]}") | beam.io.WriteToText(str(out), shard_name_template=""))
    rows = sorted(line.split(":") for line in out.read_text().split())
    assert [int(v) for v, _ in rows] == [8, 9]
    assert all(int(pid) != os.getpid() for _, pid in rows)  # they ran in a worker process
