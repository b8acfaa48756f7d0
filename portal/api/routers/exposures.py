"""An incident's exposures for the key's account, as the exposed-users page lists them:
the same filters and search (exposures.selectors.exposures_filtered), numbers masked
unless the call asks `reveal=true` with a key holding REVEAL_PHONE, people's names and
emails masked unless the key holds EXPORT_EXPOSED. Each reveal is audited as the page
audits it (`phone.reveal`, naming the exposures), and so is a search by more digits
than the mask shows.

Mounted under /incidents (main.py): /incidents/{id}/exposures, .../exposures.jsonl (the
whole list, streamed in constant memory), .../exposures/{id} and its timeline.
"""

import functools
import json
import re
from collections.abc import Iterator
from datetime import datetime
from typing import Any, Literal
from uuid import UUID

import psycopg
from django.db import connection
from django.db.models import Field as ModelField
from django.db.models import Subquery
from django.http import HttpRequest, StreamingHttpResponse
from ninja import Query, Router, Schema
from psycopg.adapt import Loader
from pydantic import Field

from portal.accounts.roles import Capability
from portal.api.access import api_key_of, can, require, requires
from portal.api.auth import key_label
from portal.api.errors import Problem
from portal.api.pagination import (
    CursorQuery,
    cursor_make,
    json_value,
    keyset_after,
    keyset_page,
    keyset_values,
    page_json_response,
)
from portal.audit.services import audit_record
from portal.incidents.exposures.selectors import (
    ExposureFilters,
    exposure_timeline,
    exposures_filtered,
    exposures_of,
    incident_of_account,
)
from portal.incidents.models import DirectoryUser, Exposure, Incident
from portal.incidents.phones_display import (
    BULLETS,
    LAST_DIGITS,
    SHOWS_LAST_DIGITS_ABOVE,
    email_masked,
    name_masked,
    phone_masked,
    region_calling_codes,
)

router = Router(tags=["exposures"])

# The list's orders that an index serves with the id as tie-break (Exposure.Meta).
SORTS: dict[str, list[str]] = {
    "-last_seen": ["-last_seen_at", "-id"],
    "last_seen": ["last_seen_at", "id"],
    "-first_seen": ["-first_seen_at", "-id"],
    "first_seen": ["first_seen_at", "id"],
    "-messages": ["-message_count", "-id"],
    "messages": ["message_count", "id"],
}
# The columns a row needs, read as dicts: no model instances for a page of 1,000.
ROW_FIELDS = (
    "id",
    "public_id",
    "phone",
    "country",
    "region",
    "carrier",
    "sms_count",
    "voice_count",
    "message_count",
    "first_seen_at",
    "last_seen_at",
    "last_notified_at",
    "directory_user_id",
    "directory_user__name",
    "directory_user__username",
    "directory_user__email",
)
STREAM_CHUNK = 2000
JSONL_TYPE = "application/jsonl"


class ExposureQuery(CursorQuery):
    q: str = Field(
        "",
        max_length=100,
        description="Search: name, email or username (with EXPORT_EXPOSED), the last four "
        "digits of the number, or all of it (any digits with REVEAL_PHONE).",
    )
    country: str = Field("", pattern=r"^([A-Z]{2})?$", description="ISO 3166 code, e.g. US.")
    region: str = Field("", max_length=100)
    carrier: str = Field("", max_length=100)
    message_type: Literal["", "sms", "voice", "both"] = Field(
        "", description="sms: got any SMS; voice: any call; both: both."
    )
    matched: Literal["", "yes", "no"] = Field("", description="Matched to a directory user.")
    notified: Literal["", "yes", "no"] = ""
    sort: Literal[
        "-last_seen", "last_seen", "-first_seen", "first_seen", "-messages", "messages"
    ] = "-last_seen"
    reveal: bool = Field(
        False, description="Full phone numbers (needs REVEAL_PHONE; each reveal is audited)."
    )


class StreamQuery(Schema):
    q: str = Field("", max_length=100)
    country: str = Field("", pattern=r"^([A-Z]{2})?$")
    region: str = Field("", max_length=100)
    carrier: str = Field("", max_length=100)
    message_type: Literal["", "sms", "voice", "both"] = ""
    matched: Literal["", "yes", "no"] = ""
    notified: Literal["", "yes", "no"] = ""
    reveal: bool = False


class PersonOut(Schema):
    name: str
    email: str
    username: str | None = Field(description="Absent when names and emails are masked.")


class ExposureOut(Schema):
    id: UUID
    phone: str = Field(description="E.164 when revealed, else masked: +1 ••• ••• 0143.")
    phone_revealed: bool
    country: str
    region: str
    carrier: str
    sms_count: int
    voice_count: int
    message_count: int
    first_seen_at: datetime
    last_seen_at: datetime
    last_notified_at: datetime | None
    person: PersonOut | None = Field(description="The matched directory user, if any.")


class ExposurePage(Schema):
    items: list[ExposureOut]
    next_cursor: str | None


class TimelineMessageOut(Schema):
    sent_at: datetime
    message_type: str
    carrier: str
    country: str
    region: str
    context: str


class TimelinePage(Schema):
    items: list[TimelineMessageOut]
    next_cursor: str | None


def _incident(request: HttpRequest, incident_id: UUID) -> Incident:
    found = incident_of_account(api_key_of(request).organization, incident_id)
    if found is None:
        raise Problem(404, "Not Found", detail="No such incident in this account.")
    return found


def _reveal_wanted(request: HttpRequest, reveal: bool) -> bool:
    if reveal:
        require(request, Capability.REVEAL_PHONE)
    return reveal


def _filters(query) -> ExposureFilters:
    values = {
        name: getattr(query, name)
        for name in ExposureFilters.__dataclass_fields__
        if getattr(query, name, "")
    }
    return ExposureFilters(**values)


def _filtered(request: HttpRequest, incident: Incident, filters: ExposureFilters):
    organization = api_key_of(request).organization
    return exposures_filtered(
        exposures_of(organization, incident),
        filters,
        reveal=can(request, Capability.REVEAL_PHONE),
        people=can(request, Capability.EXPORT_EXPOSED),
        organization_id=organization.pk,
    )


def _row(row: tuple, *, reveal: bool, mask_people: bool) -> dict[str, Any]:
    """One ExposureOut of a ROW_FIELDS tuple, of plain values ready for json.dumps: a
    page holds 1,000 of them, so no model, no dict per row read, no validation."""
    (
        _pk,
        public_id,
        phone,
        country,
        region,
        carrier,
        sms_count,
        voice_count,
        message_count,
        first_seen_at,
        last_seen_at,
        last_notified_at,
        person_id,
        name,
        username,
        email,
    ) = row
    person = None
    if person_id is not None:
        shown_name, email = name or username, email or ""
        if mask_people:
            person = {
                "name": name_masked(shown_name),
                "email": email_masked(email),
                "username": None,
            }
        else:
            person = {"name": shown_name, "email": email, "username": username}
    return {
        "id": str(public_id),
        "phone": phone if reveal else phone_masked(phone, country),
        "phone_revealed": reveal,
        "country": country,
        "region": region,
        "carrier": carrier,
        "sms_count": sms_count,
        "voice_count": voice_count,
        "message_count": message_count,
        "first_seen_at": json_value(first_seen_at),
        "last_seen_at": json_value(last_seen_at),
        "last_notified_at": json_value(last_notified_at),
        "person": person,
    }


# The SQL of a page's JSON: ROW_FIELDS under these names.
_SQL_COLUMNS = [name.replace("directory_user__", "person_") for name in ROW_FIELDS]


def _sql_time(text: str) -> str:
    """SQL writing a timestamp as json_value does, as a JSON value: ISO 8601 in UTC
    with Z, the fraction cut to milliseconds and left out when there is none; null
    for NULL. `text` is the timestamp in UTC as PostgreSQL writes it with DateStyle
    ISO ('2024-03-09 10:11:12', '2024-03-09 10:11:12.5', ...: the fraction's zeros
    dropped): half the cost of to_char, which the page paid twice a row."""
    return (
        f"CASE WHEN {text} IS NULL THEN 'null' "
        f"""WHEN length({text}) = 19 THEN '"' || replace({text}, ' ', 'T') || 'Z"' """
        f"""ELSE '"' || replace(left(rpad({text}, 23, '0'), 23), ' ', 'T') || 'Z"' END"""
    )


_TIMES = ("first_seen_at", "last_seen_at", "last_notified_at")


def _time_text(name: str) -> str:
    """The column of the page's subquery holding time `name` as text (_sql_time)."""
    return f"{name.removesuffix('_at')}_text"


def _sql_text(expression: str) -> str:
    """SQL writing a text as a JSON string (null for NULL)."""
    return f"COALESCE(to_json({expression})::text, 'null')"


# What to_json escapes in a text (PostgreSQL holds no NUL in one).
_NEEDS_ESCAPE = r'["\\\x01-\x1f]'


@functools.cache
def _calling_codes_sql() -> str:
    """Every region's calling code as a VALUES list of (region, "+code")
    (region_calling_codes), to join the exposures' countries against. Written into
    the SQL: each is capitals or digits, checked here."""
    codes = region_calling_codes()
    if not all(re.fullmatch(r"[A-Z0-9]{2,3}", r) and c.isdigit() for r, c in codes.items()):
        raise ValueError("unexpected region or calling code")
    return "VALUES " + ", ".join(
        f"('{region}', '+{code}')" for region, code in sorted(codes.items())
    )


def _item_sql(reveal: bool, *, escape: bool) -> str:
    """SQL writing one ExposureOut of the page's row `w` as JSON text.

    With `||`, not concat(): concat() looks up the output function of each of its
    arguments on every row. `||` is NULL when any part is: every column here is NOT
    NULL but the person's (all NULL together when no directory user is joined, and
    then not written) and last_notified_at (written by _sql_time, which says null).
    The literals between the columns are merged, and the parts joined as a balanced
    tree: a chain a || b || c ... copies what it has so far at every step."""

    def text(expression: str) -> list[str]:
        return [_sql_text(expression)] if escape else ["'\"'", expression, "'\"'"]

    def key(name: str) -> str:
        return f"',\"{name}\":'"

    phone = text("w.shown_phone") if reveal else ["'\"'", "w.shown_phone", "'\"'"]
    person = _concatenated(
        [
            "'{\"name\":'",
            *text("COALESCE(NULLIF(w.person_name, ''), w.person_username)"),
            key("email"),
            *text("w.person_email"),
            key("username"),
            *text("w.person_username"),
            "'}'",
        ]
    )
    return _concatenated(
        [
            '\'{"id":"\'',
            "w.public_id::text",
            '\'","phone":\'',
            *phone,
            f'\',"phone_revealed":{"true" if reveal else "false"},"country":\'',
            *text("w.country"),
            key("region"),
            *text("w.region"),
            key("carrier"),
            *text("w.carrier"),
            key("sms_count"),
            "w.sms_count::text",
            key("voice_count"),
            "w.voice_count::text",
            key("message_count"),
            "w.message_count::text",
            key("first_seen_at"),
            _sql_time(f"w.{_time_text('first_seen_at')}"),
            key("last_seen_at"),
            _sql_time(f"w.{_time_text('last_seen_at')}"),
            key("last_notified_at"),
            _sql_time(f"w.{_time_text('last_notified_at')}"),
            key("person"),
            f"CASE WHEN w.directory_user_id IS NULL THEN 'null' ELSE {person} END",
            "'}'",
        ]
    )


def _concatenated(parts: list[str]) -> str:
    """SQL joining `parts` with ||: neighbouring literals ('...', none holding a
    quote of its own) written as one, the rest paired off into a balanced tree."""
    merged: list[str] = []
    for part in parts:
        literal = part.startswith("'") and part.endswith("'") and "'" not in part[1:-1]
        if literal and merged and merged[-1].startswith("'") and "'" not in merged[-1][1:-1]:
            merged[-1] = merged[-1][:-1] + part[1:]
        else:
            merged.append(part)

    def tree(parts: list[str]) -> str:
        if len(parts) == 1:
            return parts[0]
        half = len(parts) // 2
        return f"({tree(parts[:half])} || {tree(parts[half:])})"

    return tree(merged)


def _exposure_column(name: str) -> str:
    field = Exposure._meta.get_field(name)
    if not isinstance(field, ModelField) or not field.column:
        raise ValueError(f"{name} is not a column of Exposure")
    return field.column


def _plain_page_sql(
    organization_id: int, incident_id: UUID, order: list[str], after: list | None, limit: int
) -> tuple[str, list]:
    """The statement the ORM writes for an unfiltered page (exposures_filtered without
    filters, keyset_after, ROW_FIELDS, limit + 1 rows): the account's exposures in the
    published incident, the directory user joined, after the cursor's row, in order."""
    q = connection.ops.quote_name
    exposure_columns = [f"e.{q(_exposure_column(name))}" for name in ROW_FIELDS if "__" not in name]
    person_columns = [f"d.{q(name.split('__')[1])}" for name in ROW_FIELDS if "__" in name]
    names = [q(_exposure_column(field.lstrip("-"))) for field in order]
    descending = order[0].startswith("-")
    where = [
        f"e.{q('organization_id')} = %s",
        f"""e.{q("incident_id")} = (SELECT i.{q("id")} FROM {q(Incident._meta.db_table)} AS i
            WHERE i.{q("public_id")} = %s AND i.{q("status")} = %s LIMIT 1)""",  # noqa: S608
    ]
    params: list = [organization_id, incident_id, Incident.Status.PUBLISHED.value]
    if after is not None:
        # pagination._after: a <= x AND (a < x OR (a = x AND b < y)).
        beyond, leading = ("<", "<=") if descending else (">", ">=")
        condition, values = f"e.{names[-1]} {beyond} %s", [after[-1]]
        for name, value in zip(reversed(names[:-1]), reversed(after[:-1]), strict=True):
            condition = f"(e.{name} {beyond} %s OR (e.{name} = %s AND {condition}))"
            values = [value, value, *values]
        where.append(f"e.{names[0]} {leading} %s AND {condition}")
        params += [after[0], *values]
    direction = "DESC" if descending else "ASC"
    sql = f"""
        SELECT {", ".join(exposure_columns + person_columns)}
        FROM {q(Exposure._meta.db_table)} AS e
        LEFT OUTER JOIN {q(DirectoryUser._meta.db_table)} AS d
            ON d.{q("id")} = e.{q("directory_user_id")}
        WHERE {" AND ".join(where)}
        ORDER BY {", ".join(f"e.{name} {direction}" for name in names)}
        LIMIT {int(limit) + 1}
    """  # noqa: S608 (names from the models; every value is a parameter or an int)
    return sql, params


def exposures_page_json(
    inner: tuple[str, list],
    *,
    order: list[str],
    limit: int,
    reveal: bool,
    ids: bool,
    prepare: bool = False,
) -> tuple[bytes, int, list | None, list] | None:
    """A page of the `inner` statement (ROW_FIELDS, `limit` + 1 rows in `order`, as
    `_plain_page_sql` or the ORM writes it) with its items written as JSON by
    PostgreSQL in one round trip: the ExposureOut of each row (as _row writes it),
    numbers masked as phone_masked masks them, people shown (for a key with
    EXPORT_EXPOSED). Returns the items' JSON, how many, the last row's sort values
    when a next page follows, and the rows' public ids when `ids`; None when a row's
    number is one the SQL mask does not read as phone_masked would (not "+digits",
    or not starting with its country's code), or on a database other than
    PostgreSQL: the caller writes that page itself.

    No Python value per column: reading 1,000 rows' 16 columns into Python and
    writing them out again took three times as long as the query; each row comes as
    its JSON's bytes, joined here. The JSON is written by concatenation
    (json_build_object took twice as long, row_to_json longer), each text through
    to_json, which escapes it, when one of the row's needs it."""
    if connection.vendor != "postgresql":
        return None
    connection.ensure_connection()
    raw = connection.connection
    if not (raw.info.parameter_status("DateStyle") or "").startswith("ISO"):
        return None  # _sql_time reads the times as ISO writes them
    inner_sql, inner_params = inner
    names = [name.lstrip("-") for name in order]
    direction = "DESC" if order[0].startswith("-") else "ASC"

    def ordering(alias: str) -> str:
        return ", ".join(f"{alias}.{name} {direction}" for name in names)

    if reveal:
        phone, fast, phone_params = "p.phone", "TRUE", []
    else:
        # phone_masked: "+1 ••• ••• 0143": the code of the exposure's country when the
        # number starts with it, the last four digits when it has more than eight.
        phone = (
            f"c.prefix || %s || CASE WHEN length(p.phone) > {SHOWS_LAST_DIGITS_ABOVE + 1} "
            f"THEN right(p.phone, {LAST_DIGITS}) ELSE %s END"
        )
        fast = "COALESCE(p.phone ~ %s AND starts_with(p.phone, c.prefix), FALSE)"
        phone_params = [f" {BULLETS} ", "•" * LAST_DIGITS, r"^\+[0-9]+$"]
    # The texts of a row that may need escaping (a masked number never does); when
    # none holds a quote, a backslash or a control character, to_json would only add
    # the quotes, and the row is written without it.
    # The person's three are NULL together (no directory user joined).
    texts = "w.country || w.region || w.carrier"
    texts += " || COALESCE(w.person_name || w.person_email || w.person_username, '')"
    if reveal:
        texts += " || w.shown_phone"
    item = (
        f"CASE WHEN ({texts}) ~ %s "
        f"THEN {_item_sql(reveal, escape=True)} ELSE {_item_sql(reveal, escape=False)} END"
    )
    # The rows in order, the item written after the sort (LIMIT lets the planner put
    # off an expensive column until then), NULL where the SQL mask cannot be trusted.
    # Joined here rather than by string_agg: its ORDER BY sorted the 400 kB again. The
    # sort values only on the page's last row (the next cursor's): Django reads each
    # time in Python, which cost 1 ms for a page's thousand.
    sql = f"""
        SELECT CASE WHEN w.fast THEN {item} END,
            {", ".join(f"CASE WHEN w.rn = {int(limit)} THEN w.{name} END" for name in names)},
            {"w.public_id" if ids else "NULL"}
        FROM (
            SELECT p.*, {phone} AS shown_phone, {fast} AS fast,
                {", ".join(f"(p.{name} AT TIME ZONE 'UTC')::text AS {_time_text(name)}" for name in _TIMES)},
                row_number() OVER (ORDER BY {ordering("p")}) AS rn
            FROM ({inner_sql}) AS p ({", ".join(_SQL_COLUMNS)})
            LEFT JOIN ({_calling_codes_sql()}) AS c (region, prefix) ON c.region = upper(p.country)
            -- Not merged into the outer query, which would write each time's text
            -- again wherever _sql_time reads it.
            OFFSET 0
        ) AS w
        ORDER BY {ordering("w")}
        LIMIT {int(limit) + 1}
    """  # noqa: S608 (names from this module; every value is a parameter or an int)
    params = [_NEEDS_ESCAPE, *phone_params, *inner_params]
    # With `prepare` (the unfiltered page, written out), a prepared statement on the
    # connection (psycopg's server-side binding): planned once per connection and
    # shape instead of on every call (about 1 ms: the plan, and the audit guard's
    # scan of 7 kB of SQL in Django's cursor, which has nothing to refuse in a read).
    # A filtered page is planned for its values each time, as before.
    if prepare:
        _preparing_allowed(raw)
    with psycopg.Cursor(raw) as cursor:
        # The items as the bytes that came (UTF-8): 400 kB not decoded to str here
        # only to be encoded again for the response. (No sort value is a text.)
        cursor.adapters.register_loader("text", _TextAsBytes)
        cursor.execute(sql, params, prepare=prepare)
        rows = cursor.fetchall()
    page = rows[:limit]
    items = [row[0] for row in page]
    if None in items:
        return None
    return (
        b"[" + b",".join(items) + b"]",
        len(page),
        list(rows[limit - 1][1:-1]) if len(rows) > limit else None,
        [row[-1] for row in page] if ids else [],
    )


# psycopg prepares a statement run this many times; none is, but prepare=True is.
_PREPARE_ONLY_WHEN_ASKED = 2**31 - 1


def _preparing_allowed(raw) -> None:
    """Let psycopg prepare the statements that ask (prepare=True), on this connection.

    Django sets the threshold to None, which forbids even an asked-for prepare; its
    own cursors bind on the client and never prepare, so a threshold no count
    reaches changes nothing for them. The page statement is the only one prepared,
    and its generic plan (account and incident by equality, the keyset range, the
    order's index) is right for every value: without force_generic_plan, PostgreSQL
    kept planning a deep page's custom plan on every call (0.7 ms). The setting
    touches only prepared statements and PL/pgSQL, whose two functions here
    (the audit log's guard, vigil_analyze) plan no statement with parameters."""
    if raw.prepare_threshold is None:
        raw.prepare_threshold = _PREPARE_ONLY_WHEN_ASKED
        raw.execute("SET plan_cache_mode = force_generic_plan")


class _TextAsBytes(Loader):
    """A text column read as its bytes (the connection's encoding: UTF-8)."""

    def load(self, data) -> bytes:
        return bytes(data)


def _audit_reveal(
    request: HttpRequest,
    *,
    target,
    filters: ExposureFilters | None,
    revealed: bool,
    exposure_ids: list,
    via: str,
) -> None:
    """As the pages do: a `phone.reveal` when numbers are shown in full, or when a
    search by more digits than the mask shows tells those digits of every number it
    keeps."""
    searched = (
        filters is not None
        and can(request, Capability.REVEAL_PHONE)
        and filters.searches_past_the_mask()
    )
    if not (revealed or searched):
        return
    key = api_key_of(request)
    details: dict[str, Any] = {
        "via": via,
        "revealed": revealed,
        "exposures": [str(public_id) for public_id in exposure_ids],
    }
    if searched and filters is not None:
        details |= {"phone_search": filters.q, "digits": len(filters.phone_digits)}
    audit_record(
        action="phone.reveal",
        actor_label=key_label(key),
        organization=key.organization_id,
        target=target,
        request=request,
        details=details,
    )


@router.get(
    "/{incident_id}/exposures",
    response=ExposurePage,
    summary="An incident's exposed phones in the account (cursor pages)",
)
@requires(Capability.VIEW_DASHBOARD)
def exposures_list(request: HttpRequest, incident_id: UUID, query: Query[ExposureQuery]):
    if query.reveal and not can(request, Capability.REVEAL_PHONE):
        _incident(request, incident_id)  # another account's incident: 404 before 403
    reveal = _reveal_wanted(request, query.reveal)
    filters = _filters(query)
    listing = f"exposures:{incident_id}:{query.sort}"
    mask_people = not can(request, Capability.EXPORT_EXPOSED)
    organization = api_key_of(request).organization
    order = SORTS[query.sort]
    try:
        after = keyset_values(Exposure, listing=listing, order=order, cursor=query.cursor)
    except Problem:
        _incident(request, incident_id)  # a 404 comes before a bad cursor's 422
        raise
    audited = reveal or (can(request, Capability.REVEAL_PHONE) and filters.searches_past_the_mask())

    # Built only where needed: the unfiltered page (what scripts read) is written out,
    # and building this filter cost 0.3 ms of ORM work on every call.
    # The incident is checked by the page query itself (a row of this account in a
    # published incident proves both); only an empty page, or an audit naming the
    # incident, reads it on its own.
    def exposures():
        return exposures_filtered(
            Exposure.objects.filter(
                organization=organization,
                # A subquery, not a join: the planner then walks the (account, incident,
                # order) index from the incident's id it reads first.
                incident_id=Subquery(
                    Incident.objects.filter(public_id=incident_id, status=Incident.Status.PUBLISHED)
                    .order_by()
                    .values("id")[:1]
                ),
            ),
            filters,
            reveal=can(request, Capability.REVEAL_PHONE),
            people=not mask_people,
            organization_id=organization.pk,
        ).order_by()

    def ordered():
        return keyset_after(exposures(), listing=listing, order=order, cursor=query.cursor)

    page = None
    if not mask_people:
        if filters.is_narrowing():
            inner = ordered().values_list(*ROW_FIELDS)[: query.limit + 1].query.sql_with_params()
        else:
            # The whole list, a page at a time (what scripts read): written out, as
            # the ORM took 0.65 ms to compile the same statement on every call.
            inner = _plain_page_sql(organization.pk, incident_id, order, after, query.limit)
        page = exposures_page_json(
            inner,
            order=order,
            limit=query.limit,
            reveal=reveal,
            ids=audited,
            prepare=not filters.is_narrowing(),
        )
    if page is None:
        # Names masked in Python (name_masked), or a number the SQL mask does not read
        # as phone_masked would: the rows as tuples, written here.
        rows, next_cursor = keyset_page(
            ordered(),
            listing=listing,
            order=order,
            cursor=None,
            limit=query.limit,
            fields=ROW_FIELDS,
            tuples=True,
        )
        items_json = json.dumps(
            [_row(row, reveal=reveal, mask_people=mask_people) for row in rows],
            separators=(",", ":"),
        ).encode()
        count, exposure_ids = len(rows), [row[1] for row in rows]
    else:
        items_json, count, next_values, exposure_ids = page
        next_cursor = None if next_values is None else cursor_make(listing, next_values)
    if count == 0 or audited:
        incident = _incident(request, incident_id)
        _audit_reveal(
            request,
            target=incident,
            filters=filters,
            revealed=reveal,
            exposure_ids=exposure_ids,
            via="api",
        )
    return page_json_response(items_json, next_cursor)


@router.get(
    "/{incident_id}/exposures.jsonl",
    summary="Every exposed phone of the incident in the account, as JSON Lines",
    description="The whole list in one response, one exposure (ExposureOut) a line, in "
    "the order of their ids; read in chunks, so the server holds one chunk at a time.",
    openapi_extra={
        "responses": {
            "200": {
                "description": "One ExposureOut a line.",
                "content": {JSONL_TYPE: {"schema": {"$ref": "#/components/schemas/ExposureOut"}}},
            }
        }
    },
)
@requires(Capability.VIEW_DASHBOARD)
def exposures_stream(request: HttpRequest, incident_id: UUID, query: Query[StreamQuery]):
    incident = _incident(request, incident_id)
    reveal = _reveal_wanted(request, query.reveal)
    filters = _filters(query)
    exposures = _filtered(request, incident, filters).order_by()
    mask_people = not can(request, Capability.EXPORT_EXPOSED)
    if reveal or (can(request, Capability.REVEAL_PHONE) and filters.searches_past_the_mask()):
        # The whole list: audited once, by count rather than by a list of 100,000 ids.
        key = api_key_of(request)
        audit_record(
            action="phone.reveal",
            actor_label=key_label(key),
            organization=key.organization_id,
            target=incident,
            request=request,
            details={
                "via": "api-stream",
                "revealed": reveal,
                "filters": filters.as_details(),
                "rows": exposures.count(),
            },
        )
    return StreamingHttpResponse(
        _stream(exposures, reveal=reveal, mask_people=mask_people), content_type=JSONL_TYPE
    )


def _stream(exposures, *, reveal: bool, mask_people: bool) -> Iterator[str]:
    """Keyset reads of STREAM_CHUNK rows by id, written a chunk at a time: one chunk in
    memory, and no transaction or server-side cursor held open while a slow client
    reads."""
    last_id = 0
    while True:
        chunk = list(
            exposures.filter(id__gt=last_id).order_by("id").values_list(*ROW_FIELDS)[:STREAM_CHUNK]
        )
        if chunk:
            yield "".join(
                json.dumps(_row(row, reveal=reveal, mask_people=mask_people), separators=(",", ":"))
                + "\n"
                for row in chunk
            )
        if len(chunk) < STREAM_CHUNK:
            return
        last_id = chunk[-1][0]


def _exposure(request: HttpRequest, incident: Incident, exposure_id: UUID) -> Exposure:
    found = (
        Exposure.objects.select_related("directory_user")
        .filter(
            organization=api_key_of(request).organization, incident=incident, public_id=exposure_id
        )
        .first()
    )
    if found is None:
        raise Problem(404, "Not Found", detail="No such exposure in this incident and account.")
    return found


class RevealQuery(Schema):
    reveal: bool = Field(False, description="The full phone number (needs REVEAL_PHONE; audited).")


@router.get(
    "/{incident_id}/exposures/{exposure_id}",
    response=ExposureOut,
    summary="One exposed phone",
)
@requires(Capability.VIEW_DASHBOARD)
def exposure_detail(
    request: HttpRequest, incident_id: UUID, exposure_id: UUID, query: Query[RevealQuery]
):
    incident = _incident(request, incident_id)
    reveal = _reveal_wanted(request, query.reveal)
    shown = _exposure(request, incident, exposure_id)
    _audit_reveal(
        request,
        target=shown,
        filters=None,
        revealed=reveal,
        exposure_ids=[shown.public_id],
        via="api",
    )
    person = shown.directory_user
    row = (
        *(getattr(shown, name) for name in ROW_FIELDS if "__" not in name),
        *((person.name, person.username, person.email) if person else ("", "", "")),
    )
    return _row(row, reveal=reveal, mask_people=not can(request, Capability.EXPORT_EXPOSED))


@router.get(
    "/{incident_id}/exposures/{exposure_id}/timeline",
    response=TimelinePage,
    summary="The messages to one exposed phone, oldest first (metadata only)",
)
@requires(Capability.VIEW_DASHBOARD)
def exposure_timeline_list(
    request: HttpRequest, incident_id: UUID, exposure_id: UUID, page: Query[CursorQuery]
):
    incident = _incident(request, incident_id)
    shown = _exposure(request, incident, exposure_id)
    rows, next_cursor = keyset_page(
        exposure_timeline(shown),
        listing=f"timeline:{shown.public_id}",
        order=["sent_at", "id"],
        cursor=page.cursor,
        limit=page.limit,
        fields=("id", "sent_at", "message_type", "carrier", "country", "region", "context"),
    )
    return {"items": rows, "next_cursor": next_cursor}
