"""Concurrent first runs on a fresh store: no failure, no duplicate MLMD type, no stall.

The short version runs here (one fresh round and one warm round per store kind);
``benchmarks/reliability.py`` runs ten rounds each and prints the counts.
"""
from __future__ import annotations


from tests.support.reliability import concurrent_round

PROCESSES = 6


def _check(uri: str, workdir: str) -> None:
    fresh = concurrent_round(uri, workdir, PROCESSES, tag="fresh")
    assert fresh.failures == 0, fresh.errors[0]
    assert fresh.duplicate_types == []
    warm = concurrent_round(uri, workdir, PROCESSES, tag="warm")
    assert warm.failures == 0, warm.errors[0]
    assert warm.duplicate_types == []


def test_sqlite_fresh_store(tmp_path):
    _check(str(tmp_path / "shared.sqlite"), str(tmp_path))


def test_postgresql_fresh_store(tmp_path, postgres_server):
    _check(postgres_server.uri("conc_fresh"), str(tmp_path))


def test_mysql_fresh_store(tmp_path, mysql_server):
    _check(mysql_server.uri("conc_fresh"), str(tmp_path))
