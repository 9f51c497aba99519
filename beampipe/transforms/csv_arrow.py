"""A fast, vectorized CSV path for ExampleGen: the same results as ``csv_decode``, or none.

``csv_decode`` (Python's csv module, one row at a time) is the reference: it defines the
type rule and gives the precise error messages. This module reads the same files with
pyarrow's CSV parser in newline-aligned blocks (bounded memory) and infers the same types
with regexes over whole columns. It only accepts what it can read exactly as the reference
does; anything else makes it step aside (``fast_scan`` returns None, ``blocks`` raises
``Unsupported``) and the caller uses the Python path, which then gives its usual errors.

Stepping aside for: a NUL byte, a lone ``\\r``, a quote outside a well-formed quoted field
(on one line: a quoted newline is a multi-line field), invalid UTF-8, a blank first line, a
header the reference would refuse, a row of the wrong width, no data rows, and numbers this
module does not parse itself (Python's ``int``/``float`` forms beyond ``-?digits``, decimals
and exponents: `` 3``, ``+3``, ``1_000``, ``nan``, ``inf``, ``0x5``, ...) in a
column that stays numeric. Numbers it does parse: ``-?digits`` within int64 as integers, and
``-?(digits[.digits]|.digits)([eE][+-]?digits)`` as floats (pyarrow's correctly rounded
parse, as Python's ``float``). A block's column is first tried whole: only number characters
and pyarrow's cast succeeds (cheap); else regexes find its first text value.

The types depend on every row, so the writes start after the scan; ``scan_and_keep`` keeps
the scan's parsed blocks (up to ``KEEP_BYTES``) so that the write pass parses the file only
from where that budget ran out (memory stays bounded at any size).
"""
from __future__ import annotations

import csv
import io
import re
from dataclasses import dataclass, field
from typing import Any, Iterator

from beampipe.transforms.csv_decode import BYTES, FLOAT, INT, CsvLayout, _check_header, _kind, _log, finish_scan

BLOCK_BYTES = 8 << 20
# Arrow bytes of parsed blocks the scan keeps for the write pass (all input files together):
# up to this much the CSV is parsed once; beyond it the write pass reads the rest again
KEEP_BYTES = 512 << 20
INT_PATTERN = r"^-?[0-9]{1,18}$"
DIGITS_PATTERN = r"^-?[0-9]+$"
FLOAT_PATTERN = r"^-?(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]+)?$"
_FIELD = rb'(?:"(?:[^"]|"")*"|[^",]*)'
_QUOTED_LINE = re.compile(rb"^" + _FIELD + rb"(?:," + _FIELD + rb")*\r?$")
_LINE_WITH_QUOTE = re.compile(rb'[^\n]*"[^\n]*')


def const(value: str | bytes | int) -> Any:
    """An Arrow scalar (string, binary or int64) built from buffers: ``pa.scalar`` and
    Python constants in ``pyarrow.compute`` calls import pandas (about 0.4 s) to check for
    its types."""
    import numpy as np
    import pyarrow as pa

    if isinstance(value, int):
        return pa.Array.from_buffers(pa.int64(), 1, [None, pa.py_buffer(np.array([value], np.int64))])[0]
    data = value.encode("utf-8") if isinstance(value, str) else value
    kind = pa.string() if isinstance(value, str) else pa.binary()
    offsets = np.array([0, len(data)], dtype=np.int32)
    return pa.Array.from_buffers(kind, 1, [None, pa.py_buffer(offsets), pa.py_buffer(data)])[0]


def int64_array(values: Any) -> Any:
    """A numpy integer array as an Arrow int64 array (no pandas import, see ``const``)."""
    import numpy as np
    import pyarrow as pa
    values = np.ascontiguousarray(values, dtype=np.int64)
    return pa.Array.from_buffers(pa.int64(), len(values), [None, pa.py_buffer(values)])


def as_numpy(array: Any) -> Any:
    """A null-free Arrow boolean or fixed-width numeric array as numpy, read from its buffer
    (pyarrow 10's ``to_numpy`` imports pandas; booleans go through uint8)."""
    import numpy as np
    import pyarrow as pa
    import pyarrow.compute as pc
    boolean = array.type == pa.bool_()
    if boolean:
        array = pc.cast(array, pa.uint8())
    assert array.null_count == 0, "as_numpy: nulls"
    dtype = np.dtype(array.type.to_pandas_dtype())
    values = np.frombuffer(array.buffers()[1], dtype=dtype, count=len(array),
                           offset=array.offset * dtype.itemsize)
    return values.view(bool) if boolean else values


class Unsupported(Exception):
    """The file holds something the fast path does not read exactly as ``csv_decode``."""


def _check_block(block: bytes) -> None:
    if b"\0" in block:
        raise Unsupported("NUL byte")
    if block.count(b"\r") != block.count(b"\r\n"):
        raise Unsupported("lone carriage return")
    if b'"' in block:
        for match in _LINE_WITH_QUOTE.finditer(block):
            if not _QUOTED_LINE.match(match.group()):
                raise Unsupported("quote outside a one-line quoted field")


def read_header(path: str) -> tuple[list[str], int]:
    """The header (first line) and its size in bytes; ``Unsupported`` when odd or refused."""
    with open(path, "rb") as f:
        first = f.readline()
    if not first.strip(b"\r\n"):
        raise Unsupported("empty file or blank first line")
    _check_block(first)
    try:
        header = next(csv.reader([first.decode("utf-8-sig")], strict=True))
        _check_header(path, 1, header)
    except (UnicodeDecodeError, csv.Error, ValueError, StopIteration) as err:
        raise Unsupported(str(err)) from None
    return header, len(first)


def blocks(path: str, header: list[str], block_bytes: int = 0,
           start: tuple[int, int] | None = None) -> Iterator[tuple[int, bytes, Any]]:
    """(line number of the block's first line, raw block, pyarrow Table of strings) for the
    data rows of a file, in newline-aligned blocks of about ``block_bytes`` (``BLOCK_BYTES``),
    from ``start`` (byte offset of a line start, its line number) or the first data line."""
    import pyarrow as pa
    from pyarrow import csv as pcsv

    _, skip = read_header(path)
    line = 2
    if start is not None:
        skip, line = start
    block_bytes = block_bytes or BLOCK_BYTES
    read = pcsv.ReadOptions(column_names=header, use_threads=False, block_size=1 << 24)
    parse = pcsv.ParseOptions(newlines_in_values=False, ignore_empty_lines=True)
    convert = pcsv.ConvertOptions(column_types={name: pa.string() for name in header},
                                  strings_can_be_null=False, quoted_strings_can_be_null=False)
    with open(path, "rb") as f:
        f.seek(skip)
        rest = b""
        while True:
            chunk = f.read(block_bytes)
            data = rest + chunk
            if not data:
                return
            cut = data.rfind(b"\n") + 1 if chunk else len(data)
            if cut == 0:  # no newline in a whole block: read on
                rest = data
                continue
            block, rest = data[:cut], data[cut:]
            _check_block(block)
            try:
                table = pcsv.read_csv(io.BytesIO(block), read_options=read, parse_options=parse,
                                      convert_options=convert)
            except (pa.ArrowInvalid, pa.ArrowException) as err:
                raise Unsupported(str(err)) from None
            yield line, block, table
            line += block.count(b"\n")


def prefetched(items: Iterator[Any]) -> Iterator[Any]:
    """``items``, each produced in a thread while the caller works on the one before:
    pyarrow's CSV parse releases the GIL, so the next block is parsed on another core.
    Same items, same order, errors where they occurred; the thread ends when the caller
    stops early."""
    import queue
    import threading

    ahead: queue.Queue[tuple[bool, Any]] = queue.Queue(maxsize=1)
    stop = threading.Event()
    end = object()

    def put(entry: tuple[bool, Any]) -> bool:
        while not stop.is_set():
            try:
                ahead.put(entry, timeout=0.05)
                return True
            except queue.Full:
                continue
        return False

    def produce() -> None:
        try:
            for item in items:
                if not put((True, item)):
                    break
            else:
                put((True, end))
        except BaseException as err:  # noqa: BLE001 - handed to the caller, in order
            put((False, err))
        finally:
            close = getattr(items, "close", None)
            if close is not None:
                close()

    worker = threading.Thread(target=produce, name="csv-parse", daemon=True)
    worker.start()
    try:
        while True:
            ok, item = ahead.get()
            if not ok:
                raise item
            if item is end:
                return
            yield item
    finally:
        stop.set()
        worker.join()


def line_of_row(block: bytes, first_line: int, row: int) -> int:
    """The file line of data row ``row`` of a block (a blank line, ``\n`` or ``\r\n``, holds no row)."""
    import numpy as np

    raw = np.frombuffer(block, dtype=np.uint8)
    ends = np.flatnonzero(raw == 0x0A)
    if not len(ends) or ends[-1] != len(raw) - 1:  # the file's last line, without a newline
        ends = np.append(ends, len(raw))
    starts = np.concatenate(([0], ends[:-1] + 1))
    size = ends - starts
    blank = (size == 0) | ((size == 1) & (raw[np.minimum(starts, len(raw) - 1)] == 0x0D))
    return first_line + int(np.flatnonzero(~blank)[row])


def _scan_column(column: Any) -> tuple[str, bool, int | None]:
    """(kind among INT/FLOAT/BYTES, numeric value before the first text?, row of the first
    text) for one block of one column; ``Unsupported`` for a number not parsed here."""
    import numpy as np
    import pyarrow.compute as pc

    filled = pc.greater(pc.binary_length(column), const(0))
    if not pc.any(filled).as_py():
        return INT, False, None
    quick = _quick_kind(column, filled)
    if quick is not None:
        return quick, True, None
    is_int = pc.match_substring_regex(column, INT_PATTERN)
    other = pc.and_(filled, pc.invert(is_int))
    if not pc.any(other).as_py():
        return INT, True, None
    # a long digit string is an int beyond int64 (BYTES) or a 19-digit int: never a float here
    plain = pc.and_(pc.match_substring_regex(column, FLOAT_PATTERN),
                    pc.invert(pc.match_substring_regex(column, DIGITS_PATTERN)))
    odd = pc.and_(other, pc.invert(plain))
    if not pc.any(odd).as_py():
        return FLOAT, True, None
    rows = np.flatnonzero(as_numpy(odd))
    for row in rows.tolist():
        value = column[row].as_py()
        if _kind(value) != BYTES:
            raise Unsupported(f"number {value!r} not parsed by the fast path")
        return BYTES, bool(pc.any(filled.slice(0, row)).as_py()) if row else False, row
    raise AssertionError("unreachable")


def _chars(column: Any) -> bytes:
    """The bytes of the column's values but digits and ``-`` (b"" when there are none else)."""
    import numpy as np

    _, offsets, data = column.buffers()
    if data is None:
        return b""
    bounds = np.frombuffer(offsets, dtype=np.int32, count=len(column) + 1, offset=4 * column.offset)
    return bytes(memoryview(data)[int(bounds[0]):int(bounds[-1])]).translate(None, b"0123456789-")


def _quick_kind(column: Any, filled: Any) -> str | None:
    """INT or FLOAT when pyarrow parses every value and the values use only the characters of
    the number forms both it and Python read alike (pyarrow alone takes ``0x5``); else None
    (then the regexes decide). A digit string of 19+ characters is left to them too: beyond
    int64 it is BYTES, not FLOAT."""
    import pyarrow as pa
    import pyarrow.compute as pc

    other = _chars(column)
    if other.translate(None, b".eE+"):
        return None
    values = pc.if_else(filled, column, const("0"))
    if not other:
        try:
            pc.cast(values, pa.int64())
            return INT
        except pa.ArrowInvalid:
            pass
    if pc.max(pc.binary_length(column)).as_py() > 18:
        return None
    try:
        pc.cast(values, pa.float64())
        return FLOAT
    except pa.ArrowInvalid:
        return None


@dataclass
class Kept:
    """A file's first parsed blocks, kept by the scan so the write pass need not parse them
    again, and where the write pass reads on (byte offset, line; None: nothing is left)."""

    tables: list[Any] = field(default_factory=list)
    resume: tuple[int, int] | None = None


def fast_scan(paths: list[str]) -> CsvLayout | None:
    """``csv_decode.scan_csv``'s layout, vectorized; None when the Python path must scan
    (then it also gives the error, if any)."""
    scanned = scan_and_keep(paths, 0)
    return scanned[0] if scanned else None


def scan_and_keep(paths: list[str], keep_bytes: int) -> tuple[CsvLayout, dict[str, Kept]] | None:
    """``fast_scan``, also keeping the parsed blocks (the first ``keep_bytes`` of Arrow data
    over all files) for the write pass: path -> ``Kept``, for the files it kept blocks of."""
    try:
        return _scan(paths, keep_bytes)
    except Unsupported as why:
        _log.debug("CSV fast path not used: %s", why)
        return None


def _scan(paths: list[str], keep_bytes: int) -> tuple[CsvLayout, dict[str, Kept]]:
    layout: CsvLayout | None = None
    numeric_seen: list[bool] = []
    kept: dict[str, Kept] = {}
    for path in paths:
        header, offset = read_header(path)
        if layout is None:
            layout = CsvLayout(header=header, types=[INT] * len(header))
            numeric_seen = [False] * len(header)
        elif header != layout.header:
            raise Unsupported("header differs from the first file's")
        before = layout.rows
        keeping = Kept() if keep_bytes > 0 else None
        if keeping is not None:
            kept[path] = keeping
        for first_line, block, table in prefetched(blocks(path, header)):
            if keeping is not None and keeping.resume is None:
                if table.nbytes <= keep_bytes:
                    keeping.tables.append(table)
                    keep_bytes -= table.nbytes
                else:  # over budget: the write pass parses from this block on
                    keeping.resume = (offset, first_line)
            offset += len(block)
            layout.rows += table.num_rows
            for i in range(len(header)):
                if layout.types[i] == BYTES:
                    continue
                column = table.column(i).combine_chunks()
                kind, numeric, text_row = _scan_column(column)
                numeric_seen[i] = numeric_seen[i] or numeric
                if kind == BYTES:
                    assert text_row is not None
                    layout.types[i] = BYTES
                    layout.first_text[i] = (path, line_of_row(block, first_line, text_row),
                                            column[text_row].as_py())
                elif kind == FLOAT:
                    layout.types[i] = FLOAT
        if layout.rows == before:
            raise Unsupported("no data rows")
        if keeping is not None and not keeping.tables:
            del kept[path]
    assert layout is not None, "fast_scan needs at least one file"
    return finish_scan(layout, numeric_seen), kept
