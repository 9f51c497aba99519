"""``beampipe compile PIPELINE_FILE --target airflow|kubeflow --output FILE``.

Both targets embed the pipeline's IR; every task runs one node through the launcher
(``beampipe.orchestration.entrypoint``), so runs there cache and record lineage exactly
as ``beampipe run`` does.
"""
from __future__ import annotations

import argparse
import os
import sys
import time
from typing import Any

from beampipe.cli.common import UsageError, fail, load_pipeline


def register(sub: Any) -> None:
    p = sub.add_parser("compile", help="compile a pipeline to an Airflow 3 DAG or KFP v2 YAML",
                       description="Write an Airflow 3 DAG file (imports only Airflow) or a Kubeflow "
                                   "Pipelines v2 YAML whose tasks each run one node via beampipe.")
    p.add_argument("pipeline_file")
    p.add_argument("--target", required=True, choices=["airflow", "kubeflow"])
    p.add_argument("--output", "-o", required=True, help="file to write (DAG .py or pipeline .yaml)")
    p.add_argument("--python", help="Airflow local tasks: the ML environment's python (default: this "
                                    f"one, {sys.executable}; $BEAMPIPE_PYTHON overrides it on the worker). "
                                    "With --image: the interpreter inside the image (default: python); "
                                    "Kubeflow: the one kfp's executor runs with (default: python3)")
    p.add_argument("--image", help="container image with beampipe installed: Airflow tasks become "
                                   "KubernetesPodOperator; Kubeflow executors use it "
                                   "(default beampipe:latest)")
    p.add_argument("--retries", type=int, default=1, help="Airflow task retries (default 1)")
    p.add_argument("--image-pull-secret", metavar="NAME",
                   help="Kubernetes Secret to pull --image with (Kubeflow, and Airflow with --image)")
    p.add_argument("--metadata-secret", metavar="NAME[:KEY]",
                   help="Kubernetes Secret holding the metadata password (key default: password); pods get "
                        "it as $BEAMPIPE_METADATA_PASSWORD. Kubeflow, and Airflow with --image")
    p.add_argument("--storage-secret", metavar="NAME",
                   help="Kubernetes Secret whose AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY keys pods get as "
                        "environment variables (Kubeflow, and Airflow with --image)")
    p.add_argument("--env", action="append", default=[], metavar="NAME=VALUE",
                   help="a plain setting for every pod, e.g. AWS_ENDPOINT_URL=http://minio:9000 or "
                        "AWS_REGION=eu-west-1 (never a secret: those come from Secrets). Repeatable")
    p.add_argument("--mounted", action="append", default=[], metavar="PATH",
                   help="a local path every pod mounts at the same place (e.g. a PVC, with .with_volume): "
                        "Kubeflow and Airflow --image refuse other local paths. Repeatable")
    p.add_argument("--pipeline-root", help="where artifacts go (overrides the file's)")
    p.add_argument("--metadata-uri", help="MLMD store the tasks use (overrides the file's)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from beampipe.components.base import WiringError
    from beampipe.orchestration import ir as ir_mod
    from beampipe.orchestration.compilers import compiler

    started = time.perf_counter()
    try:
        pipeline = load_pipeline(args.pipeline_file, args.pipeline_root, args.metadata_uri)
        ir = ir_mod.compile_pipeline(pipeline)
        options: dict[str, Any] = {"image": args.image, "python": args.python, "mounted": args.mounted}
        if args.image_pull_secret:
            if args.target == "airflow" and not args.image:
                raise UsageError("--image-pull-secret needs --image (KubernetesPodOperator tasks)")
            options["image_pull_secret"] = args.image_pull_secret
        if args.metadata_secret:
            name, _, key = args.metadata_secret.partition(":")
            if not name:
                raise UsageError(f"--metadata-secret {args.metadata_secret!r}: expected NAME or NAME:KEY")
            options["metadata_secret"] = (name, key or "password")
        if args.storage_secret:
            options["storage_secret"] = args.storage_secret
        if args.env:
            options["env"] = parse_env(args.env)
        if args.target == "airflow":
            options["retries"] = args.retries
        text = compiler(args.target)(ir, **options)
    except (UsageError, WiringError, ValueError, OSError) as err:  # OSError: shipping the code
        return fail(str(err))
    try:
        os.makedirs(os.path.dirname(os.path.abspath(args.output)), exist_ok=True)
        with open(args.output, "w") as f:
            f.write(text)
    except OSError as err:
        return fail(f"--output {args.output}: cannot write it: {err.strerror or err}")
    print(f"wrote {args.target} pipeline {ir['pipeline']['name']!r} ({len(ir['nodes'])} nodes) "
          f"to {args.output} in {time.perf_counter() - started:.2f}s")
    if ir["pipeline"]["metadata_uri"] != pipeline.metadata_uri and "://" in pipeline.metadata_uri:
        where = (f"from Secret {args.metadata_secret!r}" if args.metadata_secret
                 else "in their environment (or --metadata-secret NAME[:KEY] on Kubernetes)")
        print(f"the metadata password was not compiled: tasks read $BEAMPIPE_METADATA_PASSWORD {where}")
    return 0


def parse_env(items: list[str]) -> dict[str, str]:
    env = {}
    for item in items:
        name, sep, value = item.partition("=")
        if not sep or not name:
            raise UsageError(f"--env {item!r}: expected NAME=VALUE")
        env[name] = value
    return env
