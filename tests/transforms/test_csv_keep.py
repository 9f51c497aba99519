"""The scan's parsed blocks, kept for the write pass (parse once), give the same shards as
parsing again, whether the budget holds every file, part of one, or none."""
from __future__ import annotations

import pickle

import pytest

from beampipe.components.example_gen import CsvExampleGen
from beampipe.transforms import csv_arrow, example_encode
from tests.transforms.test_example_encode import _run, compare


def _taxi_files(base, sizes: list[int]) -> None:
    from benchmarks.make_taxi_csv import write
    for k, rows in enumerate(sizes):
        write(rows, str(base / f"taxi{k}.csv"), seed=k)


def _parses(monkeypatch) -> list[tuple[str, object]]:
    """Record each call of ``csv_arrow.blocks`` (path, start) from now on."""
    calls: list[tuple[str, object]] = []
    real = csv_arrow.blocks

    def spy(path, header, block_bytes=0, start=None):
        calls.append((path, start))
        return real(path, header, block_bytes, start)

    monkeypatch.setattr(csv_arrow, "blocks", spy)
    return calls


def test_scan_keeps_blocks_up_to_the_budget_and_says_where_to_read_on(tmp_path, monkeypatch):
    base = tmp_path / "in"
    _taxi_files(base, [3000, 3000])
    paths = sorted(str(p) for p in base.iterdir())
    monkeypatch.setattr(csv_arrow, "BLOCK_BYTES", 16 << 10)
    layout, all_kept = csv_arrow.scan_and_keep(paths, 1 << 30)
    assert csv_arrow.fast_scan(paths).types == layout.types
    assert [k.resume for k in all_kept.values()] == [None, None]
    assert sum(t.num_rows for k in all_kept.values() for t in k.tables) == 6000
    budget = sum(t.nbytes for t in all_kept[paths[0]].tables[:3])
    _, kept = csv_arrow.scan_and_keep(paths, budget)
    assert list(kept) == [paths[0]] and len(kept[paths[0]].tables) == 3
    offset, line = kept[paths[0]].resume
    rest = list(csv_arrow.blocks(paths[0], layout.header, start=(offset, line)))
    assert rest[0][0] == line == 2 + sum(t.num_rows for t in kept[paths[0]].tables)
    assert sum(t.num_rows for t in kept[paths[0]].tables) + sum(t.num_rows for _, _, t in rest) == 3000
    with open(paths[0], "rb") as f:
        f.seek(offset)
        assert f.read(len(rest[0][1])) == rest[0][1]
    assert csv_arrow.scan_and_keep(paths, 0)[1] == {}


@pytest.mark.parametrize("budget", ["all", "part", "none"])
def test_kept_blocks_write_the_same_bytes_as_the_python_path(budget, tmp_path, monkeypatch):
    base = tmp_path / "in"
    _taxi_files(base, [2500, 1500])
    monkeypatch.setattr(csv_arrow, "BLOCK_BYTES", 16 << 10)
    keep = {"all": 1 << 30, "part": 100_000, "none": 0}[budget]
    monkeypatch.setattr(csv_arrow, "KEEP_BYTES", keep)
    calls = _parses(monkeypatch)
    compare(CsvExampleGen(input_base=str(base)), tmp_path, monkeypatch)
    files = sorted(str(p) for p in base.iterdir())
    # the first len(files) calls are the fast scan's (the others: the write pass, then the Python path's run)
    writes = [(path, start) for path, start in calls[len(files):] if path in files]
    if budget == "all":
        assert writes == []
    elif budget == "part":  # the first file's kept blocks, then it reads on; the second file whole
        assert len(writes) == 2 and writes[0][0] == files[0] and writes[0][1] is not None
        assert writes[1] == (files[1], None)
    else:
        assert writes == [(files[0], None), (files[1], None)]


def test_with_beam_args_nothing_is_kept_and_a_pickled_reader_drops_its_blocks(tmp_path, monkeypatch):
    base = tmp_path / "in"
    _taxi_files(base, [800])
    path = str(next(base.iterdir()))
    from beampipe.transforms.example_io import CsvFileToExamples
    layout, kept = csv_arrow.scan_and_keep([path], 1 << 30)
    reader = example_encode.ArrowCsvToExamples(CsvFileToExamples(layout.header, layout.types, "", layout), kept)
    assert reader.kept and pickle.loads(pickle.dumps(reader)).kept == {}
    keeps = []
    real = csv_arrow.scan_and_keep
    monkeypatch.setattr(csv_arrow, "scan_and_keep", lambda paths, keep_bytes: keeps.append(keep_bytes)
                        or real(paths, keep_bytes))
    _, local = _run(CsvExampleGen(input_base=str(base)), tmp_path, "local")
    _, beam = _run(CsvExampleGen(input_base=str(base)), tmp_path, "beam", ["--direct_num_workers=1"])
    assert keeps == [csv_arrow.KEEP_BYTES, 0] and local == beam


def _parse_threads() -> list:
    import threading
    return [t for t in threading.enumerate() if t.name == "csv-parse"]


def test_prefetched_gives_the_same_items_and_errors_in_order_and_stops_with_its_caller():
    assert list(csv_arrow.prefetched(iter(range(50)))) == list(range(50))

    def failing():
        yield 1
        yield 2
        raise csv_arrow.Unsupported("third")

    seen = []
    with pytest.raises(csv_arrow.Unsupported, match="third"):
        for item in csv_arrow.prefetched(failing()):
            seen.append(item)
    assert seen == [1, 2]
    closed = []

    def endless():
        try:
            n = 0
            while True:
                yield n
                n += 1
        finally:
            closed.append(True)

    items = csv_arrow.prefetched(endless())
    assert [next(items) for _ in range(3)] == [0, 1, 2]
    items.close()
    assert closed == [True] and not _parse_threads()


def test_a_scan_that_steps_aside_midway_leaves_no_parse_thread(tmp_path, monkeypatch):
    path = tmp_path / "d.csv"
    path.write_text("a,b\n" + "1,2\n" * 3000 + "nan,3\n" + "4,5\n" * 3000)  # nan: the Python path's
    monkeypatch.setattr(csv_arrow, "BLOCK_BYTES", 1024)
    import gc
    assert csv_arrow.scan_and_keep([str(path)], 1 << 20) is None
    gc.collect()
    assert not _parse_threads()
