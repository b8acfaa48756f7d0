"""CSV cells a spreadsheet will not run: portal.csvsafe, shared by every export."""

import csv
import io

import pytest

from portal.csvsafe import safe_cell, safe_row, stream_csv


@pytest.mark.parametrize(
    "text",
    ["=cmd|' /C calc'!A0", "+1+1", "-2+3", "@SUM(A1:A2)", "\t=1+1", "\r=1+1"],
)
def test_it_quotes_text_a_spreadsheet_would_run(text):
    assert safe_cell(text) == "'" + text


@pytest.mark.parametrize("text", ["alice@acme.example", "a=b", "", "Acme Corp", "'quoted"])
def test_it_leaves_other_text_alone(text):
    assert safe_cell(text) == text


def test_it_leaves_numbers_we_wrote_as_numbers():
    assert safe_cell(-5) == -5
    assert safe_cell(2.5) == 2.5


def test_it_writes_none_as_an_empty_cell_and_other_values_as_text():
    assert safe_row([None, True, "=x"]) == ["", "True", "'=x"]


def test_it_streams_a_whole_file_line_by_line():
    lines = list(stream_csv(["name", "note"], [["=evil", "a, b"], ["ok", "-1"]]))

    assert len(lines) == 3
    assert list(csv.reader(io.StringIO("".join(lines)))) == [
        ["name", "note"],
        ["'=evil", "a, b"],
        ["ok", "'-1"],
    ]
