"""The demo's log rows: generated as a stream and loaded with COPY on PostgreSQL, in
batches of bulk_create on SQLite, so a million rows never sit in memory at once."""

import itertools
import json
import random
from collections.abc import Iterable, Iterator, Sequence
from datetime import timedelta
from zoneinfo import ZoneInfo

from django.db import connection

from portal.accounts.models import Organization
from portal.incidents.demo.data import CONTEXTS, HOUR_WEIGHTS, WEEKDAY_WEIGHTS
from portal.incidents.demo.phones import HOURS_IN_WINDOW, WINDOW_START, DemoPhone, Weighted
from portal.incidents.models import Incident, MessageLogRecord

SQLITE_BATCH = 5000
FAILED_SHARE = 0.03  # messages the carrier reported undelivered

_CONTEXTS = Weighted(CONTEXTS)
_zone_hours: dict[str, Weighted] = {}

# A log row as generated, before a loader turns it into a COPY line or a model:
# (provider_message_id, seconds into the window, phone, carrier, country, region,
#  region_code, message_type, context, credits, extra as JSON)
LogRow = tuple[str, int, str, str, str, str, str, str, str, int, str]

_LOG_COLUMNS = ("incident_id", *MessageLogRecord.LOADED_COLUMNS)


def _hours_for_zone(time_zone: str) -> Weighted:
    """Hours of the window (0 = 1 March 00:00 UTC) weighted by how busy they are where
    the phone is: the local hour of day and day of week, daylight saving included."""
    if time_zone not in _zone_hours:
        zone = ZoneInfo(time_zone)
        weights = []
        for hour in range(HOURS_IN_WINDOW):
            local = (WINDOW_START + timedelta(hours=hour)).astimezone(zone)
            weights.append((hour, HOUR_WEIGHTS[local.hour] * WEEKDAY_WEIGHTS[local.weekday()]))
        _zone_hours[time_zone] = Weighted(weights)
    return _zone_hours[time_zone]


def log_rows(rng: random.Random, phones: Iterable[DemoPhone]) -> Iterator[LogRow]:
    sms, voice = MessageLogRecord.MessageType.SMS.value, MessageLogRecord.MessageType.VOICE.value
    extras: dict[tuple[str, bool], str] = {}
    for phone in phones:
        hours = _hours_for_zone(phone.region.time_zone)
        moments = sorted(
            hours.pick(rng) * 3600 + int(rng.random() * 3600) for _ in range(phone.messages)
        )
        for moment in moments:
            is_voice = rng.random() < phone.voice_share
            failed = rng.random() < FAILED_SHARE
            key = (phone.route, failed)
            if key not in extras:
                extras[key] = json.dumps(
                    {"route": phone.route, "delivery": "failed" if failed else "delivered"}
                )
            carrier = (
                phone.ported_to if phone.ported_to and moment >= phone.ported_at else phone.carrier
            )
            yield (
                # Provider ids in the style of the big CPaaS vendors: SM... for a
                # message, CA... for a call.
                f"{'CA' if is_voice else 'SM'}{rng.getrandbits(128):032x}",
                moment,
                phone.e164,
                carrier,
                phone.country.code,
                phone.region.name,
                phone.region.code,
                voice if is_voice else sms,
                _CONTEXTS.pick(rng),
                phone.country.credits * (2 if is_voice else 1),
                extras[key],
            )


def load_log_rows(*, incident: Incident, organization: Organization, rows: Iterator[LogRow]) -> int:
    if connection.vendor == "postgresql":
        return _copy_log_rows(incident.pk, organization.pk, rows)
    return _bulk_create_log_rows(incident.pk, organization.pk, rows)


def copy_rows(model, columns: Sequence[str], rows: Iterable[tuple]) -> int:
    """COPY rows into the model's table on PostgreSQL; returns how many."""
    q = connection.ops.quote_name
    sql = (
        f"COPY {q(model._meta.db_table)} ({', '.join(q(column) for column in columns)}) FROM STDIN"
    )
    copied = 0
    with connection.cursor() as cursor:
        pg_cursor = cursor.cursor  # psycopg's own cursor: Django's wrapper has no copy()
        with pg_cursor.copy(sql) as copy:
            for row in rows:
                copy.write_row(row)
                copied += 1
    return copied


def _copy_log_rows(incident_id: int, organization_id: int, rows: Iterator[LogRow]) -> int:
    # sent_at as text in UTC: formatting "2024-03-05 13:" once per hour of the window
    # is much cheaper than a datetime per row.
    hour_prefixes = [
        (WINDOW_START + timedelta(hours=hour)).strftime("%Y-%m-%d %H:")
        for hour in range(HOURS_IN_WINDOW)
    ]

    def lines():
        for message_id, moment, *fields, extra in rows:
            hour, second = divmod(moment, 3600)
            sent_at = f"{hour_prefixes[hour]}{second // 60:02d}:{second % 60:02d}+00"
            yield (incident_id, organization_id, message_id, sent_at, *fields, extra)

    return copy_rows(MessageLogRecord, _LOG_COLUMNS, lines())


def _bulk_create_log_rows(incident_id: int, organization_id: int, rows: Iterator[LogRow]) -> int:
    extras: dict[str, dict] = {}
    loaded = 0
    for batch in itertools.batched(rows, SQLITE_BATCH, strict=False):
        records = []
        for row in batch:
            (message_id, moment, phone, carrier, country, region, region_code, kind, context,
             credits, extra) = row  # fmt: skip
            if extra not in extras:
                extras[extra] = json.loads(extra)
            records.append(
                MessageLogRecord(
                    incident_id=incident_id,
                    organization_id=organization_id,
                    provider_message_id=message_id,
                    sent_at=WINDOW_START + timedelta(seconds=moment),
                    phone=phone,
                    carrier=carrier,
                    country=country,
                    region=region,
                    region_code=region_code,
                    message_type=kind,
                    context=context,
                    credits=credits,
                    extra=extras[extra],
                )
            )
        MessageLogRecord.objects.bulk_create(records)
        loaded += len(records)
    return loaded
