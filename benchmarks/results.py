"""One table of benchmark figures: every script records its headline figures here.

``benchmarks/README.md`` holds a Markdown table between two marker lines; ``record`` replaces
the row with the same benchmark and measure (or adds it), stamped with the date and machine,
so the README's figures come from one place and say where they came from.

    from benchmarks.results import record
    record("penguin.py", "penguin cold, median of 3", "31.2 s, peak RSS 0.9 GB",
           "python benchmarks/penguin.py --repeats 3")

Pass ``--no-record`` to a script (``recording_wanted``) to print without touching the table.
"""
from __future__ import annotations

import datetime
import os
import platform
import sys

TABLE = os.path.join(os.path.dirname(os.path.abspath(__file__)), "README.md")
BEGIN, END = "<!-- figures:begin -->", "<!-- figures:end -->"
HEADER = ["| benchmark | measure | figure | command | date | machine |",
          "| --- | --- | --- | --- | --- | --- |"]


def machine() -> str:
    """Cores and CPU model: enough to tell two machines' figures apart."""
    model = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as f:
            for line in f:
                if line.startswith("model name"):
                    model = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    return f"{os.cpu_count()} vCPU, {model}, Python {platform.python_version()}"


def recording_wanted(argv: list[str] | None = None) -> bool:
    return "--no-record" not in (sys.argv if argv is None else argv)


def _cell(text: str) -> str:
    return str(text).replace("|", "\\|").replace("\n", " ")


def _rows(lines: list[str]) -> list[str]:
    try:
        start, end = lines.index(BEGIN), lines.index(END)
    except ValueError:
        return []
    return [line for line in lines[start + 1:end] if line.startswith("|") and line not in HEADER]


def _key(row: str) -> tuple[str, str]:
    cells = [c.strip() for c in row.strip().strip("|").split(" | ")]
    return (cells[0], cells[1]) if len(cells) > 1 else (cells[0], "")


def record(benchmark: str, measure: str, figure: str, command: str, path: str = TABLE) -> None:
    """Put one figure in the table: replaces the row for (benchmark, measure), else appends."""
    if not recording_wanted():
        return
    lines = open(path, encoding="utf-8").read().splitlines() if os.path.exists(path) else []
    if BEGIN not in lines or END not in lines:
        lines += ["", BEGIN, END]
    row = (f"| {_cell(benchmark)} | {_cell(measure)} | {_cell(figure)} | `{_cell(command)}` | "
           f"{datetime.date.today().isoformat()} | {_cell(machine())} |")
    rows = _rows(lines)
    key = _key(row)
    rows = [row if _key(r) == key else r for r in rows] if any(_key(r) == key for r in rows) else rows + [row]
    rows.sort(key=_key)
    start, end = lines.index(BEGIN), lines.index(END)
    lines[start:end + 1] = [BEGIN, *HEADER, *rows, END]
    tmp = path + ".tmp"
    with open(tmp, "w", encoding="utf-8") as f:
        f.write("\n".join(lines) + "\n")
    os.replace(tmp, path)
