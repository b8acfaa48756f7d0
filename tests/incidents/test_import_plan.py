"""The publishing statement's plan on a busy table (PostgreSQL).

A dump going into a second incident once the big table holds another, with statistics
that know nothing of the new incident, once made the planner join each staged range
against a materialized scan of the incident's rows: each range slower than the last,
a million-row import unfinished after twelve minutes. The statement now has no join
against the big table at all; this test fails if one comes back."""

from datetime import UTC, datetime

import pytest
from django.db import connection, transaction

from portal.incidents.imports.loader import (
    StageWriter,
    publish_begin,
    publish_statement,
    stage_create,
    stage_drop,
    stage_publish,
)
from portal.incidents.models import ImportBatch, MessageLogRecord
from tests import factories

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]

LOG = MessageLogRecord._meta.db_table


def _fill_other_incident(incident, organization, rows: int) -> None:
    with connection.cursor() as cursor:
        cursor.execute(
            f"""
            INSERT INTO {LOG} (incident_id, organization_id, provider_message_id, sent_at,
                phone, carrier, country, region, region_code, message_type, context, extra)
            SELECT %s, %s, 'other-' || n, %s, '+1212555' || lpad((n %% 10000)::text, 4, '0'),
                'Verizon', 'US', 'NY', 'US-NY', 'sms', '', '{{}}'
            FROM generate_series(1, %s) AS n
            """,  # noqa: S608
            [incident.pk, organization.pk, datetime(2024, 3, 2, tzinfo=UTC), rows],
        )
        cursor.execute(f"ANALYZE {LOG}")


def _staged(batch, organization, lines: range) -> None:
    writer = StageWriter(batch)
    for line in lines:
        writer.add(
            (
                line,
                organization.pk,
                f"new-{line}",
                datetime(2024, 3, 3, tzinfo=UTC),
                f"+1415555{line % 10000:04d}",
                "T-Mobile",
                "US",
                "California",
                "US-CA",
                "sms",
                "",
                1,
                "{}",
            )
        )
    writer.flush()


def _nodes(plan: dict):
    yield plan
    for child in plan.get("Plans", ()):
        yield from _nodes(child)


def test_it_publishes_a_second_incident_without_joining_the_big_table(tmp_path, settings):
    settings.MEDIA_ROOT = str(tmp_path)
    acme = factories.organization("Acme Corp", account_id="DA7QK4M2ZP")
    first = factories.incident(slug="already-there")
    _fill_other_incident(first, acme, 50_000)
    second = factories.incident(slug="coming-in")
    batch = ImportBatch.objects.create(
        incident=second, upload="dump.csv", original_name="dump.csv", sha256="0", format="csv"
    )
    stage_create(batch, by_line=True)
    try:
        _staged(batch, acme, range(2, 20_002))
        with transaction.atomic():
            publish_begin()
            # The first range is in; the planner still has no statistics for it.
            inserted, _ = stage_publish(batch=batch, after_line=0, upto_line=10_001)
            assert inserted == 10_000
            sql, params = publish_statement(batch=batch, after_line=10_001, upto_line=20_001)
            with connection.cursor() as cursor:
                cursor.execute(f"EXPLAIN (FORMAT JSON) {sql}", params)
                [[explained]] = cursor.fetchall()
            inserted, _ = stage_publish(batch=batch, after_line=10_001, upto_line=20_001)
            assert inserted == 10_000
    finally:
        stage_drop(batch)

    nodes = list(_nodes(explained[0]["Plan"]))
    touching_log = [node for node in nodes if node.get("Relation Name") == LOG]
    assert [node["Node Type"] for node in touching_log] == ["ModifyTable"]
    insert = touching_log[0]
    assert insert["Operation"] == "Insert"
    assert insert["Conflict Resolution"] == "NOTHING"
    assert "log_record_message_unique" in insert["Conflict Arbiter Indexes"]
    assert not [node for node in nodes if node["Node Type"] in ("Nested Loop", "Materialize")]
    assert MessageLogRecord.objects.filter(incident=second).count() == 20_000


def test_it_skips_message_ids_the_incident_already_has_from_an_earlier_range(tmp_path, settings):
    settings.MEDIA_ROOT = str(tmp_path)
    acme = factories.organization("Acme Corp", account_id="DA7QK4M2ZP")
    incident = factories.incident()
    batch = ImportBatch.objects.create(
        incident=incident, upload="dump.csv", original_name="dump.csv", sha256="0", format="csv"
    )
    stage_create(batch, by_line=True)
    try:
        _staged(batch, acme, range(2, 12))
        _staged(batch, acme, range(12, 22))
        with connection.cursor() as cursor:
            # Lines 12-21 repeat the message ids of lines 2-11.
            cursor.execute(
                f"UPDATE import_stage_{batch.pk} SET provider_message_id = "  # noqa: S608
                "'new-' || (line - 10) WHERE line >= 12"
            )
        with transaction.atomic():
            publish_begin()
            first, _ = stage_publish(batch=batch, after_line=0, upto_line=11)
            second, _ = stage_publish(batch=batch, after_line=11, upto_line=21)
    finally:
        stage_drop(batch)

    assert (first, second) == (10, 0)
    assert MessageLogRecord.objects.filter(incident=incident).count() == 10
