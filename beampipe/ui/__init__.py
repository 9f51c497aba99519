"""``beampipe ui``: a read-only web UI over an MLMD store and its artifacts (docs/ui.md).

server (http.server routes) -> pages (one function per page) -> queries / lineage / metrics
(batched, read-only MLMD reads) and graph (inline SVG); templates holds the Jinja2 environment
and the list of stable element ids. Views by artifact type live in ``beampipe.views``.
"""
