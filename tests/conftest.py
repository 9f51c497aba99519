"""Test setup shared by every test: Keras 2 for TFT/TFMA, quiet TF."""
from __future__ import annotations

import os

os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import pytest  # noqa: E402

PENGUIN_CSV = os.path.join(os.path.dirname(__file__), "..", "examples", "penguin", "data", "penguins.csv")


@pytest.fixture
def penguin_csv() -> str:
    return os.path.abspath(PENGUIN_CSV)
