"""CSV cells that a spreadsheet will not run as formulas (CSV injection).

Excel, LibreOffice and Google Sheets treat a cell that starts with `=`, `+`, `-` or `@`
as a formula, and some also after a leading tab or carriage return. Our exports carry
text that outsiders chose (a log's carrier, a directory name, a target's label), so
every text cell that starts with one of those gets a single quote in front: the
spreadsheet then shows the text as text. Numbers we wrote ourselves pass unchanged, so
a negative count stays a number.

Only free text needs the guard. A column whose values we wrote or checked (a validated
E.164 phone, a masked phone, a timestamp, a country code, a message type) passes
unchanged: `safe_row(values, guarded)` names, column by column, which cells are free
text. Quoting a phone's leading `+` (`'+15132366992`) broke every SIEM that joins on it.

`stream_csv` yields a file line by line for a StreamingHttpResponse, with every cell
made safe, so a view never has to remember to.
"""

import csv
from collections.abc import Iterable, Iterator, Sequence
from typing import Any

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def safe_cell(value: Any) -> Any:
    if value is None:
        return ""
    if isinstance(value, int | float) and not isinstance(value, bool):
        return value
    text = value if isinstance(value, str) else str(value)
    if text.startswith(FORMULA_STARTS):
        return "'" + text
    return text


def safe_row(values: Iterable[Any], guarded: Sequence[bool] | None = None) -> list[Any]:
    """Every cell made safe; or, with `guarded`, only the cells whose column is free
    text (True), the others left as they are (None as an empty cell)."""
    if guarded is None:
        return [safe_cell(value) for value in values]
    return [
        safe_cell(value) if guard else "" if value is None else value
        for value, guard in zip(values, guarded, strict=True)
    ]


class _Echo:
    """A file whose write() hands the line back, so csv.writer can feed a generator."""

    def write(self, value: str) -> str:
        return value


def stream_csv(header: Iterable[Any], rows: Iterable[Iterable[Any]]) -> Iterator[str]:
    writer = csv.writer(_Echo())
    yield writer.writerow(safe_row(header))
    for row in rows:
        yield writer.writerow(safe_row(row))
