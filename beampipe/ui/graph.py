"""DAG and lineage graphs as inline SVG, laid out in Python: no JavaScript graph library,
no network, and the same picture in a browser, a saved page or a screenshot.

The layout is the simple layered one: a node's column is its longest distance from a
source (its topological depth), rows are filled in a stable order with one pass of
barycenter ordering to cut crossings. Every label goes through ``markupsafe.escape``.
"""
from __future__ import annotations

from dataclasses import dataclass, field

from markupsafe import Markup, escape

COL_W, ROW_H, BOX_W, BOX_H, PAD = 210, 64, 176, 44, 16


@dataclass
class GNode:
    """A box: key (unique), two text lines, CSS classes, an optional link and data attributes."""

    key: str
    label: str
    sub: str = ""
    classes: str = ""
    href: str = ""
    data: dict[str, str] = field(default_factory=dict)
    title: str = ""


def layers(keys: list[str], edges: list[tuple[str, str]]) -> dict[str, int]:
    """Column of each node: longest path from a source (cycles, which MLMD cannot hold, are cut)."""
    preds: dict[str, list[str]] = {k: [] for k in keys}
    for a, b in edges:
        if a in preds and b in preds and a != b:
            preds[b].append(a)
    depth: dict[str, int] = {}
    visiting: set[str] = set()

    def visit(k: str) -> int:
        if k in depth:
            return depth[k]
        if k in visiting:
            return 0
        visiting.add(k)
        d = max((visit(p) + 1 for p in preds[k]), default=0)
        visiting.discard(k)
        depth[k] = d
        return d

    for k in keys:
        visit(k)
    return depth


def layout(nodes: list[GNode], edges: list[tuple[str, str]],
           columns: dict[str, int] | None = None) -> dict[str, tuple[int, int]]:
    """(x, y) of each node's top-left corner."""
    keys = [n.key for n in nodes]
    col = columns if columns is not None else layers(keys, edges)
    low = min(col.values(), default=0)
    by_col: dict[int, list[str]] = {}
    for k in keys:
        by_col.setdefault(col[k] - low, []).append(k)
    row: dict[str, float] = {}
    preds: dict[str, list[str]] = {}
    for a, b in edges:
        preds.setdefault(b, []).append(a)
    for c in sorted(by_col):
        members = by_col[c]
        # barycenter of the already placed predecessors; stable for ties
        members.sort(key=lambda k: sum(row[p] for p in preds.get(k, []) if p in row)
                     / max(1, len([p for p in preds.get(k, []) if p in row])))
        for i, k in enumerate(members):
            row[k] = i
    return {k: (PAD + (col[k] - low) * COL_W, PAD + int(row[k]) * ROW_H) for k in keys}


def svg(nodes: list[GNode], edges: list[tuple[str, str]], element_id: str,
        columns: dict[str, int] | None = None) -> Markup:
    """The graph as one ``<svg id=element_id>``; nodes are ``<g class="gnode ...">`` with their data
    attributes, wrapped in a link when they have one."""
    pos = layout(nodes, edges, columns)
    width = max((x for x, _ in pos.values()), default=0) + BOX_W + PAD
    height = max((y for _, y in pos.values()), default=0) + BOX_H + PAD
    out = [f'<svg id="{escape(element_id)}" class="graph" xmlns="http://www.w3.org/2000/svg" '
           f'width="{width}" height="{height}" viewBox="0 0 {width} {height}" role="img">',
           '<defs><marker id="arrow-' + str(escape(element_id)) + '" viewBox="0 0 10 10" refX="10" refY="5" '
           'markerWidth="7" markerHeight="7" orient="auto-start-reverse">'
           '<path d="M 0 0 L 10 5 L 0 10 z" class="arrowhead"/></marker></defs>']
    for a, b in edges:
        if a not in pos or b not in pos:
            continue
        (x1, y1), (x2, y2) = pos[a], pos[b]
        sx, sy, ex, ey = x1 + BOX_W, y1 + BOX_H // 2, x2, y2 + BOX_H // 2
        mid = (sx + ex) / 2
        out.append(f'<path class="edge" data-from="{escape(a)}" data-to="{escape(b)}" '
                   f'd="M {sx} {sy} C {mid} {sy}, {mid} {ey}, {ex} {ey}" '
                   f'marker-end="url(#arrow-{escape(element_id)})"/>')
    for n in nodes:
        x, y = pos[n.key]
        attrs = "".join(f' data-{escape(k)}="{escape(v)}"' for k, v in n.data.items())
        box = [f'<g class="gnode {escape(n.classes)}"{attrs} transform="translate({x},{y})">',
               f'<title>{escape(n.title or n.label)}</title>',
               f'<rect width="{BOX_W}" height="{BOX_H}" rx="6"/>',
               f'<text x="10" y="18" class="glabel">{escape(_clip(n.label, 24))}</text>',
               f'<text x="10" y="35" class="gsub">{escape(_clip(n.sub, 30))}</text>', '</g>']
        if n.href:
            box = [f'<a href="{escape(n.href)}">', *box, '</a>']
        out.extend(box)
    out.append("</svg>")
    return Markup("".join(out))


def _clip(text: str, n: int) -> str:
    return text if len(text) <= n else text[: n - 1] + "…"
