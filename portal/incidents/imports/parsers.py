"""Reading dumps: CSV, JSON Lines and Duo telephony JSON, as a stream of rows.

Every format is read from the stored file in binary, a chunk at a time, so memory does
not grow with the file. Each reader yields `Row` tuples (the fields as written, with
the line, or for Duo the item, they came from) and `Problem`s for what cannot be read
at all; `RowChecker` then turns a row into the values loaded, or into a problem.

The readers see UTF-8: a file in another encoding is found out on upload and handed
to them through `encodings.Utf8Reader`. A line that is still not UTF-8 (a batch stored
before encodings were detected) refuses the whole file rather than drop the line: a
dump that lost its accented rows would look complete and be wrong.
"""

import codecs
import collections
import csv
import io
import itertools
import json
import re
from collections.abc import Iterable, Iterator
from datetime import UTC, datetime, timedelta
from operator import itemgetter
from typing import Any, BinaryIO, NamedTuple

from django.utils.translation import gettext_noop

from portal.incidents.imports.errors import ImportRefusedError, short
from portal.incidents.imports.phones import phone_normalized
from portal.incidents.imports.regions import region_code
from portal.incidents.reasons import Reason

CHUNK = 1 << 20
MAX_LINE = 16 << 20  # a dump's line is a few hundred bytes: longer is the wrong file
BOM = codecs.BOM_UTF8

REQUIRED = (
    "message_id",
    "account_id",
    "sent_at",
    "phone",
    "carrier",
    "country",
    "state",
    "message_type",
)
OPTIONAL = ("context", "credits")
DUO_REQUIRED = ("telephony_id", "ts", "phone", "type")
DUO_FIELDS = (*DUO_REQUIRED, "context", "credits")

PHONE_NOTE = "vigil_phone_note"  # in `extra`, why a number only possible was kept
COUNTRY_AS_WRITTEN = "vigil_country_as_written"  # in `extra`, a hint the number belies
MESSAGE_TYPES = {"sms": "sms", "voice": "voice", "phone": "voice"}
MAX_TEXT = 100  # provider_message_id, carrier, region and context columns
MAX_CREDITS = 2**31 - 1
# Times from 2000 to 2100: outside that, Unix seconds are milliseconds, or the value is
# not a time at all (and a year 1 with an offset would not even convert to UTC).
EPOCH_MIN, EPOCH_MAX = 946_684_800, 4_102_444_800
YEAR_MIN, YEAR_MAX = 2000, 2100


_CR_ONLY = Reason(
    gettext_noop(
        "The file's lines end with a carriage return alone (as classic Mac OS wrote them): "
        "save it with LF or CRLF line endings and upload it again."
    )
)


class Row(NamedTuple):
    """One record as written. `extra` is already JSON text."""

    line: int
    message_id: Any
    account_id: Any
    sent_at: Any
    phone: Any
    carrier: Any
    country: Any
    region: Any
    message_type: Any
    context: Any
    credits: Any
    extra: str


class Problem(NamedTuple):
    line: int
    message_id: Any
    account_id: Any
    reason: str
    unknown_account: bool = False


# --- Lines ------------------------------------------------------------------------


class LineSource:
    """The lines of a binary stream as text, split on "\\n" only (a "\\r" before it
    stays, for the csv module to take off), without a leading BOM.

    `bytes_read` says how far into the file reading is, for progress. Lines that are
    not UTF-8, or hold NUL bytes, come out with U+FFFD in place of what could not be
    read, and their numbers and reasons wait in `bad_lines` for the reader to report.
    """

    def __init__(self, stream: BinaryIO, *, chunk_size: int = CHUNK):
        self.stream = stream
        self.chunk_size = chunk_size
        self.bytes_read = 0
        self.bad_lines: collections.deque[tuple[int, str]] = collections.deque()

    def __iter__(self) -> Iterator[str]:
        # chain() over StringIO objects: the line splitting runs in C.
        return itertools.chain.from_iterable(self._blocks())

    def _blocks(self) -> Iterator[Iterable[str]]:
        pending = b""
        lines_before = 0
        first = True
        while data := self.stream.read(self.chunk_size):
            self.bytes_read = getattr(self.stream, "bytes_read", self.bytes_read + len(data))
            if pending:
                data = pending + data
            if first and len(data) >= len(BOM):
                first = False
                data = data.removeprefix(BOM)
            cut = data.rfind(b"\n") + 1
            if not cut:
                if b"\r" in data:
                    raise ImportRefusedError(_CR_ONLY)
                if len(data) > MAX_LINE:
                    raise ImportRefusedError(
                        Reason(
                            gettext_noop(
                                "Line %(line)s is longer than %(size)s MB: this does not look "
                                "like a log dump."
                            ),
                            line=lines_before + 1,
                            size=MAX_LINE >> 20,
                        )
                    )
                pending = data
                continue
            block, pending = data[:cut], data[cut:]
            yield self._decoded(block, lines_before)
            lines_before += block.count(b"\n")
        if pending:
            yield self._decoded(pending.removeprefix(BOM) if first else pending, lines_before)

    def _decoded(self, block: bytes, lines_before: int) -> Iterable[str]:
        try:
            text = block.decode("utf-8")
        except UnicodeDecodeError:
            pass
        else:
            if "\x00" not in text:
                return io.StringIO(text, newline="\n")
        lines = []
        for number, part in enumerate(block.split(b"\n"), start=lines_before + 1):
            try:
                line = part.decode("utf-8")
            except UnicodeDecodeError:
                raise ImportRefusedError(
                    Reason(
                        gettext_noop(
                            "Line %(line)s is not UTF-8 text, although the file was read as "
                            "UTF-8: nothing was loaded. Upload the file again, so its encoding "
                            "is found."
                        ),
                        line=number,
                    )
                ) from None
            if "\x00" in line:
                self.bad_lines.append(
                    (number, Reason(gettext_noop("holds NUL bytes: binary data, not text")))
                )
            lines.append(line.replace("\x00", "\ufffd"))
        return io.StringIO("\n".join(lines), newline="\n")

    def bad_line_in(self, first: int, last: int) -> str:
        """The reason the first unreadable line in first..last could not be read, if
        any; forgets the unreadable lines up to `last`."""
        reason = ""
        while self.bad_lines and self.bad_lines[0][0] <= last:
            number, why = self.bad_lines.popleft()
            if number >= first and not reason:
                reason = why
        return reason


# --- CSV --------------------------------------------------------------------------


class CsvHeader(NamedTuple):
    delimiter: str
    width: int
    fields: itemgetter  # the REQUIRED and OPTIONAL columns present, in that order
    optional_missing: tuple[str, ...]
    extra_names: tuple[str, ...]
    extra_fields: itemgetter | None
    account_index: int
    message_index: int


def csv_header(line: str) -> CsvHeader:
    """The header line, checked: the required columns present (case and surrounding
    blanks do not matter), none twice. Comma or tab, whichever the header uses."""
    line = line.rstrip("\r\n")
    if not line.strip():
        raise ImportRefusedError(
            Reason(gettext_noop("The first line is empty: it should name the columns."))
        )
    if "\r" in line:
        raise ImportRefusedError(_CR_ONLY)
    delimiter = "\t" if line.count("\t") > line.count(",") else ","
    try:
        header = next(csv.reader([line], delimiter=delimiter, strict=True))
    except csv.Error as error:
        raise ImportRefusedError(
            Reason(gettext_noop("The first line cannot be read as CSV (%(error)s)."), error=error)
        ) from None
    names = [name.strip().casefold() for name in header]
    missing = [name for name in REQUIRED if name not in names]
    if missing:
        hint: str = ""
        if line.lstrip().startswith(("{", "[")):
            hint = Reason(
                gettext_noop(" It looks like JSON: choose JSON Lines or Duo as the format.")
            )
        raise ImportRefusedError(
            Reason(
                gettext_noop(
                    "The file is missing required columns: %(missing)s. The first line must "
                    "name the columns %(required)s (and may add %(optional)s and others)."
                    "%(hint)s"
                ),
                missing=", ".join(missing),
                required=", ".join(REQUIRED),
                optional=", ".join(OPTIONAL),
                hint=hint,
            )
        )
    twice = sorted({name for name in names if names.count(name) > 1 and name})
    if twice:
        raise ImportRefusedError(
            Reason(
                gettext_noop("The header names a column more than once: %(names)s."),
                names=", ".join(twice),
            )
        )
    present = [name for name in (*REQUIRED, *OPTIONAL) if name in names]
    extra = [(index, name) for index, name in enumerate(names) if name not in present]
    return CsvHeader(
        delimiter=delimiter,
        width=len(names),
        fields=itemgetter(*(names.index(name) for name in present)),
        optional_missing=tuple(name for name in OPTIONAL if name not in names),
        extra_names=tuple(name or f"column_{index + 1}" for index, name in extra),
        extra_fields=itemgetter(*(index for index, _ in extra)) if extra else None,
        account_index=names.index("account_id"),
        message_index=names.index("message_id"),
    )


def csv_rows(source: LineSource) -> Iterator[Row | Problem]:
    lines = iter(source)
    header = csv_header(next(lines, ""))
    # strict: a quote that never closes is an error ("unexpected end of data"), not a
    # field that silently swallows the rest of the file.
    reader = csv.reader(lines, delimiter=header.delimiter, strict=True)
    width = header.width
    fields = header.fields
    # So that every row has context and credits, in that order, present or not.
    absent: tuple[str, ...] = ("",) * len(header.optional_missing)
    context_only_missing = header.optional_missing == ("context",)
    extra_names, extra_fields = header.extra_names, header.extra_fields
    extras: dict[Any, str] = {}
    single_extra = len(extra_names) == 1
    account_index, message_index = header.account_index, header.message_index
    bad_lines = source.bad_lines
    last = 1  # the header's line
    while True:
        try:
            for row in reader:
                first, last = last + 1, reader.line_num + 1
                if bad_lines:
                    reason = source.bad_line_in(first, last)
                    if reason:
                        yield Problem(first, "", "", reason)
                        continue
                if len(row) != width:
                    if not row or (len(row) == 1 and not row[0].strip()):
                        continue  # a blank line
                    yield Problem(
                        first,
                        row[message_index] if len(row) > message_index else "",
                        row[account_index] if len(row) > account_index else "",
                        _spanning(
                            first,
                            last,
                            Reason(
                                gettext_noop("has %(count)s fields where the header has %(width)s"),
                                count=len(row),
                                width=width,
                            ),
                        ),
                    )
                    continue
                values = fields(row)
                if last > first and any("\n" in value for value in values[:8]):
                    # A quote opened in one row and closed in another joins them; a
                    # line break inside a required column is never the provider's.
                    yield Problem(
                        first,
                        row[message_index],
                        row[account_index],
                        _spanning(
                            first,
                            last,
                            Reason(gettext_noop("a required column holds a line break")),
                        ),
                    )
                    continue
                if context_only_missing:
                    values = (*values[:8], "", values[8])
                elif absent:
                    values = (*values, *absent)
                if extra_fields is None:
                    extra = "{}"
                else:
                    key = extra_fields(row)
                    extra = extras.get(key)
                    if extra is None:
                        extra = json.dumps(
                            {extra_names[0]: key}
                            if single_extra
                            else dict(zip(extra_names, key, strict=True))
                        )
                        if len(extras) < 10_000:
                            extras[key] = extra
                yield (first, *values, extra)  # a Row, without the namedtuple cost
            return
        except csv.Error as error:
            first, last = last + 1, reader.line_num + 1
            source.bad_line_in(first, last)
            problem = Reason(gettext_noop("cannot be read as CSV (%(error)s)"), error=str(error))
            yield Problem(first, "", "", _spanning(first, last, problem))


def _spanning(first: int, last: int, problem: Reason) -> Reason:
    """Where one record took more than its line: a quote opened on `first` that closes
    (or fails) on `last` takes every line between into the record, so the reason names
    them all, and none of them goes missing without a word."""
    if last <= first:
        return problem
    return Reason(
        gettext_noop(
            "lines %(first)s-%(last)s read as one record (a quoted field runs across them): "
            "%(problem)s"
        ),
        first=first,
        last=last,
        problem=problem,
    )


# --- JSON Lines -------------------------------------------------------------------


def jsonl_record(text: str) -> dict | str:
    """A line as a JSON object, or why it is not one."""
    try:
        value = json.loads(text)
    except ValueError as error:
        return Reason(gettext_noop("is not JSON (%(error)s)"), error=error.args[0].split(":")[0])
    if not isinstance(value, dict):
        return Reason(gettext_noop("is not a JSON object"))
    return value


def jsonl_rows(source: LineSource) -> Iterator[Row | Problem]:
    keys = frozenset((*REQUIRED, *OPTIONAL))
    checked_first = False
    for number, text in enumerate(source, start=1):
        if source.bad_lines:
            reason = source.bad_line_in(number, number)
            if reason:
                yield Problem(number, "", "", reason)
                continue
        if not text.strip():
            continue
        record = jsonl_record(text)
        if not checked_first:
            jsonl_check_first(record)
            checked_first = True
        if isinstance(record, str):
            yield Problem(number, "", "", record)
            continue
        message_id, account_id = record.get("message_id", ""), record.get("account_id", "")
        missing = [name for name in REQUIRED if name not in record]
        if missing:
            yield Problem(number, message_id, account_id, _misses(missing))
            continue
        other = {key: value for key, value in record.items() if key not in keys}
        yield Row(
            number,
            message_id,
            account_id,
            record["sent_at"],
            record["phone"],
            record["carrier"],
            record["country"],
            record["state"],
            record["message_type"],
            record.get("context") or "",
            record.get("credits"),
            json.dumps(other) if other else "{}",
        )


def _misses(missing: list[str]) -> Reason:
    return Reason(gettext_noop("misses %(fields)s"), fields=", ".join(missing))


def jsonl_check_first(record: dict | str) -> None:
    if isinstance(record, str):
        raise ImportRefusedError(
            Reason(
                gettext_noop(
                    "The first line %(problem)s: a JSON Lines dump has one JSON object a line."
                ),
                problem=record,
            )
        )
    missing = [name for name in REQUIRED if name not in record]
    if missing:
        raise ImportRefusedError(
            Reason(
                gettext_noop(
                    "The first object is missing required fields: %(missing)s. Every line "
                    "must have %(required)s (and may add %(optional)s and others)."
                ),
                missing=", ".join(missing),
                required=", ".join(REQUIRED),
                optional=", ".join(OPTIONAL),
            )
        )


# --- Duo telephony log v2 ---------------------------------------------------------


class DuoBrokenError(Exception):
    """The JSON stops making sense here; nothing after this point can be read."""

    def __init__(self, reason: Reason):
        super().__init__(reason)
        self.reason = reason


class _JsonStream:
    """Just enough of a streaming JSON reader for the Duo envelope: whitespace and
    punctuation by hand, and every value (an item, a key) through json's own decoder,
    so only one item at a time is ever in memory."""

    _BLANK = re.compile(r"[ \t\n\r]*")
    _DECODER = json.JSONDecoder()

    def __init__(self, stream: BinaryIO, *, chunk_size: int = CHUNK):
        self.stream = stream
        self.chunk_size = chunk_size
        self.decoder = codecs.getincrementaldecoder("utf-8")()
        self.buffer = ""
        self.position = 0
        self.eof = False
        self.bytes_read = 0

    def _fill(self) -> bool:
        if self.eof:
            return False
        data = self.stream.read(self.chunk_size)
        try:
            text = self.decoder.decode(data, final=not data)
        except UnicodeDecodeError:
            raise DuoBrokenError(
                Reason(
                    gettext_noop("not UTF-8 text (at byte %(byte)s or soon after)"),
                    byte=f"{self.bytes_read + 1:,}",
                )
            ) from None
        if not self.bytes_read:
            text = text.removeprefix("\ufeff")
        self.bytes_read = getattr(self.stream, "bytes_read", self.bytes_read + len(data))
        self.eof = not data
        self.buffer = self.buffer[self.position :] + text
        self.position = 0
        return True

    def peek(self) -> str:
        while True:
            self.position = self._BLANK.match(self.buffer, self.position).end()
            if self.position < len(self.buffer):
                return self.buffer[self.position]
            if not self._fill():
                return ""

    def take(self, char: str) -> bool:
        if self.peek() == char:
            self.position += 1
            return True
        return False

    def value(self) -> Any:
        self.peek()
        while True:
            try:
                value, end = self._DECODER.raw_decode(self.buffer, self.position)
            except json.JSONDecodeError as error:
                if self.eof or len(self.buffer) - self.position > MAX_LINE:
                    raise DuoBrokenError(
                        Reason(gettext_noop("not valid JSON (%(error)s)"), error=error.msg)
                    ) from None
            else:
                # A value that ends where the buffer does may go on (a number).
                if end < len(self.buffer) or self.eof:
                    self.position = end
                    return value
            self._fill()

    def keys(self) -> Iterator[str]:
        """The keys of the object whose "{" was just taken; the caller reads each
        key's value before asking for the next key."""
        if self.take("}"):
            return
        while True:
            if self.peek() != '"':
                raise DuoBrokenError(Reason(gettext_noop("not valid JSON (expected a key)")))
            key = self.value()
            if not self.take(":"):
                raise DuoBrokenError(Reason(gettext_noop("not valid JSON (expected ':')")))
            yield key
            if self.take(","):
                continue
            if self.take("}"):
                return
            raise DuoBrokenError(Reason(gettext_noop("not valid JSON (expected ',' or '}')")))

    def items(self) -> Iterator[tuple[int, Any]]:
        """The values of the array whose "[" is next, numbered from 1."""
        self.take("[")
        if self.take("]"):
            return
        for index in itertools.count(1):
            yield index, self.value()
            if self.take(","):
                continue
            if self.take("]"):
                return
            raise DuoBrokenError(Reason(gettext_noop("not valid JSON (expected ',' or ']')")))


_EMPTY = Reason(gettext_noop("The file is empty."))


def duo_items(reader: _JsonStream) -> Iterator[tuple[int, Any]]:
    """The items of `{"stat": "OK", "response": {"items": [...]}}`, or of a bare list
    of items. Raises ImportRefusedError when the document is not that shape, and
    DuoBrokenError when it stops being JSON."""
    start = reader.peek()
    if not start:
        raise ImportRefusedError(_EMPTY)
    if start == "[":
        yield from reader.items()
        return
    if start != "{":
        head = reader.buffer[reader.position : reader.position + 12]
        raise ImportRefusedError(
            Reason(
                gettext_noop(
                    "This is not a Duo telephony log (v2): it is not JSON (it starts with "
                    "%(head)s)."
                ),
                head=repr(head),
            )
        )
    reader.take("{")
    found = False
    for key in reader.keys():  # noqa: SIM118 (a streaming JSON reader, not a dict)
        if key == "stat":
            stat = reader.value()
            if stat != "OK":
                raise ImportRefusedError(
                    Reason(
                        gettext_noop(
                            'The Duo response says stat "%(value)s", not "OK": it holds no logs.'
                        ),
                        value=short(stat),
                    )
                )
        elif key == "response":
            kind = reader.peek()
            if kind == "[":
                found = True
                yield from reader.items()
            elif kind == "{":
                reader.take("{")
                for inner in reader.keys():  # noqa: SIM118 (the streaming reader)
                    if inner == "items" and reader.peek() == "[":
                        found = True
                        yield from reader.items()
                    else:
                        reader.value()
            else:
                reader.value()
        else:
            reader.value()
    if not found:
        raise ImportRefusedError(
            Reason(
                gettext_noop(
                    'This is not a Duo telephony log (v2): it has no "response" with a list of '
                    '"items".'
                )
            )
        )


def duo_check_item(item: Any) -> str:
    """Why an item is not a Duo telephony item, or ""."""
    if not isinstance(item, dict):
        return Reason(gettext_noop("is not a JSON object"))
    missing = [name for name in DUO_REQUIRED if item.get(name) in (None, "")]
    if missing:
        return _misses(missing)
    return ""


def duo_rows(reader: _JsonStream, account_id: str) -> Iterator[Row | Problem]:
    index = 0
    try:
        for index, item in duo_items(reader):
            problem = duo_check_item(item)
            if problem:
                message_id = item.get("telephony_id", "") if isinstance(item, dict) else ""
                yield Problem(index, message_id, account_id, problem)
                continue
            other = {key: value for key, value in item.items() if key not in DUO_FIELDS}
            yield Row(
                index,
                item["telephony_id"],
                account_id,
                item["ts"],
                item["phone"],
                "",
                "",  # the country comes from the number
                "",
                item["type"],
                item.get("context") or "",
                item.get("credits"),
                json.dumps(other, sort_keys=True) if other else "{}",
            )
    except DuoBrokenError as error:
        yield Problem(
            index + 1,
            "",
            account_id,
            Reason(
                gettext_noop("%(error)s: this item and any after it could not be read"),
                error=error.reason,
            ),
        )


# --- Opening a file ---------------------------------------------------------------


class RowStream:
    """A format's rows and how far into the file they are."""

    def __init__(self, format: str, stream: BinaryIO, *, account_id: str = ""):
        if format == "duo":
            self._source: LineSource | _JsonStream = _JsonStream(stream)
            self._rows = duo_rows(self._source, account_id)
        else:
            self._source = LineSource(stream)
            self._rows = csv_rows(self._source) if format == "csv" else jsonl_rows(self._source)

    @property
    def bytes_read(self) -> int:
        return self._source.bytes_read

    def __iter__(self) -> Iterator[Row | Problem]:
        return self._rows


def check_head(format: str, stream: BinaryIO) -> None:
    """Refuse a file whose first lines (or first Duo item) show it cannot be imported:
    empty, required columns missing, not the Duo shape. Reads only the head."""
    if format == "duo":
        reader = _JsonStream(stream, chunk_size=64 << 10)
        try:
            first = next(duo_items(reader), None)
        except DuoBrokenError as error:
            raise ImportRefusedError(
                Reason(
                    gettext_noop("This is not a Duo telephony log (v2): %(error)s."),
                    error=error.reason,
                )
            ) from None
        if first is None:
            raise ImportRefusedError(Reason(gettext_noop("The Duo log holds no items.")))
        problem = duo_check_item(first[1])
        if problem:
            raise ImportRefusedError(
                Reason(
                    gettext_noop(
                        "This is not a Duo telephony log (v2): its first item %(problem)s "
                        "(every item has %(fields)s)."
                    ),
                    problem=problem,
                    fields=", ".join(DUO_REQUIRED),
                )
            )
        return
    source = LineSource(stream, chunk_size=64 << 10)
    lines = iter(source)
    first_line = next(lines, None)
    if first_line is None or (not first_line.strip() and next(lines, None) is None):
        raise ImportRefusedError(_EMPTY)
    if source.bad_line_in(1, 1):
        raise ImportRefusedError(
            Reason(gettext_noop("The first line is not UTF-8 text: save the file as UTF-8."))
        )
    if format == "csv":
        csv_header(first_line)
        if not any(line.strip() for line in itertools.islice(lines, 1000)):
            raise ImportRefusedError(Reason(gettext_noop("The file has a header but no rows.")))
    else:
        jsonl_check_first(jsonl_record(first_line))


# --- Checking a row ---------------------------------------------------------------


def sent_at_parsed(value: Any) -> datetime | str:
    """An aware datetime from ISO 8601 with an offset (or Z), or from Unix time in
    seconds or milliseconds (told apart by size: 2000-2100 in seconds is ten digits, in
    milliseconds thirteen); else the reason it is none of them."""
    if isinstance(value, str):
        if value.isascii() and value.isdigit():
            return _from_epoch(value, int(value))
        try:
            parsed = datetime.fromisoformat(value.strip())
        except ValueError:
            try:
                return _from_epoch(value, float(value))
            except ValueError:
                return Reason(
                    gettext_noop(
                        'sent_at "%(value)s" is not a date and time in ISO 8601 '
                        "(2024-03-01T08:14:02+00:00) or Unix time"
                    ),
                    value=short(value),
                )
        if parsed.tzinfo is None:
            return Reason(
                gettext_noop(
                    'sent_at "%(value)s" has no UTC offset: it needs one, as in '
                    "2024-03-01T08:14:02+00:00 or 2024-03-01T08:14:02Z"
                ),
                value=short(value),
            )
        if not YEAR_MIN <= parsed.year < YEAR_MAX:
            return Reason(
                gettext_noop('sent_at "%(value)s" is not between 2000 and 2100'),
                value=short(value),
            )
        return parsed
    if isinstance(value, int | float) and not isinstance(value, bool):
        return _from_epoch(value, value)
    return Reason(gettext_noop('sent_at "%(value)s" is not a date and time'), value=short(value))


def _from_epoch(written: Any, seconds: float) -> datetime | str:
    if EPOCH_MIN * 1000 <= seconds < EPOCH_MAX * 1000:
        seconds /= 1000  # milliseconds
    if not EPOCH_MIN <= seconds < EPOCH_MAX:
        return Reason(
            gettext_noop(
                'sent_at "%(value)s" is not Unix time (seconds or milliseconds) between 2000 '
                "and 2100"
            ),
            value=short(written),
        )
    return datetime.fromtimestamp(seconds, UTC)


class SentAtWindow:
    """The times a row of the incident may have: its exposure window widened by the
    incident's tolerance on each side (providers' clocks and time zones slip), and
    never after the import began."""

    def __init__(self, *, start: datetime, end: datetime, tolerance: timedelta, now: datetime):
        self.earliest = start - tolerance
        self.latest = min(end + tolerance, now)
        self.now = now
        self.described = Reason(
            gettext_noop("%(start)s to %(end)s UTC, give or take %(tolerance)s"),
            start=f"{start:%Y-%m-%d %H:%M}",
            end=f"{end:%Y-%m-%d %H:%M}",
            tolerance=_duration(tolerance),
        )

    def problem(self, when: datetime, written: Any) -> str:
        """Why a row sent at `when` does not belong to the incident, or ""."""
        if self.earliest <= when <= self.latest:
            return ""
        if when > self.now:
            return Reason(
                gettext_noop('sent_at "%(value)s" is in the future'), value=short(written)
            )
        return Reason(
            gettext_noop('sent_at "%(value)s" is outside the exposure window (%(window)s)'),
            value=short(written),
            window=self.described,
        )


def _duration(delta: timedelta) -> Reason:
    # One of two forms, not ngettext: a stored reason keeps one msgid, and the window's
    # tolerance is a whole number of days or hours, one or more.
    hours = int(delta.total_seconds() // 3600)
    if hours and not hours % 24:
        days = hours // 24
        if days == 1:
            return Reason(gettext_noop("1 day"))
        return Reason(gettext_noop("%(days)s days"), days=days)
    if hours == 1:
        return Reason(gettext_noop("1 hour"))
    return Reason(gettext_noop("%(hours)s hours"), hours=hours)


class RowChecker:
    """A row as written → the values the staging table takes, or a Problem.

    The values: (line, organization id, provider message id, sent_at, E.164 phone,
    carrier, country, region, region code, message type, context, credits, extra).
    `accounts` maps the vendor's account id to the organization's primary key;
    `window` bounds sent_at (none: any time from 2000 to 2100). On SQLite sent_at is
    written the way Django stores it there (naive UTC text).
    """

    def __init__(
        self,
        *,
        accounts: dict[str, int],
        window: SentAtWindow | None = None,
        sqlite: bool = False,
    ):
        self.accounts = accounts
        self.window = window
        self.sqlite = sqlite
        # The window's bounds, as plain attributes: compared on every row.
        self.earliest = window.earliest if window else datetime(YEAR_MIN, 1, 1, tzinfo=UTC)
        self.latest = window.latest if window else datetime(YEAR_MAX, 1, 1, tzinfo=UTC)

    def check(self, row: Row) -> tuple | Problem:
        (line, message_id, account_id, sent_at, phone, carrier, country, region, kind,
         context, credits, extra) = row  # fmt: skip
        organization_id = self.accounts.get(account_id)
        if organization_id is None:
            organization_id = self.accounts.get(str(account_id).strip())
            if organization_id is None:
                if account_id in ("", None):
                    return Problem(line, message_id, "", Reason(gettext_noop("has no account_id")))
                return Problem(
                    line,
                    message_id,
                    account_id,
                    Reason(
                        gettext_noop("account %(account)s is not known to the portal"),
                        account=short(account_id),
                    ),
                    unknown_account=True,
                )
        if type(message_id) is not str:
            message_id = "" if message_id is None else str(message_id)
        if not message_id or len(message_id) > MAX_TEXT:
            reason = Reason(
                gettext_noop("has no message_id")
                if not message_id
                else gettext_noop("has a message_id over 100 characters")
            )
            return Problem(line, message_id, account_id, reason)
        when = sent_at_parsed(sent_at)
        if isinstance(when, str):
            return Problem(line, message_id, account_id, when)
        if not self.earliest <= when <= self.latest and self.window is not None:
            return Problem(line, message_id, account_id, self.window.problem(when, sent_at))
        message_type = MESSAGE_TYPES.get(kind)
        if message_type is None:
            message_type = MESSAGE_TYPES.get(str(kind).strip().casefold())
            if message_type is None:
                return Problem(
                    line,
                    message_id,
                    account_id,
                    Reason(
                        gettext_noop('message_type "%(value)s" is not sms, voice or phone'),
                        value=short(kind),
                    ),
                )
        # Letters a to z only: a two-character "=1" must not pass for a country (the
        # column goes into log copies as a cell that is not checked for formulas).
        if type(country) is not str or (
            country and (len(country) != 2 or not (country.isascii() and country.isalpha()))
        ):
            country = str(country or "").strip().upper()
            if country and (len(country) != 2 or not (country.isascii() and country.isalpha())):
                return Problem(
                    line,
                    message_id,
                    account_id,
                    Reason(
                        gettext_noop('country "%(value)s" is not a two-letter ISO 3166 code'),
                        value=short(country),
                    ),
                )
        elif not country.isupper():
            country = country.upper()
        if type(phone) is not str:
            phone = "" if phone is None else str(phone)
        e164, own_country, problem, note = phone_normalized(phone, country)
        if problem:
            return Problem(line, message_id, account_id, problem)
        if own_country != country and own_country:
            # The country column is a hint: the row is the number's country's (what
            # the dashboards count and filter by), and keeps what the provider wrote.
            if country:
                extra = json.dumps({**json.loads(extra), COUNTRY_AS_WRITTEN: country})
            country = own_country
        if note:
            # Kept although only possible: the row says so, for whoever reads the copy.
            extra = json.dumps({**json.loads(extra), PHONE_NOTE: note})
        # Strings already from CSV; JSON may give anything.
        if type(carrier) is not str:
            carrier = "" if carrier is None else str(carrier)
        if type(region) is not str:
            region = "" if region is None else str(region)
        if type(context) is not str:
            context = "" if context is None else str(context)
        if len(carrier) > MAX_TEXT or len(region) > MAX_TEXT or len(context) > MAX_TEXT:
            return Problem(
                line,
                message_id,
                account_id,
                Reason(gettext_noop("has a carrier, state or context over 100 characters")),
            )
        if credits is not None and credits != "":
            if type(credits) is not int:
                try:
                    if isinstance(credits, float) and not credits.is_integer():
                        raise ValueError(credits)
                    credits = int(credits)
                except (TypeError, ValueError, OverflowError):
                    return Problem(
                        line,
                        message_id,
                        account_id,
                        Reason(
                            gettext_noop('credits "%(value)s" is not a whole number'),
                            value=short(credits),
                        ),
                    )
            if not -MAX_CREDITS <= credits <= MAX_CREDITS:
                return Problem(
                    line, message_id, account_id, Reason(gettext_noop("credits is out of range"))
                )
        else:
            credits = None
        if self.sqlite:
            when = when.astimezone(UTC).replace(tzinfo=None).isoformat(" ")
        return (
            line,
            organization_id,
            message_id,
            when,
            e164,
            carrier,
            country,
            region,
            region_code(country, region) if region else "",
            message_type,
            context,
            credits,
            extra,
        )
