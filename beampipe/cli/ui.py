"""``beampipe ui``: a read-only web UI over a metadata store and its artifacts."""
from __future__ import annotations

import argparse
from typing import Any

from beampipe.cli.common import UsageError, fail


def register(sub: Any) -> None:
    p = sub.add_parser("ui", help="web UI: runs, DAGs, artifacts, lineage, compare (read-only)")
    p.add_argument("--metadata-uri", help="SQLite path, postgresql://... or mysql://... "
                   "(default: $BEAMPIPE_METADATA_URI)")
    p.add_argument("--pipeline-root", help="use <DIR>/metadata.sqlite; node logs are read under DIR")
    p.add_argument("--host", default="127.0.0.1",
                   help="address to bind (default 127.0.0.1: this machine only; the UI has no login)")
    p.add_argument("--port", type=int, default=8765, help="port (default 8765; 0 picks a free one)")
    p.set_defaults(func=serve)


def serve(args: argparse.Namespace) -> int:
    from beampipe.cli.inspect import _open
    from beampipe.metadata.connection import MetadataConfigError, MetadataConnectionError, redact

    try:
        store = _open(args)
    except (UsageError, MetadataConfigError, MetadataConnectionError) as err:
        return fail(str(err))
    from beampipe.ui.server import make_server

    try:
        server = make_server(store, args.host, args.port, args.pipeline_root)
    except OSError as err:
        store.close()
        return fail(f"cannot listen on {args.host}:{args.port}: {err.strerror or err}")
    host, port = server.server_address[:2]
    shown = f"[{host}]" if ":" in str(host) else host
    print(f"beampipe ui: http://{shown}:{port}/  (store {redact(store.uri)}; read-only; Ctrl-C stops)", flush=True)
    if args.host not in ("127.0.0.1", "localhost", "::1"):
        print("beampipe ui: warning: listening beyond this machine; anyone who can reach it sees "
              "every run, parameter and artifact file (there is no login)", flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        print("stopped")
    finally:
        server.server_close()
        store.close()
    return 0
