"""What every view shares: reading an artifact's files, templates, tables, the standalone page.

Files are read only under ``artifact.uri`` and only through ``beampipe.io`` (local, ``s3://``,
``gs://``): names are joined with ``layout.join`` (no ``..``, no absolute part) and a local
file must resolve, symlinks followed, inside the artifact's directory, so a view never shows
a file an artifact merely points at.

Templates are Jinja2 with autoescape on: a feature name, a value or an error message is text,
never markup; charts come in as ``Markup`` that escaped its own texts.
"""
from __future__ import annotations

import functools
import os
from typing import Any, Iterable, Sequence

import jinja2
from markupsafe import Markup, escape

from beampipe.metadata import layout
from beampipe.metadata.artifacts import Artifact
from beampipe.views.charts import fmt


class ViewError(Exception):
    """A view cannot show an artifact (a missing or unreadable file): shown as a note."""


def artifact_path(artifact: Artifact, *parts: str) -> str:
    """``<uri>/<parts...>``, refused when it would leave the artifact's directory."""
    path = layout.join(artifact.uri, *parts)
    if "://" not in artifact.uri:
        root = os.path.realpath(artifact.uri)
        real = os.path.realpath(path)
        if real != root and not real.startswith(root.rstrip(os.sep) + os.sep):
            raise ViewError(f"{path} resolves outside the artifact ({real})")
    return path


def read_bytes(artifact: Artifact, *parts: str) -> bytes:
    from beampipe import io
    path = artifact_path(artifact, *parts)
    try:
        return io.read_bytes(path)
    except FileNotFoundError:
        raise ViewError(f"missing file {path}") from None
    except (OSError, io.StorageError) as err:
        raise ViewError(f"cannot read {path}: {err}") from None


def listdir(artifact: Artifact, *parts: str) -> list[str]:
    from beampipe import io
    path = artifact_path(artifact, *parts)
    try:
        return sorted(io.listdir(path)) if io.exists(path) else []
    except (OSError, io.StorageError) as err:
        raise ViewError(f"cannot list {path}: {err}") from None


def splits_of(artifact: Artifact) -> list[str]:
    """The recorded splits, else the ``Split-*`` directories found (an imported artifact)."""
    recorded = list(getattr(artifact, "splits", []) or [])
    if recorded:
        return recorded
    return layout.splits_in(listdir(artifact))


@functools.lru_cache(maxsize=None)
def _env() -> jinja2.Environment:
    env = jinja2.Environment(autoescape=True, undefined=jinja2.StrictUndefined,
                             trim_blocks=True, lstrip_blocks=True)
    env.filters["num"] = fmt
    env.filters["pct"] = pct
    return env


@functools.lru_cache(maxsize=None)
def _template(source: str) -> jinja2.Template:
    return _env().from_string(source)


def render(source: str, **context: Any) -> Markup:
    """Render a template string (autoescaped) to markup."""
    return Markup(_template(source).render(**context))


def pct(value: float | None) -> str:
    return "–" if value is None else f"{100.0 * value:.1f}%"


def table(headers: Sequence[str], rows: Iterable[Sequence[Any]], cls: str = "",
          sortable: bool = False) -> Markup:
    """A table of escaped cells (``Markup`` cells pass as they are); numbers formatted, and
    with ``sortable`` a click on a header sorts by that column (``SORT_SCRIPT``)."""
    head = "".join(f"<th>{escape(h)}</th>" for h in headers)
    body = []
    for row in rows:
        cells = []
        for cell in row:
            if isinstance(cell, (int, float)) and not isinstance(cell, bool):
                cells.append(f'<td class="n" data-v="{cell!r}">{escape(fmt(cell))}</td>')
            else:
                cells.append(f"<td>{escape('' if cell is None else cell)}</td>")
        body.append("<tr>" + "".join(cells) + "</tr>")
    classes = " ".join(c for c in (cls, "sortable" if sortable else "") if c)
    attr = f' class="{classes}"' if classes else ""
    return Markup(f"<table{attr}><thead><tr>{head}</tr></thead><tbody>{''.join(body)}</tbody></table>")


def note(text: str, cls: str = "note") -> Markup:
    return Markup(f'<p class="{escape(cls)}">{escape(text)}</p>')


SORT_SCRIPT = Markup("""<script>
(function(){if(window.__bpSort)return;window.__bpSort=1;
document.addEventListener('click',function(e){var th=e.target.closest('table.sortable th');
if(!th||th.classList.contains('nosort'))return;var tb=th.closest('table').tBodies[0],
i=th.dataset.col!==undefined?parseInt(th.dataset.col,10):Array.prototype.indexOf.call(th.parentNode.children,th),
d=th.dataset.dir==='a'?'d':'a';th.dataset.dir=d;var rows=Array.prototype.slice.call(tb.rows);
function k(r){var c=r.cells[i];if(!c)return '';var v=c.dataset.v;return v!==undefined&&v!==''?parseFloat(v):c.textContent;}
rows.sort(function(a,b){var x=k(a),y=k(b),r=(typeof x==='number'&&typeof y==='number')?x-y:String(x).localeCompare(String(y));
return d==='a'?r:-r;});rows.forEach(function(r){tb.appendChild(r);});});})();
</script>""")
"""Sorting for ``table(..., sortable=True)`` (a header's ``data-col`` names its column when
header rows span; ``nosort`` headers do not sort): inline and tiny, so it works in a static report
opened from disk as in the server's pages; without JavaScript the table stays in its order."""

STYLE = """
body{font-family:system-ui,-apple-system,"Segoe UI",sans-serif;margin:1.5em;color:#222;max-width:1400px}
h1{font-size:1.4em}h2{font-size:1.15em;margin-top:1.4em}h3{font-size:1em;margin:.8em 0 .3em}
table{border-collapse:collapse;margin:.4em 0}td,th{border:1px solid #d6d6d6;padding:3px 7px;font-size:13px}
th{background:#f3f3f3;text-align:left}td.n{text-align:right;font-variant-numeric:tabular-nums}
table.sortable th{cursor:pointer}table.sortable th:hover{background:#e6ecf8}
.ok{color:#17702c}.bad{color:#b3261e}.note{color:#666}.drift{background:#fde7e4}
.verdict{font-size:1.1em;padding:.4em .6em;border-radius:4px;display:inline-block}
.verdict.ok{background:#e6f4ea}.verdict.bad{background:#fde7e4}
.splits{display:flex;gap:1.2em;flex-wrap:wrap;align-items:flex-start}.split{max-width:300px}
.split .note{font-size:12px}
.feature{border-top:1px solid #ddd;padding:.5em 0}.feature h3 code{font-size:1.05em}
.plots{display:flex;gap:1em;flex-wrap:wrap;align-items:flex-start}
table.heatmap td{text-align:right;min-width:3em}table.heatmap caption{font-size:12px;color:#555}
code{background:#f5f5f5;padding:0 3px;border-radius:3px}
"""


def standalone_page(title: str, fragment: str) -> str:
    """A whole HTML document around a view: inline CSS, no external resource of any kind,
    so a ``report.html`` opens offline from disk."""
    return str(render("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
                  "<title>{{ title }}</title><style>{{ style }}</style></head>"
                  "<body><h1>{{ title }}</h1>{{ fragment }}</body></html>\n",
                  title=title, style=Markup(STYLE), fragment=Markup(fragment)))
