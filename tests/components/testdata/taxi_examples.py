"""Taxi-like Examples for statistics tests: ``benchmarks/make_taxi_csv.py`` rows through CsvExampleGen."""
from __future__ import annotations

import pathlib
from typing import Any


def taxi_examples(tmp: pathlib.Path, rows: int) -> Any:
    """The Examples artifact CsvExampleGen writes for ``rows`` taxi-like CSV rows under ``tmp``."""
    from benchmarks.make_taxi_csv import write
    from beampipe.components.example_gen import CsvExampleGen
    from tests.components.test_example_gen import run_example_gen
    write(rows, str(tmp / "data" / "taxi.csv"))
    return run_example_gen(CsvExampleGen(input_base=str(tmp / "data")), tmp)
