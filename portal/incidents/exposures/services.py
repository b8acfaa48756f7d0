"""Writes for incidents: the Exposure rows that dashboards read instead of the big table.

Both services below are set-based SQL, one statement each for the whole of an account,
so rebuilding a million log rows costs seconds, not a Python loop per phone. They run
on PostgreSQL and on SQLite (3.24+, for the upsert).
"""

from collections.abc import Iterable
from dataclasses import dataclass

from django.db import connection, transaction
from django.db.models import Count, Exists, OuterRef, Q, Sum
from django.db.models.functions import Coalesce
from django.utils import timezone

from portal.accounts.models import Organization
from portal.audit.services import audit_record
from portal.database import table_analyze
from portal.incidents.models import (
    DirectoryPhone,
    Exposure,
    ExposureRollup,
    ExposureTotal,
    Incident,
    MessageLogRecord,
    MessageRollup,
)
from portal.incidents.signals import exposure_export_requested, incident_exposures_published

# A random version-4 UUID as SQLite stores a UUIDField: 32 lower-case hex digits.
# (%% because the statement goes through the DB-API's parameter formatting.)
_SQLITE_UUID4 = (
    "lower(hex(randomblob(6)) || '4' || substr(hex(randomblob(2)), 2)"
    " || substr('89ab', 1 + (abs(random()) %% 4), 1) || substr(hex(randomblob(2)), 2)"
    " || hex(randomblob(6)))"
)


def _new_uuid_sql() -> str:
    if connection.vendor == "postgresql":
        return "gen_random_uuid()"
    if connection.vendor == "sqlite":
        return _SQLITE_UUID4
    raise NotImplementedError(
        f"exposure SQL is written for PostgreSQL and SQLite, not {connection.vendor}"
    )


def _placeholders(values: list) -> str:
    return ", ".join(["%s"] * len(values))


@dataclass(frozen=True)
class NewRowTotals:
    """Tables (PostgreSQL) in which an import has summed the log rows it inserted, so
    that an account's first exposures in the incident need not be summed from the log
    table again: `phones` one row per (account, phone) with the exposure's columns
    but the ids, `quarters` one per (account, quarter_hour, message_type) with their
    `messages`. Only the `organization_ids` the import vouches for are read: the
    accounts for which the tables hold exactly the rows it inserted."""

    phones: str
    quarters: str
    organization_ids: frozenset[int]


def exposure_rebuild(
    *,
    incident: Incident,
    organization_ids: Iterable[int],
    new_rows: NewRowTotals | None = None,
    log_changed: bool = False,
) -> int:
    """Make these accounts' Exposure rows in `incident` match their log rows.

    An upsert rather than delete-and-insert: an exposure that stays keeps its public id
    (it is in URLs and delivery rows), its directory match and its last-notified time;
    only its counts, first and last seen, and the carrier, country and region of its
    most recent message change. A new exposure is matched to the directory as it is
    inserted, so that an import needs no second pass writing every row (a directory
    import re-matches with `exposure_match_directory`). Exposures whose phone has no
    log rows left are deleted. Returns how many exposures were inserted or changed.

    An account with no exposure in the incident yet has no log rows there but the ones
    the caller just inserted (exposures are rebuilt in the transaction that inserts
    log rows): when `new_rows` has summed those, its exposures come from there.
    `log_changed`: the caller inserted so many log rows in this transaction that the
    table's statistics are refreshed before it is read (when it is).
    """
    organization_ids = sorted(set(organization_ids))
    if not organization_ids:
        return 0
    q = connection.ops.quote_name
    exposure = q(Exposure._meta.db_table)
    log = q(MessageLogRecord._meta.db_table)
    directory_phone = q(DirectoryPhone._meta.db_table)
    sms = MessageLogRecord.MessageType.SMS.value
    voice = MessageLogRecord.MessageType.VOICE.value
    changed_columns = (
        "sms_count",
        "voice_count",
        "message_count",
        "first_seen_at",
        "last_seen_at",
        "carrier",
        "country",
        "region",
        "region_code",
    )
    assignments = ", ".join(f"{column} = excluded.{column}" for column in changed_columns)
    changed = " OR ".join(f"{exposure}.{column} <> excluded.{column}" for column in changed_columns)
    # Only names from the models are formatted into the SQL; every value is a parameter.
    # `totals` is one pass over the account's rows, grouped by phone. Each phone's most
    # recent row (of two sent at once, the greater message id, compared byte by byte,
    # as an import's NewRowTotals break the tie) is found through the (organization,
    # incident, phone, sent_at) index, one probe per phone: on PostgreSQL a LATERAL join that reads its columns there
    # and then (joining on the id instead hashed the whole table, every incident's
    # rows: 59 s rather than 46 s for a second 10-million-row incident); SQLite has no
    # LATERAL, and finds the id first. MATERIALIZED (PostgreSQL 12+, SQLite 3.35+) keeps
    # the planner from inlining `totals`. "WHERE true" before ON CONFLICT is SQLite's
    # documented way to keep its parser from reading ON as the start of a join
    # constraint. The statement starts with INSERT, not WITH, because Python's sqlite3
    # reports a rowcount only then. The rows go in in the unique index's order, not the
    # hash aggregate's random one: the index's pages (and the log index the LATERAL
    # probes) are then read one after the other, which made the insert 10-15 % cheaper
    # (300,000 log rows into a busy table).
    latest_of = f"""
        SELECT recent.{{columns}} FROM {log} AS recent
        WHERE recent.organization_id = {{outer}}.organization_id
            AND recent.incident_id = {{outer}}.incident_id
            AND recent.phone = {{outer}}.phone
        ORDER BY recent.sent_at DESC, recent.provider_message_id {{binary}} DESC
        LIMIT 1
    """  # noqa: S608
    if connection.vendor == "postgresql":
        latest_id = ""
        latest_join = (
            "CROSS JOIN LATERAL ("
            + latest_of.format(
                columns="carrier, recent.country, recent.region, recent.region_code",
                outer="totals",
                binary='COLLATE "C"',
            )
            + ") AS latest"
        )
    else:
        # SQLite compares text byte by byte (BINARY) unless told otherwise.
        latest = latest_of.format(columns="id", outer="grouped", binary="")
        latest_id = f", ({latest}) AS latest_id"
        latest_join = f"JOIN {log} AS latest ON latest.id = totals.latest_id"

    def statement(accounts: list[int], *, fresh: bool) -> str:
        # An account with no exposure in the incident yet (its first import) takes a
        # plain insert: a quarter cheaper than the upsert's speculative insertion.
        on_conflict = (
            ""
            if fresh
            else f"""
            ON CONFLICT (organization_id, incident_id, phone) DO UPDATE SET
                {assignments}
            WHERE {changed}
            """
        )
        return upsert_of.format(in_accounts=_placeholders(accounts), on_conflict=on_conflict)

    upsert_of = f"""
        INSERT INTO {exposure} (
            public_id, organization_id, incident_id, phone,
            sms_count, voice_count, message_count, first_seen_at, last_seen_at,
            carrier, country, region, region_code, directory_user_id, last_notified_at
        )
        WITH totals AS MATERIALIZED (
            SELECT grouped.organization_id, grouped.incident_id, grouped.phone,
                SUM(CASE WHEN grouped.message_type = %s THEN 1 ELSE 0 END) AS sms_count,
                SUM(CASE WHEN grouped.message_type = %s THEN 1 ELSE 0 END) AS voice_count,
                MIN(grouped.sent_at) AS first_seen_at,
                MAX(grouped.sent_at) AS last_seen_at
                {latest_id}
            FROM {log} AS grouped
            WHERE grouped.incident_id = %s AND grouped.organization_id IN ({{in_accounts}})
            GROUP BY grouped.organization_id, grouped.incident_id, grouped.phone
        )
        SELECT {_new_uuid_sql()}, totals.organization_id, totals.incident_id, totals.phone,
            totals.sms_count, totals.voice_count, totals.sms_count + totals.voice_count,
            totals.first_seen_at, totals.last_seen_at,
            latest.carrier, latest.country, latest.region, latest.region_code,
            (
                SELECT MIN(dp.directory_user_id) FROM {directory_phone} AS dp
                WHERE dp.organization_id = totals.organization_id AND dp.phone = totals.phone
            ),
            NULL
        FROM totals
        {latest_join}
        WHERE true
        ORDER BY totals.organization_id, totals.phone
        {{on_conflict}}
    """  # noqa: S608
    stale = Exposure.objects.filter(
        incident=incident, organization_id__in=organization_ids
    ).exclude(
        Exists(
            MessageLogRecord.objects.filter(
                incident_id=OuterRef("incident_id"),
                organization_id=OuterRef("organization_id"),
                phone=OuterRef("phone"),
            )
        )
    )
    with transaction.atomic():
        # One EXISTS probe an account, not a scan of its exposures.
        existing = set(
            Organization.objects.filter(pk__in=organization_ids)
            .filter(Exists(Exposure.objects.filter(organization=OuterRef("pk"), incident=incident)))
            .values_list("pk", flat=True)
        )
        summed = [
            pk
            for pk in organization_ids
            if new_rows is not None and pk in new_rows.organization_ids and pk not in existing
        ]
        if log_changed and len(summed) < len(organization_ids):
            table_analyze(MessageLogRecord)
        # Through the ORM, so deliveries that named a vanished exposure lose the link
        # (SET_NULL) instead of failing the foreign key.
        stale.delete()
        written = 0
        with connection.cursor() as cursor:
            for fresh in (True, False):
                accounts = [
                    pk
                    for pk in organization_ids
                    if (pk in existing) is not fresh and pk not in summed
                ]
                if accounts:
                    cursor.execute(
                        statement(accounts, fresh=fresh), [sms, voice, incident.pk, *accounts]
                    )
                    written += cursor.rowcount
            if summed and new_rows is not None:
                cursor.execute(
                    f"""
                    INSERT INTO {exposure} (
                        public_id, organization_id, incident_id, phone,
                        sms_count, voice_count, message_count, first_seen_at, last_seen_at,
                        carrier, country, region, region_code, directory_user_id,
                        last_notified_at
                    )
                    SELECT {_new_uuid_sql()}, summed.organization_id, %s, summed.phone,
                        summed.sms_count, summed.voice_count,
                        summed.sms_count + summed.voice_count,
                        summed.first_seen_at, summed.last_seen_at,
                        summed.carrier, summed.country, summed.region, summed.region_code,
                        (
                            SELECT MIN(dp.directory_user_id) FROM {directory_phone} AS dp
                            WHERE dp.organization_id = summed.organization_id
                                AND dp.phone = summed.phone
                        ),
                        NULL
                    FROM {q(new_rows.phones)} AS summed
                    WHERE summed.organization_id IN ({_placeholders(summed)})
                    ORDER BY summed.organization_id, summed.phone
                    """,  # noqa: S608
                    [incident.pk, *summed],
                )
                written += cursor.rowcount
        # In the same transaction: a dashboard never shows numbers of other rows.
        exposure_rollup_refresh(incident_id=incident.pk, organization_ids=organization_ids)
        message_rollup_refresh(
            incident_id=incident.pk,
            organization_ids=organization_ids,
            summed=(new_rows.quarters, summed) if new_rows is not None and summed else None,
        )
        return written


# --- Rollups: what the dashboard reads instead of summing (models.ExposureRollup) ------


def exposure_rollup_refresh(*, incident_id: int, organization_ids: Iterable[int]) -> None:
    """Sum these accounts' exposures in the incident again, by (country, region,
    carrier), and count their distinct matched people: one pass over the exposures
    (some 50 ms per 100,000), by every writer of exposures in its own transaction."""
    organization_ids = sorted(set(organization_ids))
    if not organization_ids:
        return
    exposures = Exposure.objects.filter(
        incident_id=incident_id, organization_id__in=organization_ids
    ).order_by()
    groups = exposures.values("organization_id", "country", "region", "carrier").annotate(
        phones=Count("id"),
        messages=Coalesce(Sum("message_count"), 0),
        sms=Coalesce(Sum("sms_count"), 0),
        voice=Coalesce(Sum("voice_count"), 0),
        sms_phones=Count("id", filter=Q(sms_count__gt=0)),
        voice_phones=Count("id", filter=Q(voice_count__gt=0)),
        matched=Count("directory_user_id"),
        notified=Count(
            "id", filter=Q(directory_user_id__isnull=False, last_notified_at__isnull=False)
        ),
    )
    people = dict(
        exposures.filter(directory_user_id__isnull=False)
        .values("organization_id")
        .annotate(people=Count("directory_user_id", distinct=True))
        .values_list("organization_id", "people")
    )
    now = timezone.now()
    with transaction.atomic():
        ExposureRollup.objects.filter(
            incident_id=incident_id, organization_id__in=organization_ids
        ).delete()
        ExposureTotal.objects.filter(
            incident_id=incident_id, organization_id__in=organization_ids
        ).delete()
        rows = [ExposureRollup(incident_id=incident_id, **group) for group in groups]
        ExposureRollup.objects.bulk_create(rows, batch_size=500)
        with_exposures = {row.organization_id for row in rows}
        ExposureTotal.objects.bulk_create(
            ExposureTotal(
                organization_id=organization_id,
                incident_id=incident_id,
                exposed_users=people.get(organization_id, 0),
                refreshed_at=now,
            )
            for organization_id in sorted(with_exposures)
        )


# A log row's quarter-hour (UTC), as each database writes a datetime: time zones are
# whole quarter-hours from UTC, so any account's days are sums of these.
_QUARTER_HOUR_SQL = {
    "postgresql": "date_bin('15 minutes', {column}, TIMESTAMPTZ '2000-01-01 00:00+00')",
    "sqlite": (
        "strftime('%%Y-%%m-%%d %%H:', {column})"
        " || printf('%%02d', (CAST(strftime('%%M', {column}) AS INTEGER) / 15) * 15)"
        " || ':00'"
    ),
}


def quarter_hour_sql(column: str) -> str:
    """SQL for the UTC quarter-hour of a datetime column, on this database."""
    return _QUARTER_HOUR_SQL[connection.vendor].format(column=column)


def message_rollup_refresh(
    *,
    incident_id: int,
    organization_ids: Iterable[int],
    summed: tuple[str, list[int]] | None = None,
) -> None:
    """Count these accounts' log rows in the incident again by quarter-hour and type:
    one pass over their rows, by the import (the only writer of log rows) with the
    exposures, so the dashboard's chart never reads the big table. `summed`: a table
    of NewRowTotals.quarters and the accounts whose counts are read from it instead."""
    organization_ids = sorted(set(organization_ids))
    if not organization_ids:
        return
    q = connection.ops.quote_name
    rollup = q(MessageRollup._meta.db_table)
    from_table, from_table_ids = summed or ("", [])
    counted = [pk for pk in organization_ids if pk not in from_table_ids]
    bucket = quarter_hour_sql("log.sent_at")
    sql = f"""
        INSERT INTO {rollup} (organization_id, incident_id, quarter_hour, message_type, messages)
        SELECT log.organization_id, log.incident_id, {bucket}, log.message_type, COUNT(*)
        FROM {q(MessageLogRecord._meta.db_table)} AS log
        WHERE log.incident_id = %s AND log.organization_id IN ({_placeholders(counted)})
        GROUP BY log.organization_id, log.incident_id, {bucket}, log.message_type
    """  # noqa: S608 (names from the models; every value is a parameter)
    with transaction.atomic():
        MessageRollup.objects.filter(
            incident_id=incident_id, organization_id__in=organization_ids
        ).delete()
        with connection.cursor() as cursor:
            if counted:
                cursor.execute(sql, [incident_id, *counted])
            if from_table_ids:
                cursor.execute(
                    f"""
                    INSERT INTO {rollup}
                        (organization_id, incident_id, quarter_hour, message_type, messages)
                    SELECT organization_id, %s, quarter_hour, message_type, messages
                    FROM {q(from_table)}
                    WHERE organization_id IN ({_placeholders(from_table_ids)})
                    """,  # noqa: S608
                    [incident_id, *from_table_ids],
                )


def rollups_refresh_all() -> int:
    """Every account's rollups in every incident, from the tables: after a change the
    writers do not see (an edit in the admin), or to fill them the first time. Returns
    how many (account, incident) pairs it refreshed."""
    pairs = Exposure.objects.order_by().values_list("incident_id", "organization_id").distinct()
    by_incident: dict[int, list[int]] = {}
    for incident_id, organization_id in pairs:
        by_incident.setdefault(incident_id, []).append(organization_id)
    for incident_id, organization_ids in by_incident.items():
        with transaction.atomic():
            exposure_rollup_refresh(incident_id=incident_id, organization_ids=organization_ids)
            message_rollup_refresh(incident_id=incident_id, organization_ids=organization_ids)
    return sum(len(ids) for ids in by_incident.values())


def exposure_match_directory(
    *, organization_ids: Iterable[int], directory_changed: bool = False
) -> int:
    """Point every exposure of these accounts at the directory user who has its phone,
    or at nobody when no one has it (any more). Where two people share a phone, the
    one imported first wins. Returns how many exposures changed.

    The rollups are refreshed when a match changed, or when `directory_changed` (a
    person's name or email did): their refresh time versions the exposed-users lists
    the cache keeps (exposures/paging.py), and a search by name reads the directory."""
    organization_ids = sorted(set(organization_ids))
    if not organization_ids:
        return 0
    q = connection.ops.quote_name
    exposure = q(Exposure._meta.db_table)
    directory_phone = q(DirectoryPhone._meta.db_table)
    distinct = "IS DISTINCT FROM" if connection.vendor == "postgresql" else "IS NOT"
    owner = f"""(
        SELECT MIN(dp.directory_user_id) FROM {directory_phone} AS dp
        WHERE dp.organization_id = {exposure}.organization_id AND dp.phone = {exposure}.phone
    )"""  # noqa: S608
    # Only rows whose match changes are written, so re-matching after a directory
    # import leaves the untouched majority alone.
    sql = f"""
        UPDATE {exposure} SET directory_user_id = {owner}
        WHERE organization_id IN ({_placeholders(organization_ids)})
            AND directory_user_id {distinct} {owner}
    """  # noqa: S608
    with transaction.atomic():
        with connection.cursor() as cursor:
            cursor.execute(sql, organization_ids)
            changed = cursor.rowcount
        if changed or directory_changed:
            # The matched and notified counts moved (or the names a search reads), in
            # whichever incidents they did.
            incidents = (
                Exposure.objects.filter(organization_id__in=organization_ids)
                .order_by()
                .values_list("incident_id", flat=True)
                .distinct()
            )
            for incident_id in list(incidents):
                exposure_rollup_refresh(incident_id=incident_id, organization_ids=organization_ids)
        return changed


# --- Publishing ------------------------------------------------------------------------


def incident_publish(*, incident: Incident, by, request=None) -> bool:
    """Draft to published, and the customer notice to every affected account.

    False if it was not a draft (any more): the conditional update makes two clicks, or
    two operators, publish it once. The customer-notice rows are made in the same
    transaction, so a published incident always has them (ScheduledEmail is the
    outbox); their sending is queued once it commits, and the minute sweep sends any
    that a lost message left behind.
    """
    now = timezone.now()
    with transaction.atomic():
        published = (
            Incident.objects.filter(pk=incident.pk, status=Incident.Status.DRAFT).update(
                status=Incident.Status.PUBLISHED, published_at=now
            )
            == 1
        )
        if published:
            incident.status, incident.published_at = Incident.Status.PUBLISHED, now
            notices = incident_customer_notices(incident)
            audit_record(
                action="incident.publish",
                actor=by,
                target=incident,
                request=request,
                details={"customer_notices": len(notices)},
            )
    return published


def incident_customer_notices(
    incident: Incident, *, organization_ids: Iterable[int] | None = None
) -> list[int]:
    """Tell notifications (its receiver makes the customer-notice rows, in this
    transaction, for every account with exposures not told yet, or only for
    `organization_ids`); returns their ids."""
    ids: list[int] = []
    for _, response in incident_exposures_published.send(
        sender=Incident,
        incident=incident,
        organization_ids=None if organization_ids is None else sorted(organization_ids),
    ):
        ids.extend(int(email_id) for email_id in response or ())
    return ids


def exposure_export_queue(*, member, incident: Incident, filters, reveal: bool, total: int):
    """An export job for a list too large to stream, made by log copies (which keeps
    the jobs, and sits above incidents) through a signal; returns the job."""
    for _, export in exposure_export_requested.send(
        sender=Incident,
        member=member,
        incident=incident,
        filters=filters,
        reveal=reveal,
        total=total,
    ):
        if export is not None:
            return export
    raise RuntimeError("No app makes exposure exports (portal.logcopies is not installed).")
