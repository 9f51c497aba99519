"""The full reliability matrices as tests: long, so they run only when asked.

    BEAMPIPE_FULL_MATRIX=1 python -m pytest -m matrix tests/reliability

(``benchmarks/reliability.py`` runs the same trials and prints the counts; CI runs the short
versions in test_kills.py and test_concurrency.py.)
"""
from __future__ import annotations

import os

import pytest

from tests.support.reliability import baseline_run, concurrent_round, kill_points, kill_trial

pytestmark = [pytest.mark.matrix,
              pytest.mark.skipif(os.environ.get("BEAMPIPE_FULL_MATRIX") != "1",
                                 reason="the full matrices take ~10 minutes: set BEAMPIPE_FULL_MATRIX=1")]

ALL_NODES = ["Produce", "Consume1", "Produce1", "Consume2", "Produce2"]


def test_every_fault_point_of_every_node_and_twenty_random_kills(tmp_path):
    baseline = baseline_run(str(tmp_path / "baseline"))
    outcomes = [kill_trial(str(tmp_path / f"t{i}"), baseline, how)
                for i, how in enumerate(kill_points(ALL_NODES, randoms=20))]
    bad = [o for o in outcomes if o.rerun_status != "COMPLETE" or o.running_executions or o.running_runs
           or o.staging_dirs or o.unrecorded_bytes or not o.outputs_equal]
    assert bad == []


@pytest.mark.parametrize("kind", ["sqlite", "postgresql", "mysql"])
def test_ten_rounds_of_eight_concurrent_first_runs(tmp_path, request, kind):
    if kind == "sqlite":
        uri_for = lambda i: str(tmp_path / f"fresh{i}.sqlite")  # noqa: E731
    else:
        server = request.getfixturevalue("postgres_server" if kind == "postgresql" else "mysql_server")
        uri_for = lambda i: server.uri(f"matrix{i}")  # noqa: E731
    for i in range(10):
        for tag in ("fresh", "warm"):
            result = concurrent_round(uri_for(i), str(tmp_path), 8, tag=f"{tag}{i}")
            assert result.failures == 0, result.errors[0]
            assert result.duplicate_types == []
