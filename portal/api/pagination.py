"""Cursor pagination: `?cursor=...&limit=...` in, `{"items": [...], "next_cursor": ...}`
out.

A page is a keyset read: rows after the last one of the previous page in a stable
order that ends in the id, so a page deep in 100,000 rows costs what the first does
and rows added meanwhile neither repeat nor vanish. The cursor is opaque: the last
row's sort values, signed (django.core.signing) with the name of the listing, so a
cursor of one listing cannot be replayed on another and a tampered one is a 422.
"""

import json
from datetime import date, datetime, time
from decimal import Decimal
from typing import Any
from uuid import UUID

from django.core import signing
from django.core.serializers.json import DjangoJSONEncoder
from django.db.models import Q, QuerySet
from django.http import HttpResponse
from ninja import Schema
from pydantic import Field

from portal.api.errors import Problem

DEFAULT_LIMIT = 100
MAX_LIMIT = 1000
_SALT = "portal.api.cursor"


class CursorQuery(Schema):
    cursor: str | None = Field(
        None, description="`next_cursor` of the previous page; absent for the first page."
    )
    limit: int = Field(DEFAULT_LIMIT, ge=1, le=MAX_LIMIT, description="Rows per page.")


def cursor_make(listing: str, values: list[Any]) -> str:
    return signing.dumps(
        {"l": listing, "v": values}, salt=_SALT, serializer=_Serializer, compress=False
    )


def cursor_read(listing: str, cursor: str) -> list[Any]:
    try:
        payload = signing.loads(cursor, salt=_SALT, serializer=_Serializer)
    except signing.BadSignature as error:
        raise _bad_cursor() from error
    if not isinstance(payload, dict) or payload.get("l") != listing:
        raise _bad_cursor()
    values = payload.get("v")
    if not isinstance(values, list):
        raise _bad_cursor()
    return values


class _Encoder(json.JSONEncoder):
    """Sort values as JSON. Not DjangoJSONEncoder: it cuts a time to milliseconds, and a
    cursor so cut would skip the rows within the same millisecond as its last one."""

    def default(self, o):
        if isinstance(o, datetime | date | time):
            return o.isoformat()
        if isinstance(o, UUID | Decimal):
            return str(o)
        return super().default(o)


class _Serializer:
    def dumps(self, obj):
        return _Encoder(separators=(",", ":")).encode(obj).encode()

    def loads(self, data):
        return json.loads(data.decode())


def _bad_cursor() -> Problem:
    return Problem(
        422,
        "Invalid cursor",
        detail="The cursor is not one this listing gave: start again without it.",
        errors=[{"loc": ["query", "cursor"], "msg": "invalid cursor", "type": "value_error"}],
    )


def _after(order: list[str], values: list[Any]) -> Q:
    """Rows after `values` in `order` (fields all descending, or all ascending).

    Written as `a <= x AND (a < x OR (a = x AND (b < y ...)))`: the leading bound lets
    the database start the index walk at the cursor instead of filtering from the top.
    """
    descending = order[0].startswith("-")
    names = [field.lstrip("-") for field in order]
    beyond = "lt" if descending else "gt"
    condition = Q(**{f"{names[-1]}__{beyond}": values[-1]})
    for name, value in zip(reversed(names[:-1]), reversed(values[:-1]), strict=True):
        condition = Q(**{f"{name}__{beyond}": value}) | (Q(**{name: value}) & condition)
    leading = "lte" if descending else "gte"
    return Q(**{f"{names[0]}__{leading}": values[0]}) & condition


def keyset_values(model, *, listing: str, order: list[str], cursor: str | None) -> list | None:
    """The sort values of the cursor's row (the order's fields of `model`, read as the
    fields read them), or None without a cursor; a cursor of another listing, or not
    ours, is a 422."""
    if len({field.startswith("-") for field in order}) != 1:
        raise ValueError("keyset_page orders all fields the same way")
    if not cursor:
        return None
    names = [field.lstrip("-") for field in order]
    raw = cursor_read(listing, cursor)
    if len(raw) != len(names):
        raise _bad_cursor()
    try:
        return [
            model._meta.get_field(name).to_python(value)
            for name, value in zip(names, raw, strict=True)
        ]
    except Exception as error:  # a signed cursor is ours; this is a guard
        raise _bad_cursor() from error


def keyset_after(
    queryset: QuerySet, *, listing: str, order: list[str], cursor: str | None
) -> QuerySet:
    """`queryset` in `order` (see keyset_page), from after the cursor's row when there
    is a cursor: the query a page reads, before its limit."""
    values = keyset_values(queryset.model, listing=listing, order=order, cursor=cursor)
    if values is not None:
        queryset = queryset.filter(_after(order, values))
    return queryset.order_by(*order)


def keyset_page(
    queryset: QuerySet,
    *,
    listing: str,
    order: list[str],
    cursor: str | None,
    limit: int,
    fields: tuple[str, ...] | None = None,
    tuples: bool = False,
) -> tuple[list, str | None]:
    """One page of `queryset` in `order` (non-null fields, all descending or all
    ascending, the last one unique: the id). Returns the rows (model instances, or
    dicts of `fields` when given, tuples with `tuples`: the fields must include the
    order's) and the next cursor."""
    names = [field.lstrip("-") for field in order]
    queryset = keyset_after(queryset, listing=listing, order=order, cursor=cursor)
    if fields is not None:
        queryset = queryset.values_list(*fields) if tuples else queryset.values(*fields)
    rows = list(queryset[: limit + 1])
    if len(rows) <= limit:
        return rows, None
    rows = rows[:limit]
    last = rows[-1]
    if fields is None:
        values = [getattr(last, name) for name in names]
    elif tuples:
        values = [last[fields.index(name)] for name in names]
    else:
        values = [last[name] for name in names]
    return rows, cursor_make(listing, values)


_WRITE = DjangoJSONEncoder()


def json_value(value: Any) -> Any:
    """A time or id as the API writes it everywhere (ninja's encoder is Django's):
    ISO 8601 to the millisecond, UTC as Z."""
    if value is None or isinstance(value, str | int | bool):
        return value
    if type(value) is datetime:
        # DjangoJSONEncoder.default's datetime branch, inline: a page has 3,000 of them.
        text = value.isoformat()
        if value.microsecond:
            text = text[:23] + text[26:]
        return text[:-6] + "Z" if text.endswith("+00:00") else text
    return _WRITE.default(value)


def page_json_response(items_json: bytes, next_cursor: str | None) -> HttpResponse:
    """A page whose items are JSON already (UTF-8, written by the database or by
    json.dumps): only the envelope is added here."""
    body = b"".join(
        (b'{"items":', items_json, b',"next_cursor":', json.dumps(next_cursor).encode(), b"}")
    )
    return HttpResponse(body, content_type="application/json; charset=utf-8")
