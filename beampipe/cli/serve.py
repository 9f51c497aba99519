"""``beampipe serve``: serve pushed SavedModels over TF Serving's REST API."""
from __future__ import annotations

import argparse
from typing import Any

from beampipe.cli.common import fail

LOCAL = ("127.0.0.1", "localhost", "::1")


def register(sub: Any) -> None:
    p = sub.add_parser("serve", help="serve pushed models with TF Serving's REST API (hot swap, canary, batching)")
    p.add_argument("--model-name", help="the model's name in /v1/models/<name>")
    p.add_argument("--model-base-path", help="a Pusher destination: <DIR>/<version>/ holding a SavedModel "
                   "(local, s3:// or gs://)")
    p.add_argument("--model-config-file", help="YAML or JSON file listing several models (docs/serving.md)")
    p.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1: this machine only)")
    p.add_argument("--port", type=int, default=8501, help="port (default 8501, TF Serving's REST port; 0: any)")
    p.add_argument("--version-policy", choices=["latest", "canary"], default="latest",
                   help="latest (default), or canary: --canary-percent of keys to the newest version")
    p.add_argument("--canary-percent", type=float, default=10.0, help="canary share in percent (default 10)")
    p.add_argument("--enable-batching", action="store_true", help="batch concurrent requests (off by default)")
    p.add_argument("--max-batch-size", type=int, default=32, help="rows per batch (default 32)")
    p.add_argument("--batch-timeout-ms", type=float, default=0.0,
                   help="longest wait for company (default 0: a call starts as soon as a slot is free)")
    p.add_argument("--poll-seconds", type=float, default=1.0, help="how often base paths are polled (default 1)")
    p.add_argument("--max-body-bytes", type=int, default=8 * 1024 * 1024, help="request size limit (default 8 MiB)")
    p.add_argument("--saved-model-tags", default="",
                   help="comma-separated tags of the meta graph to load (TF Serving's --saved_model_tags; "
                   "default: the one tagged serve)")
    p.add_argument("--request-log-dir", help="log sampled requests and predictions as tf.Examples in "
                   "DIR/span-<N>/requests-*.tfrecord.gz, which ImportExampleGen reads (docs/serving.md)")
    p.add_argument("--request-log-sample", type=float, default=1.0,
                   help="fraction of requests logged (default 1.0; e.g. 0.1)")
    p.add_argument("--request-log-span-records", type=int, default=10000,
                   help="rows per span before the next span starts (default 10000)")
    p.add_argument("--exit-with-pid", type=int, help=argparse.SUPPRESS)  # stop when that process is gone
    p.add_argument("--access-log", default="-", help="JSON-lines access log: - (stdout, default), a file, or off")
    p.set_defaults(func=serve)


def serve(args: argparse.Namespace) -> int:
    from beampipe.serving.config import Batching, ConfigError, load_config_file, model_from

    try:
        if args.model_config_file:
            if args.request_log_dir:
                return fail("--request-log-dir goes with --model-name; in a config file, give each model "
                            "a 'request_log: {dir: ..., sample: ...}'")
            if args.model_name or args.model_base_path:
                return fail("give either --model-config-file or --model-name with --model-base-path, not both")
            configs = load_config_file(args.model_config_file)
        else:
            if not (args.model_name and args.model_base_path):
                return fail("serve needs --model-name and --model-base-path (or --model-config-file)")
            configs = [model_from({"name": args.model_name, "base_path": args.model_base_path,
                                   "version_policy": args.version_policy,
                                   "canary_percent": args.canary_percent,
                                   "tags": args.saved_model_tags,
                                   "request_log": {"dir": args.request_log_dir, "sample": args.request_log_sample,
                                                   "span_records": args.request_log_span_records}
                                   if args.request_log_dir else None}, "command line")]
    except ConfigError as err:
        return fail(str(err))
    if args.max_batch_size < 1 or args.batch_timeout_ms < 0 or args.poll_seconds <= 0:
        return fail("--max-batch-size must be >= 1, --batch-timeout-ms >= 0 and --poll-seconds > 0")
    batching = Batching(args.max_batch_size, args.batch_timeout_ms) if args.enable_batching else None
    from beampipe.serving.runner import configure_logging, run

    configure_logging(None if args.access_log == "off" else args.access_log)

    def ready(port: int) -> None:
        shown = f"[{args.host}]" if ":" in args.host else args.host
        names = ", ".join(f"{c.name} ({c.base_path})" for c in configs)
        print(f"beampipe serve: http://{shown}:{port}/v1/models/  serving {names}; Ctrl-C stops", flush=True)
        if args.host not in LOCAL:
            print("beampipe serve: warning: listening beyond this machine; the REST API has no login "
                  "(the admin API still answers only local clients)", flush=True)

    try:
        run(configs, args.host, args.port, on_ready=ready, poll_seconds=args.poll_seconds,
            max_body=args.max_body_bytes, batching=batching, exit_with_pid=args.exit_with_pid)
    except OSError as err:
        return fail(f"cannot listen on {args.host}:{args.port}: {err.strerror or err}")
    return 0
