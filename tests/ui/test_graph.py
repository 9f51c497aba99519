"""The SVG graphs: layered by depth, every label escaped."""
from __future__ import annotations

from beampipe.ui import graph


def test_layers_follow_topological_depth():
    depth = graph.layers(["a", "b", "c", "d"], [("a", "b"), ("b", "c"), ("a", "c"), ("d", "c")])
    assert depth == {"a": 0, "b": 1, "c": 2, "d": 0}
    assert graph.layers(["x", "y"], [("x", "y"), ("y", "x")])  # a cycle does not hang


def test_svg_escapes_labels_titles_links_and_data():
    hostile = '<script>alert("x")</script>'
    picture = str(graph.svg([graph.GNode("k", hostile, hostile, "c", f"/x?{hostile}", {"node-id": hostile},
                                         hostile)], [], "dag"))
    assert "<script>" not in picture and "&lt;script&gt;" in picture
    assert picture.startswith('<svg id="dag"') and 'data-node-id="&lt;script&gt;' in picture
