"""``beampipe submit pipeline.yaml --host URL``: start a run of compiled KFP YAML on a KFP server.

Needs a reachable Kubeflow Pipelines API (e.g. ``kubectl port-forward svc/ml-pipeline-ui 8080:80``
then ``--host http://localhost:8080``) and an image with beampipe installed (``compile --image``).
The pipeline root and MLMD store named in the pipeline must be reachable from the pods.
"""
from __future__ import annotations

import argparse
import os
from typing import Any

from beampipe.cli.common import fail, parse_params, UsageError


def register(sub: Any) -> None:
    p = sub.add_parser("submit", help="submit compiled KFP v2 YAML to a Kubeflow Pipelines server",
                       description="Create a run of a pipeline YAML from `beampipe compile --target "
                                   "kubeflow` with kfp.Client.")
    p.add_argument("pipeline_yaml")
    p.add_argument("--host", required=True, help="KFP API URL, e.g. http://localhost:8080")
    p.add_argument("--param", action="append", metavar="NAME=VALUE", help="runtime parameter")
    p.add_argument("--experiment", default="beampipe", help="KFP experiment name (default beampipe)")
    p.add_argument("--run-name", help="KFP run name (becomes the pipeline run id)")
    p.add_argument("--namespace", help="Kubeflow namespace (multi-user installs)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    if not os.path.isfile(args.pipeline_yaml):
        return fail(f"{args.pipeline_yaml}: no such file")
    try:
        params = parse_params(args.param)
    except UsageError as err:
        return fail(str(err))
    try:
        params = typed_arguments(args.pipeline_yaml, params)
    except ValueError as err:
        return fail(str(err))
    import kfp

    try:
        client = kfp.Client(host=args.host, namespace=args.namespace)
        run_result = client.create_run_from_pipeline_package(
            args.pipeline_yaml, arguments=params, run_name=args.run_name,
            experiment_name=args.experiment, enable_caching=False)
    except Exception as err:  # noqa: BLE001 - connection and API errors, told as they are
        return fail(f"submitting to {args.host} failed: {type(err).__name__}: {err}", code=1)
    print(f"submitted run {run_result.run_id} to {args.host}")
    return 0


def typed_arguments(pipeline_yaml: str, given: dict[str, str]) -> dict[str, Any]:
    """--param strings typed as the pipeline's inputs declare (KFP checks parameter types)."""
    import yaml

    with open(pipeline_yaml) as f:
        declared = (((yaml.safe_load(f) or {}).get("root") or {}).get("inputDefinitions") or {}).get(
            "parameters") or {}
    typed: dict[str, Any] = {}
    for name, raw in given.items():
        if name not in declared:
            raise ValueError(f"{pipeline_yaml}: no pipeline parameter {name!r}; "
                             f"parameters are {sorted(declared)}")
        kind = declared[name].get("parameterType")
        try:
            typed[name] = int(raw) if kind == "NUMBER_INTEGER" else float(raw) \
                if kind == "NUMBER_DOUBLE" else raw
        except ValueError:
            raise ValueError(f"--param {name}={raw}: {name} is {kind}") from None
    return typed
