"""Trainer and Tuner configs: TFX's TrainArgs, EvalArgs and TuneArgs with the same fields.

Plain dataclasses so a pipeline definition needs no protobuf; they travel in the IR as dicts.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass
class TrainArgs:
    """How long to train and on which splits (TFX: ``num_steps``, ``splits``; default split train)."""

    num_steps: Any = None
    splits: list[str] = field(default_factory=list)


@dataclass
class EvalArgs:
    """How long to evaluate and on which splits (default split eval)."""

    num_steps: Any = None
    splits: list[str] = field(default_factory=list)


@dataclass
class TuneArgs:
    """Tuner parallelism; locally trials always run one at a time."""

    num_parallel_trials: int = 1
