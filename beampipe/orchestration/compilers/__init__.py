"""Compilers from the one IR to orchestrator files (Airflow 3 DAGs, KFP v2 YAML).

Every compiled task runs one node through ``beampipe.orchestration.entrypoint`` (Airflow:
as a command; Kubeflow: from a Lightweight Python Component, see ``kfp_task``), so the
backends share the launcher's caching, lineage and failure semantics.
"""
from __future__ import annotations

import re
from typing import Any, Callable

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


def container_image(node: dict[str, Any]) -> str | None:
    """The image a container component's node runs in (``components.container``), else None.
    Its task starts in that image, which must hold beampipe (see docs/backends.md)."""
    from beampipe.components.container import CONTAINER_PROP

    spec = node.get("exec_properties", {}).get(CONTAINER_PROP)
    return spec.get("image") if isinstance(spec, dict) else None


# Environment names whose values are secrets: they reach pods from Kubernetes Secrets only.
_SECRET_NAME = re.compile(r"SECRET|PASSWORD|TOKEN|CREDENTIAL|^AWS_ACCESS_KEY_ID$", re.IGNORECASE)
# What --storage-secret maps: the Secret's keys, named as boto3/s3fs read them from the environment.
STORAGE_SECRET_KEYS = ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY")


def check_env(env: dict[str, str]) -> dict[str, str]:
    """Plain settings for every task (``--env AWS_ENDPOINT_URL=...``): valid names, and no
    secret, whose value would then sit in the compiled file for anyone to read."""
    for name in env:
        if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", name):
            raise ValueError(f"--env {name}: not an environment variable name")
        if _SECRET_NAME.search(name):
            raise ValueError(f"--env {name}: a secret's value must not be compiled into the pipeline; "
                             "give it to the pods from a Kubernetes Secret (--storage-secret NAME for "
                             "AWS keys, --metadata-secret NAME[:KEY] for the metadata password)")
    return dict(env)
