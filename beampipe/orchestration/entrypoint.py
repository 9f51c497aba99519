"""Run one node of a compiled IR: the process every Airflow and Kubeflow task starts.

    python -m beampipe.orchestration.entrypoint --ir IR --node ID --run-id RUN [--param K=V ...]

IR is a file path, inline JSON, ``-`` (read stdin) or ``b64gz:<base64 of gzipped JSON>``.
It opens the MLMD store named in the IR and calls ``launcher.run_node``, so caching,
lineage and failure are exactly those of a local run. It prints the result as one JSON
line and exits 0 on COMPLETE / CACHED / SKIPPED, 1 on FAILED, 2 on bad arguments.

Every task pays this process's start, so it stays lean: the IR is parsed once, the cache
is checked before any executor library loads (a cached node never imports TensorFlow or
Beam: ``tests/orchestration/test_task_startup.py``), MLMD's unused gRPC client is not
loaded, and a process that did load TensorFlow or Beam leaves without the interpreter's
teardown (seconds: thread pools, finalizers).
"""
from __future__ import annotations

import argparse
import base64
import dataclasses
import gzip
import hashlib
import importlib
import json
import logging
import os
import re
import sys
import types
from typing import Any, NoReturn, Sequence

EXIT_OK, EXIT_FAILED, EXIT_USAGE = 0, 1, 2
# The pseudo node that closes a run (sets its MLMD state), run after every other node.
FINISH_RUN = "__finish_run__"
# Orchestrators read this exit code to mark the task skipped (not failed).
EXIT_SKIPPED_ENV = "BEAMPIPE_EXIT_CODE_ON_SKIP"
_MAX_RUN_ID = 128  # metadata.ids: run ids become directory names
# Loaded libraries whose interpreter teardown (thread pools, finalizers) costs seconds.
_SLOW_TEARDOWN = ("tensorflow", "apache_beam")


def read_ir(spec: str) -> dict[str, Any]:
    """The IR from a path, inline JSON, '-' (stdin) or 'b64gz:...'."""
    from beampipe.orchestration import ir as ir_mod

    if spec == "-":
        text = sys.stdin.read()
    elif spec.startswith("b64gz:"):
        text = gzip.decompress(base64.b64decode(spec[len("b64gz:"):])).decode()
    elif spec.lstrip().startswith("{"):
        text = spec
    else:
        return ir_mod.load(spec)
    ir = json.loads(text)
    if ir.get("ir_version") != ir_mod.IR_VERSION:
        raise ValueError(f"IR version {ir.get('ir_version')} is not {ir_mod.IR_VERSION}")
    return ir


def encode_ir(ir: dict[str, Any]) -> str:
    """A compact, shell- and YAML-safe form of the IR for one command-line argument."""
    raw = json.dumps(ir, sort_keys=True, separators=(",", ":")).encode()
    return "b64gz:" + base64.b64encode(gzip.compress(raw, mtime=0)).decode()


def sanitize_run_id(run_id: str) -> str:
    """Orchestrator run ids (``manual__2025-01-01T00:00:00+00:00``, a KFP run's display name)
    as safe path parts (``metadata.ids``). Too long an id keeps its start and ends with a
    hash of the whole, so that two long ids differing only at the end stay apart."""
    safe = re.sub(r"[^A-Za-z0-9._-]+", "_", run_id).strip("_")
    safe = re.sub(r"\.{2,}", ".", safe).lstrip(".-") or "run"
    if len(safe) > _MAX_RUN_ID:
        digest = hashlib.sha256(run_id.encode()).hexdigest()[:12]
        safe = f"{safe[:_MAX_RUN_ID - 13]}-{digest}"
    return safe


def parse_param_args(pairs: Sequence[str]) -> dict[str, str]:
    params: dict[str, str] = {}
    for pair in pairs:
        name, sep, value = pair.partition("=")
        if not sep or not name:
            raise ValueError(f"--param {pair!r}: expected NAME=VALUE")
        params[name.strip()] = value
    return params


def run(ir_spec: str | dict[str, Any], node_id: str, run_id: str, params: dict[str, Any],
        params_json: str = "", ignore_unknown_params: bool = False) -> tuple[int, dict[str, Any]]:
    """Run the node; return (exit code, result dict). Never raises for user errors.
    ``ir_spec`` may be the IR already parsed (``check_ir`` parsed it: no second decode)."""
    from beampipe.orchestration import launcher
    from beampipe.orchestration.python_gc import fewer_collections

    try:
        ir = ir_spec if isinstance(ir_spec, dict) else read_ir(ir_spec)
        given = dict(params)
        if params_json.strip():
            extra = json.loads(params_json)
            if not isinstance(extra, dict):
                raise ValueError(f"--params-json must be a JSON object, got {params_json!r}")
            given = {**extra, **given}
        if ignore_unknown_params:  # Airflow conf may carry keys meant for others
            declared = ir["pipeline"].get("parameters", {})
            given = {k: v for k, v in given.items() if k in declared}
        values = launcher.resolve_parameters(ir, _integral(ir, given))
        store = launcher.open_store(ir)
    except (ValueError, KeyError, OSError, launcher.NodeError) as err:
        return EXIT_USAGE, {"node_id": node_id, "status": "FAILED", "error": launcher.describe_error(err)}
    if node_id == FINISH_RUN:
        try:
            return finish_run(ir, run_id, values, store)
        finally:
            store.close()
    try:
        with fewer_collections():
            result = launcher.run_node(ir, node_id, run_id, values, store)
    except (KeyError, ValueError, OSError, launcher.NodeError) as err:
        return EXIT_FAILED, {"node_id": node_id, "status": "FAILED",
                             "error": launcher.describe_error(err)}
    finally:
        store.close()
    assert result is not None
    out = {**dataclasses.asdict(result), "run_id": run_id, "parameters": values}
    return (EXIT_FAILED if result.status == "FAILED" else EXIT_OK), out


def finish_run(ir: dict[str, Any], run_id: str, values: dict[str, Any],
               store: Any) -> tuple[int, dict[str, Any]]:
    """Close the run in MLMD (COMPLETE/FAILED), as the local runner does; the last task of a
    compiled pipeline runs this. Exit 1 when the run failed, so the orchestrator's run fails too."""
    from beampipe.metadata.store import RUN_CONTEXT

    latest: dict[str, dict[str, Any]] = {}
    for ex in sorted(store.executions_in_context(RUN_CONTEXT, run_id), key=lambda e: e["id"]):
        latest[ex.get("node_id", "?")] = ex  # retries: the last attempt counts
    node_ids = [n["id"] for n in ir["nodes"]]  # not the exit handler: it never decides the outcome
    failed = sorted(n for n, ex in latest.items() if ex["state"] == "FAILED" and n in node_ids)
    not_run = [n for n in node_ids if n not in latest]
    status = "FAILED" if failed or not_run else "COMPLETE"
    store.set_run_state(ir["pipeline"]["name"], run_id, status, params=json.dumps(values),
                        nodes=json.dumps([n["id"] for n in ir["nodes"]]))
    result = {"node_id": FINISH_RUN, "run_id": run_id, "status": status, "failed": failed,
              "not_run": not_run, "error": f"failed: {failed}, not run: {not_run}" if status == "FAILED" else ""}
    return (EXIT_FAILED if status == "FAILED" else EXIT_OK), result


def check_ir(spec: str, node_id: str) -> str | None:
    """Why --ir / --node cannot be run, in one line; None when they look right."""
    problem, _ = parse_ir(spec, node_id)
    return problem


def parse_ir(spec: str, node_id: str) -> tuple[str | None, dict[str, Any]]:
    """``check_ir``'s answer and the parsed IR (empty when there is a problem)."""
    shown = spec if len(spec) <= 80 else spec[:77] + "..."
    try:
        ir = read_ir(spec)
    except FileNotFoundError:
        return f"--ir {shown}: no such IR file", {}
    except IsADirectoryError:
        return f"--ir {shown}: is a directory, not an IR file", {}
    except (ValueError, OSError, EOFError) as err:  # bad JSON, base64, gzip, or IR version
        kind = "not valid JSON" if isinstance(err, json.JSONDecodeError) else "not a beampipe IR"
        return f"--ir {shown}: {kind} ({' '.join(str(err).split())})", {}
    if not isinstance(ir, dict) or not isinstance(ir.get("pipeline"), dict) \
            or not isinstance(ir.get("nodes"), list):
        return f"--ir {shown}: not a beampipe IR (no 'pipeline' and 'nodes')", {}
    known = [n.get("id") for n in ir["nodes"] if isinstance(n, dict)]
    if isinstance(ir.get("exit_handler"), dict):
        known.append(ir["exit_handler"].get("id"))
    if node_id != FINISH_RUN and node_id not in known:
        return (f"--node {node_id!r}: pipeline '{ir['pipeline'].get('name')}' has no such node; "
                f"nodes are {known}"), {}
    return None, ir


def _integral(ir: dict[str, Any], given: dict[str, Any]) -> dict[str, Any]:
    """'5.0' -> 5 for int parameters: orchestrators may render integers as floats."""
    declared = ir["pipeline"].get("parameters", {})
    out = dict(given)
    for name, value in given.items():
        if declared.get(name, {}).get("type") == "int" and isinstance(value, (str, float)):
            try:
                number = float(value)
            except ValueError:
                continue
            if number.is_integer():
                out[name] = int(number)
    return out


def build_parser(parser: argparse.ArgumentParser | None = None) -> argparse.ArgumentParser:
    parser = parser or argparse.ArgumentParser(
        prog="python -m beampipe.orchestration.entrypoint",
        description="Run one node of a compiled beampipe pipeline (IR) through the launcher.")
    parser.add_argument("--ir", required=True,
                        help="IR file, inline JSON, '-' for stdin, or b64gz:<data>")
    parser.add_argument("--node", required=True,
                        help=f"node id; {FINISH_RUN} closes the run (state COMPLETE/FAILED in MLMD)")
    parser.add_argument("--run-id", required=True, help="pipeline run id (shared by all nodes of a run)")
    parser.add_argument("--param", action="append", default=[], metavar="NAME=VALUE",
                        help="runtime parameter (repeatable)")
    parser.add_argument("--params-json", default="", help="runtime parameters as a JSON object")
    parser.add_argument("--ignore-unknown-params", action="store_true",
                        help="drop parameters the pipeline does not declare (e.g. Airflow conf)")
    parser.add_argument("--sanitize-run-id", action="store_true",
                        help="replace characters other than [A-Za-z0-9._-] in the run id")
    parser.add_argument("--status-file", default="",
                        help="also write the status (COMPLETE/CACHED/SKIPPED/FAILED) to this file")
    return parser


def main_from_args(args: argparse.Namespace) -> int:
    """Shared by this module's main and the ``beampipe run-node`` command."""
    try:
        params = parse_param_args(args.param)
    except ValueError as err:
        print(f"beampipe run-node: {err}", file=sys.stderr)
        return EXIT_USAGE
    if args.ir == "-":  # read stdin once, for the check and for the launcher
        args.ir = sys.stdin.read()
    problem, ir = parse_ir(args.ir, args.node)  # Airflow and KFP tasks arrive here directly
    if problem:
        print(json.dumps({"node_id": args.node, "status": "FAILED", "error": problem}), flush=True)
        print(f"beampipe run-node: {problem}", file=sys.stderr)
        return EXIT_USAGE
    run_id = sanitize_run_id(args.run_id) if args.sanitize_run_id else args.run_id
    code, result = run(ir, args.node, run_id, params, args.params_json, args.ignore_unknown_params)
    if args.status_file:
        os.makedirs(os.path.dirname(os.path.abspath(args.status_file)), exist_ok=True)
        with open(args.status_file, "w") as f:
            f.write(result["status"])
    print(json.dumps(result, sort_keys=True, default=str), flush=True)
    if code != EXIT_OK:
        print(f"beampipe: node '{args.node}' FAILED: {result.get('error', '')}", file=sys.stderr)
    elif result["status"] == "SKIPPED" and os.environ.get(EXIT_SKIPPED_ENV):
        return int(os.environ[EXIT_SKIPPED_ENV])
    return code


class _Deferred(types.ModuleType):
    """Stands for a module that is imported on first attribute use."""

    def __getattr__(self, attr: str) -> Any:
        if sys.modules.get(self.__name__) is self:
            del sys.modules[self.__name__]
        return getattr(importlib.import_module(self.__name__), attr)


def import_mlmd_without_grpc() -> None:
    """Import ml-metadata with ``grpc`` deferred: MLMD imports gRPC at import time for its
    remote-server client, which a task connecting to SQLite/MySQL/PostgreSQL never uses
    (about a fifth of a cached task's imports). MLMD's modules keep a stand-in that imports
    gRPC on first use; anything importing ``grpc`` afterwards (Beam) gets the real module."""
    if "grpc" in sys.modules or "ml_metadata.metadata_store" in sys.modules:
        return
    stand_in = _Deferred("grpc")
    sys.modules["grpc"] = stand_in
    try:
        importlib.import_module("ml_metadata.metadata_store")
    except ImportError:
        pass  # reported, with its reason, when the store is opened
    finally:
        if sys.modules.get("grpc") is stand_in:
            del sys.modules["grpc"]


def exit_now(code: int) -> NoReturn:
    """Leave without the interpreter's teardown once TensorFlow or Beam is loaded: their
    finalizers and thread pools take seconds and print spurious errors, and everything the
    node did is recorded (MLMD committed, files closed) by now. As the ``beampipe`` CLI does."""
    from beampipe.io import code as shipped_code

    shipped_code.discard_fetched()  # os._exit skips atexit
    logging.shutdown()
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)


def main(argv: Sequence[str] | None = None) -> int:
    os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")
    return main_from_args(build_parser().parse_args(argv))


if __name__ == "__main__":
    import_mlmd_without_grpc()
    exit_code = main()
    if any(name in sys.modules for name in _SLOW_TEARDOWN):
        exit_now(exit_code)
    sys.exit(exit_code)
