"""The exposed-users CSV: its columns and rows, in chunks of at least 64 KB.

One writer for both ways an export leaves the portal: streamed by the web worker when
it is small (EXPORT_STREAM_MAX rows at most), or written to storage by a worker
(portal/logcopies/exposure_exports.py) when it is not. Rows are read as tuples of the
fifteen columns (values_list), never as model instances: 100,000 exposures built as
objects with their directory users (and each one's JSON list of phones) cost more than
the CSV itself.
"""

import csv
import io
from collections.abc import Iterator

from portal.csvsafe import safe_row
from portal.incidents.phones_display import phone_last_digits, phone_masked

# At most this many rows stream from the web worker (well under a second); more go to
# a worker as a job.
EXPORT_STREAM_MAX = 5_000
CHUNK_BYTES = 64 * 1024
# Rows fetched per round trip: memory stays flat however many phones the account has.
FETCH_ROWS = 2_000

# (column, free text that someone outside chose: formula-guarded). The masked phone
# (`+1 ••• ••• 6743`, from a validated E.164 number), its last digits, the codes, the
# counts and our own timestamps leave unaltered; region and carrier names (from the
# provider's dump) and the directory's username, name and email are guarded.
EXPORT_COLUMNS = (
    ("phone", False),
    ("phone_last_digits", False),
    ("country", False),
    ("region", True),
    ("region_code", False),
    ("carrier", True),
    ("sms", False),
    ("voice", False),
    ("messages", False),
    ("first_message", False),
    ("last_message", False),
    ("username", True),
    ("name", True),
    ("email", True),
    ("last_notified", False),
)
EXPORT_HEADER = [name for name, _guarded in EXPORT_COLUMNS]
EXPORT_GUARDED = tuple(guarded for _name, guarded in EXPORT_COLUMNS)

_COLUMNS = (
    "phone",
    "country",
    "region",
    "region_code",
    "carrier",
    "sms_count",
    "voice_count",
    "message_count",
    "first_seen_at",
    "last_seen_at",
    "directory_user__username",
    "directory_user__name",
    "directory_user__email",
    "last_notified_at",
)


def export_rows(exposures, zone) -> Iterator[list]:
    """The CSV's rows for `exposures` (ordered as the list is), times in `zone`."""

    def when(moment):
        return moment.astimezone(zone).isoformat(timespec="seconds") if moment else ""

    for (
        phone,
        country,
        region,
        region_code,
        carrier,
        sms,
        voice,
        messages,
        first_seen,
        last_seen,
        username,
        name,
        email,
        notified,
    ) in exposures.values_list(*_COLUMNS).iterator(chunk_size=FETCH_ROWS):
        yield [
            # Masked for every role, security staff too: full numbers leave the portal
            # one at a time through an audited reveal, or in bulk through a log copy,
            # which the operator approves. An export must not be a third way around both.
            phone_masked(phone, country),
            phone_last_digits(phone),
            country,
            region,
            region_code,
            carrier,
            sms,
            voice,
            messages,
            when(first_seen),
            when(last_seen),
            username or "",
            name or "",
            email or "",
            when(notified),
        ]


def csv_chunks(rows, *, chunk_bytes: int = CHUNK_BYTES, on_rows=None) -> Iterator[str]:
    """The header and `rows` as CSV text (free-text cells formula-safe), in pieces of at
    least `chunk_bytes` (the last may be shorter). `on_rows(count)` hears how many
    rows are written at the end of each piece, for progress."""
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(EXPORT_HEADER)
    count = 0
    for row in rows:
        writer.writerow(safe_row(row, EXPORT_GUARDED))
        count += 1
        if buffer.tell() >= chunk_bytes:
            yield buffer.getvalue()
            buffer.seek(0)
            buffer.truncate()
            if on_rows is not None:
                on_rows(count)
    if buffer.tell():
        yield buffer.getvalue()
    if on_rows is not None:
        on_rows(count)
