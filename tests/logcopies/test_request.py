from datetime import UTC, datetime, timedelta

import pytest
from django.core import mail

from portal.audit.models import AuditEvent
from portal.logcopies.models import LogCopyRequest
from portal.logcopies.services import (
    AUTO_APPROVED_REASON,
    LogCopyRefusedError,
    logcopy_approve,
    logcopy_reject,
    logcopy_request,
)
from portal.logcopies.tasks import logcopies_resume_stale
from tests import factories
from tests.email_links import assert_links_open

pytestmark = pytest.mark.django_db


@pytest.fixture
def ops():
    return factories.staff()


@pytest.fixture
def breach():
    return factories.incident()


def ask(acme, breach, sam, **fields):
    values = {"scope": "account", "format": "csv", "reason": "Our SOC needs the rows"}
    return logcopy_request(
        organization=acme, incident=breach, requester=sam, **{**values, **fields}
    )


def test_it_records_a_request_and_audits_it(acme, breach, sam):
    copy = ask(acme, breach, sam)

    assert copy.status == LogCopyRequest.Status.REQUESTED
    assert copy.requested_by == sam
    event = AuditEvent.objects.get(action="logcopy.request")
    assert event.actor == sam
    assert event.target_id == str(copy.public_id)


def test_it_requires_a_reason(acme, breach, sam):
    with pytest.raises(LogCopyRefusedError, match="why"):
        ask(acme, breach, sam, reason="  ")
    assert not LogCopyRequest.objects.exists()


def test_it_requires_an_ordered_range_within_the_incident_window(acme, breach, sam):
    start = datetime(2024, 3, 10, tzinfo=UTC)
    with pytest.raises(LogCopyRefusedError, match="after its start"):
        ask(acme, breach, sam, scope="date_range", scope_start=start, scope_end=start)
    with pytest.raises(LogCopyRefusedError, match="exposure window"):
        ask(
            acme, breach, sam, scope="date_range", scope_start=start,
            scope_end=datetime(2024, 5, 1, tzinfo=UTC),
        )  # fmt: skip
    with pytest.raises(LogCopyRefusedError, match="both"):
        ask(acme, breach, sam, scope="date_range", scope_start=start)

    copy = ask(
        acme, breach, sam, scope="date_range", scope_start=start,
        scope_end=start + timedelta(days=2),
    )  # fmt: skip
    assert copy.scope_end - copy.scope_start == timedelta(days=2)


def test_it_normalizes_chosen_phones(acme, breach, sam):
    copy = ask(
        acme, breach, sam, scope="chosen", scope_phones=["+1 212-555-0143", "+12125550143", ""]
    )
    assert copy.scope_phones == ["+12125550143"]


def test_it_refuses_a_chosen_scope_without_usable_phones(acme, breach, sam):
    with pytest.raises(LogCopyRefusedError, match="at least one"):
        ask(acme, breach, sam, scope="chosen", scope_phones=[])
    with pytest.raises(LogCopyRefusedError, match="international form"):
        ask(acme, breach, sam, scope="chosen", scope_phones=["not a phone"])


def test_it_approves_at_once_when_the_operator_policy_says_so(
    acme, breach, sam, media_root, django_capture_on_commit_callbacks
):
    acme.log_copy_auto_approve = True
    acme.save(update_fields=["log_copy_auto_approve"])
    factories.log_record(breach, acme)

    with django_capture_on_commit_callbacks(execute=True):
        copy = ask(acme, breach, sam)

    copy.refresh_from_db()
    assert copy.decided_by is None
    assert copy.decision_reason == AUTO_APPROVED_REASON
    # Generation was queued on commit (and ran eagerly here).
    assert copy.status == LogCopyRequest.Status.READY
    assert copy.rows == 1
    assert AuditEvent.objects.get(action="logcopy.approve").actor_label == "system"
    assert [m.to for m in mail.outbox] == [["sam@acme.example"]] * 2


def test_it_waits_for_the_operator_without_the_policy(acme, breach, sam):
    copy = ask(acme, breach, sam)
    assert copy.status == LogCopyRequest.Status.REQUESTED
    assert not mail.outbox


def test_it_approves_and_queues_generation(
    acme, breach, sam, ops, media_root, django_capture_on_commit_callbacks
):
    factories.log_record(breach, acme)
    copy = ask(acme, breach, sam)

    with django_capture_on_commit_callbacks(execute=True):
        logcopy_approve(copy=copy, by=ops, reason="Looks right")

    copy.refresh_from_db()
    assert copy.decided_by == ops
    assert copy.decision_reason == "Looks right"
    assert copy.status == LogCopyRequest.Status.READY
    assert AuditEvent.objects.get(action="logcopy.approve").actor == ops
    subjects = [m.subject for m in mail.outbox]
    assert subjects == [
        "Your log copy for March 2024 SMS logs is approved",
        "Your log copy for March 2024 SMS logs is ready",
    ]
    assert f"/log-copies/{copy.public_id}/" in mail.outbox[0].body


def test_it_refuses_to_approve_twice(acme, breach, sam, ops):
    copy = ask(acme, breach, sam)
    logcopy_approve(copy=copy, by=ops)

    with pytest.raises(LogCopyRefusedError, match="already decided"):
        logcopy_approve(copy=copy, by=ops)
    with pytest.raises(LogCopyRefusedError, match="already decided"):
        logcopy_reject(copy=copy, by=ops, reason="Changed my mind")
    assert AuditEvent.objects.filter(action="logcopy.approve").count() == 1


def test_it_rejects_with_a_reason_and_tells_the_requester(
    acme, breach, sam, ops, django_capture_on_commit_callbacks
):
    copy = ask(acme, breach, sam)
    with pytest.raises(LogCopyRefusedError):
        logcopy_reject(copy=copy, by=ops, reason="")

    with django_capture_on_commit_callbacks(execute=True):
        logcopy_reject(copy=copy, by=ops, reason="Ask your admin first")

    copy.refresh_from_db()
    assert copy.status == LogCopyRequest.Status.REJECTED
    assert copy.decided_by == ops
    assert AuditEvent.objects.get(action="logcopy.reject").details["reason"]
    assert len(mail.outbox) == 1
    assert "not approved" in mail.outbox[0].subject
    assert "Ask your admin first" in mail.outbox[0].body
    with pytest.raises(LogCopyRefusedError):
        logcopy_approve(copy=copy, by=ops)


def test_it_queues_again_a_copy_approved_long_ago(acme, breach, sam, ops, media_root):
    copy = ask(acme, breach, sam)
    logcopy_approve(copy=copy, by=ops)  # on_commit never runs: a lost message
    LogCopyRequest.objects.filter(pk=copy.pk).update(decided_at=datetime(2024, 1, 1, tzinfo=UTC))

    assert logcopies_resume_stale() == 1

    copy.refresh_from_db()
    assert copy.status == LogCopyRequest.Status.READY
    assert logcopies_resume_stale() == 0


def test_it_queues_again_a_copy_whose_generation_lease_lapsed(acme, breach, sam, media_root):
    copy = ask(acme, breach, sam)
    LogCopyRequest.objects.filter(pk=copy.pk).update(
        status=LogCopyRequest.Status.GENERATING,
        generated_at=factories.future(minutes=-1),
        lease_owner="elsewhere:4242",
        leased_until=factories.future(minutes=-0.1),
    )
    # Started long ago, but its worker renews the lease: slow, not dead.
    fresh = ask(acme, breach, sam)
    LogCopyRequest.objects.filter(pk=fresh.pk).update(
        status=LogCopyRequest.Status.GENERATING,
        generated_at=factories.future(minutes=-30),
        lease_owner="elsewhere:4242",
        leased_until=factories.future(minutes=0.4),
    )

    assert logcopies_resume_stale() == 1

    copy.refresh_from_db()
    fresh.refresh_from_db()
    assert copy.status == LogCopyRequest.Status.READY
    assert fresh.status == LogCopyRequest.Status.GENERATING


def test_every_link_in_the_decision_emails_opens_for_the_requester(
    acme, breach, sam, ops, client, media_root, django_capture_on_commit_callbacks
):
    factories.log_record(breach, acme)
    approved, rejected = ask(acme, breach, sam), ask(acme, breach, sam)

    with django_capture_on_commit_callbacks(execute=True):
        logcopy_approve(copy=approved, by=ops)
        logcopy_reject(copy=rejected, by=ops, reason="One is enough")

    assert len(mail.outbox) == 3  # approved, ready, not approved
    for message in mail.outbox:
        assert_links_open(client, sam, message.body)
