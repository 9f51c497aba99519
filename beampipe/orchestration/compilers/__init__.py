"""Compilers from the one IR to orchestrator files (Airflow 3 DAGs, KFP v2 YAML).

Every compiled task runs one node through ``beampipe.orchestration.entrypoint`` (Airflow:
as a command; Kubeflow: from a Lightweight Python Component, see ``kfp_task``), so the
backends share the launcher's caching, lineage and failure semantics.
"""
from __future__ import annotations

from typing import Callable

TARGETS = ("airflow", "kubeflow")


def compiler(target: str) -> Callable[..., str]:
    """The compile function for a target: (ir, **options) -> file text."""
    if target == "airflow":
        from beampipe.orchestration.compilers.airflow import compile_dag
        return compile_dag
    if target == "kubeflow":
        from beampipe.orchestration.compilers.kubeflow import compile_yaml
        return compile_yaml
    raise ValueError(f"unknown target {target!r}; targets are {list(TARGETS)}")


def task_id(node_id: str) -> str:
    """Node ids as Airflow task ids ([A-Za-z0-9_.-]); KFP names are made in kubeflow.py."""
    return "".join(c if c.isalnum() or c in "-_" else "-" for c in node_id)

