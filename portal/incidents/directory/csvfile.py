"""Reading a directory CSV (DESIGN.md section 5): `username, name, email, phones`,
optional `language`; any other column is ignored.

UTF-8 with or without a byte-order mark; commas or tabs, whichever the header uses;
header names in any case. Lines are checked one by one as the file streams, and the
sha256 is taken on the same pass, so a 20 MB file is never held in memory whole.

Phone numbers are personal data: errors name a number by its last digits only, and
nothing here logs a value from the file.
"""

import csv
import hashlib
import io
import itertools
import re
from collections.abc import Iterator
from dataclasses import dataclass

import phonenumbers
from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.utils.translation import gettext as _

from portal.incidents.models import DirectoryUser

MAX_UPLOAD_BYTES = 20 * 1024 * 1024
MAX_UPLOAD_LABEL = "20 MB"
MAX_PHONES_PER_USER = 20
REQUIRED_COLUMNS = ("username", "name", "email", "phones")
OPTIONAL_COLUMNS = ("language",)
DEFAULT_LANGUAGE = "en"

_USERNAME_MAX = DirectoryUser._meta.get_field("username").max_length
_NAME_MAX = DirectoryUser._meta.get_field("name").max_length
_EMAIL_MAX = DirectoryUser._meta.get_field("email").max_length
# "de", or a language and a country: "pt-BR" (an underscore, as some exports write it,
# is read as a hyphen).
_LANGUAGE = re.compile(r"([A-Za-z]{2})(?:[-_]([A-Za-z]{2}))?")
_UTF16_BOMS = (b"\xff\xfe", b"\xfe\xff")


class DirectoryFileRefusedError(ValidationError):
    """The whole file cannot be read as a directory: nothing of it is kept."""


@dataclass(frozen=True, slots=True)
class DirectoryRow:
    """One valid line of a directory file, normalized: phones in E.164."""

    line: int
    username: str
    name: str
    email: str
    phones: tuple[str, ...]
    language: str

    def differs_from(self, user: DirectoryUser) -> bool:
        return (self.name, self.email, list(self.phones), self.language) != (
            user.name,
            user.email,
            list(user.phones),
            user.language,
        )


@dataclass(slots=True)
class CheckedLine:
    """A line as read: a row, or the reasons it was rejected."""

    line: int
    row: DirectoryRow | None
    errors: list[dict]


class HashingReader(io.RawIOBase):
    """The upload as a raw stream that hashes and counts what passes through, and stops
    at the size limit even when the file's reported size was wrong."""

    def __init__(self, file):
        self._file = file
        self.sha256 = hashlib.sha256()
        self.size = 0

    def readable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:
        data = self._file.read(len(buffer))
        self.size += len(data)
        if self.size > MAX_UPLOAD_BYTES:
            raise DirectoryFileRefusedError(too_large_message(None))
        self.sha256.update(data)
        buffer[: len(data)] = data
        return len(data)


def too_large_message(size: int | None) -> str:
    what = (
        _("The file is %(size).1f MB") % {"size": size / 1024 / 1024}
        if size
        else _("The file is too large")
    )
    return _(
        "%(what)s; the limit is %(limit)s. Split the directory into several files "
        "and upload them one after the other: each one adds or updates its own people."
    ) % {"what": what, "limit": MAX_UPLOAD_LABEL}


def _error(line: int, column: str, reason: str) -> dict:
    return {"line": line, "field": column, "reason": reason}


def _phone_e164(raw: str) -> tuple[str | None, str]:
    """(E.164, "") or (None, why), naming the number by its last digits only."""
    digits = re.sub(r"\D", "", raw)
    if not digits:
        return None, _("“%(value)s” is not a phone number") % {"value": raw[:20]}
    label = (
        _("The phone number ending %(last)s") % {"last": digits[-4:]}
        if len(digits) >= 4
        else _("A phone number")
    )
    if not raw.startswith("+"):
        return None, _(
            "%(number)s needs the country code: write it in international form, starting "
            "with + (e.g. +44 20 7946 0000 or +1 212 555 0143)"
        ) % {"number": label}
    try:
        number = phonenumbers.parse(raw, None)
    except phonenumbers.NumberParseException:
        return None, _("%(number)s is not a phone number") % {"number": label}
    # Possible, not valid: libphonenumber calls numbers in ranges it does not know (new
    # ones, or those reserved for fiction) invalid, and the provider's import keeps
    # them, so the directory must too or they could never match.
    if not phonenumbers.is_possible_number(number):
        return None, _("%(number)s has too few or too many digits for +%(code)s") % {
            "number": label,
            "code": number.country_code,
        }
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164), ""


def _language(raw: str) -> str | None:
    if not raw:
        return DEFAULT_LANGUAGE
    match = _LANGUAGE.fullmatch(raw)
    if match is None:
        return None
    language, country = match.groups()
    return f"{language.lower()}-{country.upper()}" if country else language.lower()


def _columns(header: list[str], first_line: str) -> dict[str, int]:
    """Column name -> position, or refused with what is missing."""
    positions: dict[str, int] = {}
    for position, raw in enumerate(header):
        name = raw.strip().lower()
        if name not in REQUIRED_COLUMNS + OPTIONAL_COLUMNS:
            continue  # other columns are allowed and ignored
        if name in positions:
            raise DirectoryFileRefusedError(
                _(
                    "The column “%(name)s” appears twice in the header (the first line). "
                    "Keep one of them and upload the file again."
                )
                % {"name": name}
            )
        positions[name] = position
    missing = [name for name in REQUIRED_COLUMNS if name not in positions]
    if missing:
        hint = ""
        if ";" in first_line and "," not in first_line and "\t" not in first_line:
            hint = " " + _(
                "The columns look separated by semicolons: separate them with commas "
                "or tabs (the phones within a cell are the ones separated by ;)."
            )
        found = ", ".join(name.strip() for name in header[:12] if name.strip()) or _("nothing")
        raise DirectoryFileRefusedError(
            _(
                "The file has no column named %(missing)s. The header (the first line) "
                "needs the columns %(required)s; %(optional)s is optional. This file's "
                "header has: %(found)s."
            )
            % {
                "missing": ", ".join(missing),
                "required": ", ".join(REQUIRED_COLUMNS),
                "optional": ", ".join(OPTIONAL_COLUMNS),
                "found": found[:200],
            }
            + hint
        )
    return positions


def directory_csv_lines(file) -> tuple[HashingReader, Iterator[CheckedLine]]:
    """The file's data lines, checked one by one as they stream.

    UTF-8 with or without a byte-order mark; commas or tabs, whichever the header uses;
    header names in any case. Line numbers are the file's own (the header is line 1),
    counting the lines inside quoted cells, so they match what an editor shows.
    """
    raw = HashingReader(file)
    text = io.TextIOWrapper(
        io.BufferedReader(raw, buffer_size=64 * 1024), encoding="utf-8-sig", newline=""
    )

    def lines() -> Iterator[CheckedLine]:
        line_number = 0
        try:
            first = text.readline()
            if not first.strip():
                raise DirectoryFileRefusedError(
                    _("The file is empty: its first line must be the header (%(columns)s).")
                    % {"columns": ", ".join(REQUIRED_COLUMNS)}
                )
            delimiter = "\t" if first.count("\t") > first.count(",") else ","
            reader = csv.reader(itertools.chain([first], text), delimiter=delimiter)
            header = next(reader)
            positions = _columns(header, first)
            width = len(header)
            usernames: dict[str, int] = {}
            line_number = reader.line_num
            for fields in reader:
                line, line_number = line_number + 1, reader.line_num
                if not fields:
                    continue  # a blank line
                yield _check(line, fields, width, positions, usernames)
        except UnicodeDecodeError as error:
            if line_number == 0 and error.object[:2] in _UTF16_BOMS:
                raise DirectoryFileRefusedError(
                    _(
                        "The file is saved as UTF-16 (“Unicode text”). Save it as "
                        "“CSV UTF-8” and upload it again."
                    )
                ) from error
            raise DirectoryFileRefusedError(
                _(
                    "The file is not UTF-8 text (after line %(line)s). Save it as "
                    "“CSV UTF-8” and upload it again."
                )
                % {"line": line_number}
            ) from error
        except csv.Error as error:
            raise DirectoryFileRefusedError(
                _(
                    "Line %(line)s cannot be read as CSV (%(error)s). Fix it and upload the file again."
                )
                % {"line": line_number + 1, "error": error}
            ) from error

    return raw, lines()


def _check(
    line: int, fields: list[str], width: int, positions: dict[str, int], usernames: dict
) -> CheckedLine:
    if len(fields) != width:
        if len(fields) < width:
            message = _(
                "The line has %(fields)s fields, fewer than the %(columns)s columns of the "
                "header (a missing or extra comma, or a quote that is not closed?)"
            )
        else:
            message = _(
                "The line has %(fields)s fields, more than the %(columns)s columns of the "
                "header (a missing or extra comma, or a quote that is not closed?)"
            )
        reason = message % {"fields": len(fields), "columns": width}
        return CheckedLine(line, None, [_error(line, "", reason)])

    def value(column: str) -> str:
        return fields[positions[column]].strip() if column in positions else ""

    errors: list[dict] = []
    username = value("username")
    if not username:
        errors.append(_error(line, "username", _("The username is empty: every row needs one")))
    elif len(username) > _USERNAME_MAX:
        errors.append(
            _error(
                line,
                "username",
                _("The username is longer than %(max)s characters") % {"max": _USERNAME_MAX},
            )
        )
    elif username in usernames:
        errors.append(
            _error(
                line,
                "username",
                _("The username %(username)s is already on line %(line)s: each person appears once")
                % {"username": username, "line": usernames[username]},
            )
        )
    else:
        usernames[username] = line

    name = value("name")
    if len(name) > _NAME_MAX:
        errors.append(
            _error(
                line, "name", _("The name is longer than %(max)s characters") % {"max": _NAME_MAX}
            )
        )

    # An empty email is allowed: notices skip such people, with that reason.
    email = value("email")
    if email:
        try:
            if len(email) > _EMAIL_MAX:
                raise ValidationError("too long")
            validate_email(email)
        except ValidationError:
            errors.append(
                _error(
                    line,
                    "email",
                    _("“%(value)s” is not a valid email address") % {"value": email[:80]},
                )
            )

    phones: list[str] = []
    for piece in value("phones").split(";"):
        piece = piece.strip()
        if not piece:
            continue
        e164, reason = _phone_e164(piece)
        if e164 is None:
            errors.append(_error(line, "phones", reason))
        elif e164 not in phones:  # the same number written twice is one number
            phones.append(e164)
    if len(phones) > MAX_PHONES_PER_USER:
        errors.append(
            _error(
                line,
                "phones",
                _("More than %(max)s phone numbers for one person") % {"max": MAX_PHONES_PER_USER},
            )
        )

    language = _language(value("language"))
    if language is None:
        errors.append(
            _error(
                line,
                "language",
                _(
                    "“%(value)s” is not a language code: use two letters (de), "
                    "or a language and a country (pt-BR), or leave it empty for en"
                )
                % {"value": value("language")[:20]},
            )
        )

    if errors:
        return CheckedLine(line, None, errors)
    return CheckedLine(
        line,
        DirectoryRow(
            line=line,
            username=username,
            name=name,
            email=email,
            phones=tuple(phones),
            language=language,
        ),
        [],
    )
