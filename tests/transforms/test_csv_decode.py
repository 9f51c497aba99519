"""CSV validation and type inference: every bad file gives one message naming file, line, column."""
from __future__ import annotations

import pytest

from beampipe.transforms.csv_decode import BYTES, FLOAT, INT, data_rows, scan_csv


def write(tmp_path, text: str | bytes, name: str = "data.csv") -> str:
    path = tmp_path / name
    path.write_bytes(text if isinstance(text, bytes) else text.encode())
    return str(path)


def test_types_inferred_from_all_rows(tmp_path):
    path = write(tmp_path, "a,b,c,d\n1,1.5,x,\n2,3,y,7\n\n3,,z,8\n")
    layout = scan_csv([path])
    assert layout.header == ["a", "b", "c", "d"]
    assert layout.types == [INT, FLOAT, BYTES, INT]
    assert layout.rows == 3  # the blank line is skipped
    assert list(data_rows(path)) == [["1", "1.5", "x", ""], ["2", "3", "y", "7"], ["3", "", "z", "8"]]


def test_text_in_a_numeric_column_makes_it_bytes(tmp_path, caplog):
    path = write(tmp_path, "n\n1\n2\nabc\n4\n")
    assert scan_csv([path]).types == [BYTES]
    assert "line 4" in caplog.text and "'abc'" in caplog.text


def test_quoted_fields_and_bom(tmp_path):
    path = write(tmp_path, '\ufeffname,note\n"Smith, J","multi\nline"\n'.encode())
    layout = scan_csv([path])
    assert layout.header == ["name", "note"] and layout.rows == 1
    assert list(data_rows(path)) == [["Smith, J", "multi\nline"]]


@pytest.mark.parametrize("content,expected", [
    (b"", ["is empty"]),
    (b"a,b\n", ["header but no data rows"]),
    (b"a,b\n1,2\n3\n", ["line 3", "column 'b'", "expected 2 fields", "found 1"]),
    (b"a,b\n1,2\n3,4,5\n", ["line 3", "expected 2 fields", "found 3"]),
    (b"a,b\n1,2\n3,caf\xe9\n", ["line 3", "column 2", "not valid UTF-8"]),
    (b"a,a\n1,2\n", ["line 1", "column 2", "appears twice"]),
    (b"a,b\n1,2\n3,4\x005\n", ["line 3", "column 2", "contains a NUL byte"]),
    ("a,b\n1,2\n".encode("utf-16-le"), ["line 1", "column 1", "contains a NUL byte", "UTF-16"]),
    (b"a,,c\n1,2,3\n", ["line 1", "column 2", "empty column name"]),
])
def test_bad_csv_one_clear_message(tmp_path, content, expected):
    path = write(tmp_path, content)
    with pytest.raises(ValueError) as err:
        scan_csv([path])
    message = str(err.value)
    assert path in message
    for part in expected:
        assert part in message, message


def test_files_must_share_the_header(tmp_path):
    one = write(tmp_path, "a,b\n1,2\n", "one.csv")
    two = write(tmp_path, "a,c\n1,2\n", "two.csv")
    with pytest.raises(ValueError, match="two.csv line 1: header"):
        scan_csv([one, two])


def test_column_types_leave_out_empty_columns(tmp_path):
    layout = scan_csv([write(tmp_path, "a,b,c\n1,,x\n2,,3\n")])
    assert layout.column_types() == {"a": INT, "c": BYTES}
    assert layout.where_text("c").endswith("line 2 has 'x'") and layout.where_text("a") == ""
