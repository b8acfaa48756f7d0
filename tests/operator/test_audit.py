"""The operator's audit log: every account's events, and the operator's own."""

import csv
import io

from django.db import connection
from django.test.utils import CaptureQueriesContext

from portal.audit.models import AuditEvent
from portal.audit.services import audit_record


def listed(response) -> list[AuditEvent]:
    return list(response.context["page"].object_list)


def test_it_shows_every_event_to_staff(client, olivia, alice, acme, globex, charlie):
    audit_record(action="phone.reveal", actor=alice, organization=acme)
    audit_record(action="phone.reveal", actor=charlie, organization=globex)
    audit_record(action="signin.failure")
    client.force_login(olivia)

    response = client.get("/operator/audit/")

    assert response.status_code == 200
    actors = {event.actor_label for event in listed(response)}
    assert {"alice@acme.example", "charlie@globex.example", "system"} <= actors
    html = response.content.decode()
    assert "Globex" in html
    assert f"/operator/accounts/{acme.public_id}/" in html


def test_it_filters_by_account_with_its_members_sign_ins(
    client, olivia, alice, bob, acme, globex, charlie
):
    audit_record(action="phone.reveal", actor=alice, organization=acme)
    audit_record(action="signin.success", actor=bob)
    audit_record(action="phone.reveal", actor=charlie, organization=globex)
    audit_record(action="signin.success", actor=charlie)
    client.force_login(olivia)

    by_id = listed(client.get("/operator/audit/", {"account": "da9xk2acme"}))
    by_name = listed(
        client.get("/operator/audit/", {"account": "acme", "action_prefix": "signin."})
    )

    assert {(e.actor_label, e.action) for e in by_id} == {
        ("alice@acme.example", "phone.reveal"),
        ("bob@acme.example", "signin.success"),
    }
    assert [(e.actor_label, e.action) for e in by_name] == [("bob@acme.example", "signin.success")]


def test_it_exports_every_event_and_records_the_export(
    client, olivia, alice, acme, charlie, globex
):
    audit_record(action="phone.reveal", actor=alice, organization=acme)
    audit_record(action="phone.reveal", actor=charlie, organization=globex)
    client.force_login(olivia)

    response = client.get("/operator/audit/export.csv", {"action": "phone.reveal"})
    rows = list(csv.DictReader(io.StringIO(b"".join(response.streaming_content).decode())))

    assert response["Content-Disposition"].startswith('attachment; filename="vigil-audit-all-')
    assert {row["account_id"] for row in rows} == {"DA9XK2ACME", "DA7GLOBEX1"}
    export = AuditEvent.objects.get(action="audit.export")
    assert export.actor == olivia
    assert export.organization is None
    assert export.details == {"filters": {"action": "phone.reveal"}, "scope": "operator"}


def test_it_costs_the_same_queries_for_5_or_50_events(client, olivia, alice, acme):
    def add_events(n):
        for _ in range(n):
            audit_record(action="phone.reveal", actor=alice, organization=acme)

    client.force_login(olivia)
    add_events(4)  # with olivia's own sign-in, 5
    client.get("/operator/audit/")

    with CaptureQueriesContext(connection) as few:
        assert len(listed(client.get("/operator/audit/"))) == 5
    add_events(45)
    with CaptureQueriesContext(connection) as many:
        assert len(listed(client.get("/operator/audit/"))) == 50

    assert len(many) == len(few)
