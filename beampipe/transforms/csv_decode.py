"""CSV reading for ExampleGen: validation, type inference and row decoding, all streamed.

Rule for types (tfx_bsl's ``csv_decoder`` rule, which TFX's CsvExampleGen uses): a column's
type is inferred from ALL its non-empty values: every value an integer within int64 -> INT,
every value a number -> FLOAT, otherwise BYTES (an integer beyond int64 is BYTES too). So
``abc`` in an otherwise-integer column makes it a BYTES column (a warning names the first
such line); the schema check in ExampleValidator then reports the type change. An empty
value is an empty list of the column's type in that row, as in TFX (``example_io``).
Blank lines are skipped. Anything else malformed (a NUL byte included) is one ValueError
naming the file, the line and the column.
"""
from __future__ import annotations

import csv
import logging
from dataclasses import dataclass, field
from typing import Iterator

INT, FLOAT, BYTES = "INT", "FLOAT", "BYTES"
_log = logging.getLogger("beampipe.csv")


def decoded_lines(path: str, counter: list[int]) -> Iterator[str]:
    """UTF-8 lines of a file, read in binary so a bad byte is reported with its line.

    A NUL byte is refused: Python's csv module (3.11+) takes it as an ordinary character,
    so a binary or UTF-16 file would become examples holding garbage.
    """
    with open(path, "rb") as f:
        for number, raw in enumerate(f, start=1):
            counter[0] = number
            if b"\0" in raw:
                column = raw[:raw.index(b"\0")].count(b",") + 1
                utf16 = raw.startswith((b"\xff\xfe", b"\xfe\xff")) or raw.count(b"\0") >= len(raw) // 4
                hint = " (the file looks UTF-16: save it as UTF-8)" if utf16 else ""
                raise ValueError(f"{path} line {number} column {column}: contains a NUL byte (0x00); "
                                 f"a CSV file must be text{hint}")
            try:
                yield raw.decode("utf-8-sig" if number == 1 else "utf-8")
            except UnicodeDecodeError as err:
                column = raw[:err.start].count(b",") + 1
                raise ValueError(f"{path} line {number} column {column}: not valid UTF-8 "
                                 f"(byte 0x{raw[err.start]:02x}); save the file as UTF-8") from None


def csv_rows(path: str) -> Iterator[tuple[int, list[str]]]:
    """(line number, fields) for every non-blank row, header included."""
    counter = [0]
    reader = csv.reader(decoded_lines(path, counter), strict=True)
    while True:
        try:
            row = next(reader)
        except StopIteration:
            return
        except csv.Error as err:
            raise ValueError(f"{path} line {counter[0]}: malformed CSV ({err})") from None
        if row:
            yield counter[0], row


@dataclass
class CsvLayout:
    """What a scan of the CSV files found: header, column types, row count."""

    header: list[str]
    types: list[str]
    rows: int = 0
    first_text: dict[int, tuple[str, int, str]] = field(default_factory=dict)
    has_values: list[bool] = field(default_factory=list)

    def column_types(self) -> dict[str, str]:
        """Column name -> INT / FLOAT / BYTES, for the columns with at least one value
        (an all-empty column has no type: any later type fits it)."""
        return {name: kind for name, kind, seen in zip(self.header, self.types, self.has_values) if seen}

    def where_text(self, column: str) -> str:
        """'<file> line N has <value>' for a BYTES column's first non-number, else ''."""
        found = self.first_text.get(self.header.index(column)) if column in self.header else None
        return f"{found[0]} line {found[1]} has {found[2]!r}" if found else ""


_INT64_MIN, _INT64_MAX = -(1 << 63), (1 << 63) - 1


def _kind(value: str) -> str:
    try:
        return INT if _INT64_MIN <= int(value) <= _INT64_MAX else BYTES
    except ValueError:
        pass
    try:
        float(value)
        return FLOAT
    except ValueError:
        return BYTES


def _is_float(value: str) -> bool:
    try:
        float(value)
        return True
    except ValueError:
        return False


def scan_csv(paths: list[str]) -> CsvLayout:
    """One streamed pass over every file: validate it and infer each column's type."""
    layout: CsvLayout | None = None
    numeric_seen: list[bool] = []
    for path in paths:
        rows = csv_rows(path)
        first = next(rows, None)
        if first is None:
            raise ValueError(f"{path} is empty: expected a header line and data rows")
        line, header = first
        _check_header(path, line, header)
        if layout is None:
            layout = CsvLayout(header=header, types=[INT] * len(header))
            numeric_seen = [False] * len(header)
        elif header != layout.header:
            raise ValueError(f"{path} line {line}: header {header} differs from the first file's "
                             f"{layout.header}; every input file must have the same columns")
        before = layout.rows
        width, types = len(header), layout.types
        for line, row in rows:
            if len(row) != width:
                column = (f"{width + 1} (after the last column {header[-1]!r})" if len(row) > width
                          else repr(header[len(row)]))
                raise ValueError(f"{path} line {line} column {column}: expected {width} fields "
                                 f"as in the header, found {len(row)}")
            layout.rows += 1
            for i, value in enumerate(row):
                if not value or types[i] == BYTES:
                    continue
                # a FLOAT column stays FLOAT or becomes BYTES: skip the failing int() try
                kind = (_kind(value) if types[i] == INT or len(value) > 18
                        else FLOAT if _is_float(value) else BYTES)
                if kind == BYTES:
                    types[i] = BYTES
                    layout.first_text[i] = (path, line, value)
                else:
                    numeric_seen[i] = True
                    if kind == FLOAT:
                        types[i] = FLOAT
        if layout.rows == before:
            raise ValueError(f"{path} has a header but no data rows")
    assert layout is not None, "scan_csv needs at least one file"
    return finish_scan(layout, numeric_seen)


def finish_scan(layout: CsvLayout, numeric_seen: list[bool]) -> CsvLayout:
    """Close a scan (this module's or ``csv_arrow``'s): which columns hold any value, and a
    warning for each column that had numbers but is BYTES because of one text value."""
    layout.has_values = [numeric_seen[i] or i in layout.first_text for i in range(len(layout.header))]
    for i, (path, line, value) in layout.first_text.items():
        if numeric_seen[i]:
            _log.warning("column %r is read as BYTES (text): %s line %d has %r, not a number "
                         "(or an integer beyond int64)",
                         layout.header[i], path, line, value)
    return layout


def _check_header(path: str, line: int, header: list[str]) -> None:
    seen: set[str] = set()
    for i, name in enumerate(header, start=1):
        if not name.strip():
            raise ValueError(f"{path} line {line} column {i}: empty column name in the header")
        if name in seen:
            raise ValueError(f"{path} line {line} column {i}: column name {name!r} appears twice")
        seen.add(name)


def data_rows(path: str) -> Iterator[list[str]]:
    """The data rows of one (already scanned) file, streamed."""
    rows = csv_rows(path)
    next(rows, None)
    for _, row in rows:
        yield row
