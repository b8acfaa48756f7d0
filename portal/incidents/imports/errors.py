"""What went wrong with an import, in words the operator can act on.

Two kinds: `ImportRefusedError` refuses a whole file (wrong columns, not the Duo shape,
empty) before anything loads; `ErrorReport` collects the rows that were not imported,
each with its line (or Duo item) and reason. The report is spilled to a temporary file
as it grows, so a dump that is wrong on every one of its ten million lines costs disk,
not memory; only the first few stay in memory, for the batch page.
"""

import codecs
import csv
import io
import json
import re
import tempfile
from collections.abc import Iterator
from typing import IO, Any

from django.core.files import File
from django.utils.translation import gettext_noop

from portal.csvsafe import safe_row, stream_csv
from portal.incidents.reasons import reason_data, reason_text

FIRST_ERRORS = 20
MAX_GROUPS = 50  # kinds of reason kept apart; a file wrong in more ways is wrong enough
REPORT_HEADER = ("line", "message_id", "account_id", "reason")
# As stored: each reason's message and parameters beside its English text, for the
# download to write the reason in the reader's language (report_csv).
STORED_HEADER = (*REPORT_HEADER, "reason_data")
_DIGIT = re.compile(r"\d")
_QUOTED = re.compile(r'"[^"]*"')
OTHER_REASONS = gettext_noop("other reasons")


class ImportRefusedError(Exception):
    """The file cannot be imported at all; the message says why and what to fix."""

    def __init__(self, message: str):
        super().__init__(message)
        self.message = message


def phone_masked(raw: str) -> str:
    """A phone as written in the dump, with every digit but the last four hidden: enough
    for the operator to find the row, not enough to put a number in a report."""
    text = raw.strip()[:40]
    if "@" in text:
        return "[hidden]"
    digits = len(_DIGIT.findall(text))
    if digits <= 4:
        return text
    hidden = digits - 4

    def mask(match: re.Match) -> str:
        nonlocal hidden
        if hidden > 0:
            hidden -= 1
            return "•"
        return match.group()

    return _DIGIT.sub(mask, text)


def short(value: Any, limit: int = 40) -> str:
    """A value from the dump quoted in a reason, cut so that one absurd cell cannot
    make the report unreadable."""
    text = str(value)
    return text if len(text) <= limit else text[: limit - 1] + "…"


class ErrorReport:
    """The rows not imported: counted, the first `FIRST_ERRORS` kept for the page, and
    every one written to a CSV file (`line, message_id, account_id, reason`)."""

    def __init__(self, *, item_label: str = ""):
        # Duo logs are one JSON document: their "line" is the item's index, and says so.
        self.item_label = item_label
        self.count = 0
        self.first: list[dict[str, Any]] = []
        # reason with the quoted values taken out -> [count, first line, stored reason]
        self._groups: dict[str, list] = {}
        # Bytes underneath, so any storage backend (S3 included) can stream it.
        self._file = tempfile.TemporaryFile("w+b")  # noqa: SIM115 (kept open until the report is stored)
        self._text = io.TextIOWrapper(self._file, encoding="utf-8", newline="")
        self._writer = csv.writer(self._text)
        self._writer.writerow(STORED_HEADER)

    def add(self, line: int, message_id: Any, account_id: Any, reason: str) -> None:
        where: int | str = f"{self.item_label} {line}" if self.item_label else line
        message_id = short(message_id or "", 100)
        account_id = short(account_id or "", 40)
        self.count += 1
        # Grouped by the English text without the file's values: the same in every
        # language, so a group is one kind of problem whoever reads it.
        kind = _QUOTED.sub("“…”", reason)
        group = self._groups.get(kind)
        if group is not None:
            group[0] += 1
        elif len(self._groups) < MAX_GROUPS:
            self._groups[kind] = [1, where, reason_data(reason, blank_quoted=True)]
        else:
            other = self._groups.get(OTHER_REASONS)
            if other is None:
                other = self._groups[OTHER_REASONS] = [0, where, {"msgid": OTHER_REASONS}]
            other[0] += 1
        if len(self.first) < FIRST_ERRORS:
            self.first.append(
                {
                    "line": where,
                    "message_id": message_id,
                    "account_id": account_id,
                    "reason": str(reason),
                    **reason_data(reason),
                }
            )
        # Cells come from the dump: made safe against spreadsheet formulas.
        self._writer.writerow(
            [*safe_row((where, message_id, account_id, reason)), json.dumps(reason_data(reason))]
        )

    @property
    def groups(self) -> list[dict[str, Any]]:
        """Why rows were not imported, grouped by reason, the most common first: each
        with its count and the first line it was seen on."""
        ranked = sorted(self._groups.items(), key=lambda item: -item[1][0])
        return [
            {"reason": kind, "count": count, "line": line, **data}
            for kind, (count, line, data) in ranked
        ]

    def as_file(self) -> File:
        """The whole report, rewound, for the storage API to stream."""
        self._text.flush()
        self._file.seek(0)
        return File(self._file)

    def close(self) -> None:
        self._text.close()


def report_csv(stored: IO[bytes]) -> Iterator[bytes]:
    """The report to download. Stored with each reason's message and parameters: its
    rows as CSV under REPORT_HEADER, each reason in the active language and every cell
    guarded against formulas (a translated reason quotes the dump's values again).
    Stored before (four columns, English): its bytes as they are."""
    first = stored.readline()
    if next(csv.reader([first.decode("utf-8")]), []) != list(STORED_HEADER):
        yield first
        yield from iter(lambda: stored.read(1 << 16), b"")
        return

    def rows() -> Iterator[list[str]]:
        for *cells, data in csv.reader(codecs.getreader("utf-8")(stored)):
            if data:
                cells[-1] = reason_text(json.loads(data))
            yield cells

    for line in stream_csv(REPORT_HEADER, rows()):
        yield line.encode()
