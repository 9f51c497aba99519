"""``beampipe gc --pipeline-root ROOT``: list output prefixes no artifact records; ``--delete`` deletes them.

Dry-run by default because deleting is the one thing here that cannot be undone: the listing
shows what a deletion would take (and the exact command to take it). Exit codes: 0 listed or
deleted, 1 deletion refused or failed part-way, 2 a usage or configuration problem.
"""
from __future__ import annotations

import argparse
import os
import re
from typing import Any

from beampipe.cli.common import UsageError, command_line, fail, remember_uri, scrub

_UNITS = {"": 1, "s": 1, "m": 60, "h": 3600, "d": 86400}


def register(sub: Any) -> None:
    p = sub.add_parser(
        "gc", help="list (with --delete: delete) output prefixes that no artifact records",
        description="List every <root>/<node>/<key>/<attempt> prefix that no artifact of the given "
                    "metadata stores records (debris of killed or failed attempts), and staging "
                    "directories whose owner process is gone. Nothing is deleted without --delete.")
    p.add_argument("--pipeline-root", required=True, help="the pipeline root (a directory, s3:// or gs://)")
    p.add_argument("--metadata-uri", action="append", default=[], metavar="URI",
                   help="a store that writes on this root; repeat for every store sharing it "
                        "(default: $BEAMPIPE_METADATA_URI, else <root>/metadata.sqlite)")
    p.add_argument("--min-age", default="1h", metavar="AGE",
                   help="leave prefixes changed more recently than this (90s, 30m, 1h, 2d; default 1h)")
    p.add_argument("--delete", action="store_true", help="delete what is listed (default: only list)")
    p.add_argument("--force", action="store_true",
                   help="delete even when a store registered on the root was not given")
    p.set_defaults(func=run)


def parse_age(text: str) -> float:
    match = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([smhd]?)\s*", text.lower())
    if not match:
        raise UsageError(f"--min-age {text!r}: expected a duration such as 90s, 30m, 1h or 2d")
    return float(match.group(1)) * _UNITS[match.group(2)]


def _uris(args: argparse.Namespace) -> list[str]:
    """The stores to read: every --metadata-uri, else the environment's, else the root's SQLite file."""
    from beampipe import io

    if args.metadata_uri:
        return [remember_uri(u) for u in dict.fromkeys(args.metadata_uri)]
    env = os.environ.get("BEAMPIPE_METADATA_URI")
    if env:
        return [remember_uri(env)]
    if io.is_remote(args.pipeline_root):
        raise UsageError(f"--pipeline-root {args.pipeline_root} is an object store, which holds no metadata "
                         "store: give --metadata-uri URI (or set BEAMPIPE_METADATA_URI)")
    return [os.path.join(args.pipeline_root, "metadata.sqlite")]


def _check_root(root: str) -> None:
    from beampipe import io

    if io.is_remote(root):
        if not io.exists(root):
            raise UsageError(f"--pipeline-root {root}: nothing there (no object under this prefix)")
    elif not os.path.exists(root):
        raise UsageError(f"--pipeline-root {root}: no such directory")
    elif not os.path.isdir(root):
        raise UsageError(f"--pipeline-root {root} is a file, not a directory")


def _open(uri: str) -> Any:
    """A store to read; a SQLite file that is not there is an error, never created."""
    from beampipe.metadata.connection import redact, sqlite_path
    from beampipe.metadata.store import MetadataStore

    path = sqlite_path(uri)
    if path is not None and not os.path.isfile(path):
        raise UsageError(f"{redact(uri)}: no metadata store here (give the store that ran on this root "
                         "with --metadata-uri, or set BEAMPIPE_METADATA_URI)")
    return MetadataStore(uri)


def _size(n: int) -> str:
    for unit in ("B", "KiB", "MiB", "GiB"):
        if n < 1024 or unit == "GiB":
            return f"{n} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024  # type: ignore[assignment]
    return f"{n} B"


def _age(seconds: float | None) -> str:
    if seconds is None:
        return "age unknown"
    for unit, span in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= span:
            return f"{seconds / span:.1f}{unit} old"
    return f"{seconds:.0f}s old"


def _line(debris: Any) -> str:
    return f"  {debris.uri}  {_size(debris.bytes)}, {debris.files} file(s), {_age(debris.age)}"


def _delete_command(args: argparse.Namespace) -> str:
    argv = ["gc", "--pipeline-root", args.pipeline_root]
    for uri in args.metadata_uri:
        argv += ["--metadata-uri", uri]
    if args.min_age != "1h":
        argv += ["--min-age", args.min_age]
    return scrub(command_line([*argv, "--delete"]))


def run(args: argparse.Namespace) -> int:
    from beampipe import io
    from beampipe.cli import console
    from beampipe.metadata.connection import MetadataConfigError
    from beampipe.orchestration import gc

    stores = []
    try:
        min_age = parse_age(args.min_age)
        uris = _uris(args)
        _check_root(args.pipeline_root)
        for uri in uris:
            stores.append(_open(uri))
        report = gc.scan(args.pipeline_root, stores, min_age)
        verbose = console.verbose()
        print(f"pipeline root {report.root}; stores: {', '.join(sorted(report.given.values()))}")
        outputs = [d for d in report.debris if d.kind == "output"]
        staging = [d for d in report.debris if d.kind == "staging"]
        if outputs:
            print(f"output prefixes no artifact records, unchanged for {args.min_age}:")
            print("\n".join(_line(d) for d in outputs))
        if staging:
            print("staging directories whose process is gone:")
            print("\n".join(_line(d) for d in staging))
        print(f"total: {len(report.debris)} to delete, {_size(report.total_bytes)}")
        if report.young or report.running:
            print(f"left alone: {len(report.young)} changed within {args.min_age}, "
                  f"{len(report.running)} of running executions" + ("" if verbose else " (-v lists them)"))
            if verbose:
                print("\n".join([*(_line(d) + " (too recent)" for d in report.young),
                                 *(f"  {uri} (its execution is running)" for uri in report.running)]))
        problem = report.refusal() if report.debris else None
        if not args.delete:
            if problem and not args.force:
                print(f"--delete would be refused: {problem}")
            elif report.debris:
                print(f"dry run, nothing deleted; to delete: {_delete_command(args)}")
            return 0
        try:
            deleted = gc.delete(report, stores, force=args.force)
        except gc.GcRefused as err:
            return fail(f"refusing to delete: {err}", 1)
        for debris in deleted:
            print(f"deleted {debris.uri}")
        print(f"deleted {len(deleted)} prefix(es), {_size(sum(d.bytes for d in deleted))}")
        return 0
    except (UsageError, MetadataConfigError) as err:
        return fail(str(err))
    except (io.StorageError, io.UnsafeDeleteError) as err:
        return fail(str(err), 2 if not args.delete else 1)
    finally:
        for store in stores:
            store.close()
