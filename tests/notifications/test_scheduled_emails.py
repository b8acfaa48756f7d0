"""Scheduled emails: the customer notice on publish, the daily reminder, the operator
staff's weekly summary, and the outbox rows that carry them (retries, no double send).

Acme (Berlin) and Initech are touched by the breach; Globex is not. Alice owns Acme,
Bob is an admin there, Sam is security staff and Vera a viewer: only Alice and Bob
hear about incidents.
"""

import threading
import time
from datetime import UTC, datetime, timedelta
from smtplib import SMTPServerDisconnected
from unittest import mock

import pytest
import time_machine
from django.conf import settings
from django.core import mail
from django.core.mail.backends import locmem
from django.db import close_old_connections, connection, transaction
from django.urls import reverse
from django.utils import timezone

from notifications.models import ScheduledEmail, SuspicionReport
from notifications.outbox import scheduled
from notifications.outbox import services as outbox
from portal.accounts.models import User
from portal.accounts.roles import Role
from portal.audit.models import AuditEvent
from portal.incidents.exposures.services import incident_publish
from portal.incidents.models import Incident
from portal.logcopies.models import LogCopyRequest
from tests import factories
from tests.accounts.auth import signed_in
from tests.email_links import assert_links_open
from tests.notifications.smtp_sink import SmtpSink, transient_then_accept

pytestmark = pytest.mark.django_db
Kind = ScheduledEmail.Kind
Status = ScheduledEmail.Status

# Friday 14 March 2025; Berlin is UTC+1 then.
FRIDAY_MORNING_BERLIN = datetime(2025, 3, 14, 8, 5, tzinfo=UTC)  # 09:05 in Berlin
FRIDAY_EARLY_BERLIN = datetime(2025, 3, 14, 7, 55, tzinfo=UTC)  # 08:55 in Berlin
MONDAY = datetime(2025, 3, 10, tzinfo=UTC)  # ISO week 2025-W11
# Every mailer the app makes sends through this (the test run's locmem backend).
SEND_MESSAGES = "django.core.mail.backends.locmem.EmailBackend.send_messages"


@pytest.fixture(autouse=True)
def _quiet_hour():
    """Monday 07:00 UTC unless a test says otherwise: before the weekly summary (08:00)
    and before Acme's reminder (09:00 in Berlin), so neither joins a test's mail."""
    with time_machine.travel(MONDAY + timedelta(hours=7), tick=True):
        yield


@pytest.fixture
def acme():
    return factories.organization("Acme Corp", account_id="DA9XK2ACME", time_zone="Europe/Berlin")


@pytest.fixture
def people(alice, bob, sam, vera):
    return {"alice": alice, "bob": bob, "sam": sam, "vera": vera}


@pytest.fixture
def initech():
    organization = factories.organization("Initech")
    factories.member(organization, "peter@initech.example", Role.OWNER)
    return organization


@pytest.fixture
def globex():
    organization = factories.organization("Globex")
    factories.member(organization, "charlie@globex.example", Role.OWNER)
    return organization


@pytest.fixture
def draft(acme, initech, globex):
    incident = factories.incident(
        title="Telephony provider breach",
        summary="An employee of the provider was phished.",
        status=Incident.Status.DRAFT,
    )
    jane = factories.directory_user(acme, "jdoe", phones=["+12125550143"])
    factories.exposure(incident, acme, phone="+12125550143", directory_user=jane)
    factories.exposure(incident, acme, phone="+12125550100", sms_count=4, message_count=4)
    factories.exposure(incident, initech, phone="+447700900123")
    return incident


@pytest.fixture
def ops():
    return factories.staff()


def publish(incident, by, on_commit, *, execute=True):
    with on_commit(execute=execute):
        assert incident_publish(incident=incident, by=by, request=None)


def acme_email(acme):
    return next(message for message in mail.outbox if "alice@acme.example" in message.to)


# Customer notice --------------------------------------------------------------------


def test_it_makes_one_customer_notice_per_affected_account_on_publish(
    draft, acme, initech, globex, people, ops, django_capture_on_commit_callbacks
):
    publish(draft, ops, django_capture_on_commit_callbacks, execute=False)

    rows = ScheduledEmail.objects.filter(kind=Kind.CUSTOMER_NOTICE)
    assert sorted(rows.values_list("organization__name", flat=True)) == ["Acme Corp", "Initech"]
    assert {row.key for row in rows} == {
        f"{draft.public_id}:{acme.public_id}",
        f"{draft.public_id}:{initech.public_id}",
    }
    assert set(rows.values_list("status", flat=True)) == {Status.PENDING}
    event = AuditEvent.objects.get(action="incident.publish")
    assert event.details == {"customer_notices": 2}


def test_it_sends_the_customer_notices_once_the_publish_commits(
    draft, acme, people, ops, django_capture_on_commit_callbacks
):
    publish(draft, ops, django_capture_on_commit_callbacks)

    assert len(mail.outbox) == 2
    assert acme_email(acme).to == ["alice@acme.example", "bob@acme.example"]
    assert ScheduledEmail.objects.filter(status=Status.SENT).count() == 2
    row = ScheduledEmail.objects.get(organization=acme)
    assert (row.recipients_count, row.attempts) == (2, 1)
    assert row.sent_at is not None


def test_it_tells_what_was_exposed_and_links_to_the_dashboard(
    draft, acme, people, ops, django_capture_on_commit_callbacks
):
    publish(draft, ops, django_capture_on_commit_callbacks)

    message = acme_email(acme)
    assert message.subject == "Security incident affecting Acme Corp: Telephony provider breach"
    body = message.body
    assert "An employee of the provider was phished." in body
    # The provider's window in UTC, then the account's equivalent (issue 15 point 8).
    assert (
        "during 1 March 2024 \N{EN DASH} 31 March 2024 (UTC), that is"
        " 1 March 2024 01:00 \N{EN DASH} 1 April 2024 02:00 in Europe/Berlin" in body
    )
    assert "no codes and no message text were exposed" in body
    assert "2 phone numbers and 5 messages" in body
    assert "1 person in your user directory has one of these numbers" in body
    dashboard = settings.SITE_URL + reverse(
        "incidents:dashboard", kwargs={"org": acme.public_id, "incident": draft.public_id}
    )
    assert dashboard in body
    assert message.extra_headers["Message-ID"].startswith("<customer-notice-")


def test_it_writes_to_no_one_outside_the_owners_and_admins(
    draft, acme, people, ops, django_capture_on_commit_callbacks
):
    people["bob"].is_active = False
    people["bob"].save(update_fields=["is_active"])

    publish(draft, ops, django_capture_on_commit_callbacks)

    everyone = {address for message in mail.outbox for address in message.to}
    assert everyone == {"alice@acme.example", "peter@initech.example"}


def test_it_makes_no_second_notice_when_publishing_again(
    draft, acme, people, ops, django_capture_on_commit_callbacks
):
    publish(draft, ops, django_capture_on_commit_callbacks)

    with django_capture_on_commit_callbacks(execute=True):
        assert not incident_publish(incident=draft, by=ops, request=None)
        assert scheduled.customer_notices_create(incident=draft) == []

    assert ScheduledEmail.objects.count() == 2
    assert len(mail.outbox) == 2


def test_it_publishes_from_the_operator_console_with_the_notices(
    client, draft, acme, people, ops, django_capture_on_commit_callbacks
):
    signed_in(client, ops)
    url = reverse("operator_incidents:publish", kwargs={"incident": draft.public_id})

    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(url, follow=True)

    assert "the owners and admins of each affected account are being emailed" in (
        response.content.decode()
    )
    assert len(mail.outbox) == 2


def test_it_leaves_unsent_notices_to_the_sweep(
    draft, acme, people, ops, django_capture_on_commit_callbacks
):
    publish(draft, ops, django_capture_on_commit_callbacks, execute=False)  # message lost

    assert scheduled.scheduled_emails_send_due() == 2
    assert scheduled.scheduled_emails_send_due() == 0
    assert len(mail.outbox) == 2


def test_it_fails_a_notice_for_an_account_with_nobody_to_write_to(
    draft, acme, ops, django_capture_on_commit_callbacks
):
    publish(draft, ops, django_capture_on_commit_callbacks)  # Acme has no members here

    row = ScheduledEmail.objects.get(organization=acme)
    assert row.status == Status.FAILED
    assert row.last_error == "The account has no owner or admin with an email address."


# Retries and claims -----------------------------------------------------------------


def pending_notice(draft, acme, ops, on_commit) -> ScheduledEmail:
    publish(draft, ops, on_commit, execute=False)
    ScheduledEmail.objects.exclude(organization=acme).delete()
    return ScheduledEmail.objects.get(organization=acme)


def test_it_keeps_a_failed_send_pending_with_its_error(
    draft, acme, people, ops, django_capture_on_commit_callbacks
):
    row = pending_notice(draft, acme, ops, django_capture_on_commit_callbacks)
    down = SMTPServerDisconnected("Connection to alice@acme.example's server lost")

    with mock.patch(SEND_MESSAGES, side_effect=down):
        assert scheduled.scheduled_emails_send_due() == 0

    row.refresh_from_db()
    assert (row.status, row.attempts) == (Status.PENDING, 1)
    assert row.last_error == "SMTPServerDisconnected: Connection to [address]'s server lost"


def test_it_retries_after_1_2_4_and_8_minutes_and_gives_up_after_five_attempts(
    draft, acme, people, ops, django_capture_on_commit_callbacks
):
    row = pending_notice(draft, acme, ops, django_capture_on_commit_callbacks)
    now, waits = timezone.now(), []

    with mock.patch(SEND_MESSAGES, side_effect=OSError("refused")):
        for _ in range(outbox.MAX_ATTEMPTS + 2):
            assert scheduled.scheduled_emails_send_due(now=now) == 0
            row.refresh_from_db()
            if row.next_attempt_at is None:
                break
            # Not before its time: a sweep a second early leaves it alone.
            scheduled.scheduled_emails_send_due(now=row.next_attempt_at - timedelta(seconds=1))
            waits.append(round((row.next_attempt_at - now).total_seconds() / 60))
            now = row.next_attempt_at

    row.refresh_from_db()
    assert waits == [1, 2, 4, 8]
    assert (row.status, row.attempts) == (Status.FAILED, outbox.MAX_ATTEMPTS)
    assert row.last_error == "OSError: refused"


def test_it_sends_on_a_later_sweep_after_a_failure(
    draft, acme, people, ops, django_capture_on_commit_callbacks
):
    row = pending_notice(draft, acme, ops, django_capture_on_commit_callbacks)
    now = timezone.now()
    with mock.patch(SEND_MESSAGES, side_effect=OSError("refused")):
        scheduled.scheduled_emails_send_due(now=now)

    assert scheduled.scheduled_emails_send_due(now=now) == 0  # not due yet
    assert scheduled.scheduled_emails_send_due(now=now + timedelta(minutes=1)) == 1

    row.refresh_from_db()
    assert (row.status, row.attempts, row.last_error) == (Status.SENT, 2, "")
    assert row.next_attempt_at is None
    assert len(mail.outbox) == 1


def test_it_sends_nothing_for_a_row_someone_else_claimed_meanwhile(
    draft, acme, people, ops, django_capture_on_commit_callbacks
):
    row = pending_notice(draft, acme, ops, django_capture_on_commit_callbacks)
    real_filter = ScheduledEmail.objects.filter

    def claimed_by_another_sweep_after_the_read(*args, **kwargs):
        # The other sweep's claim lands between this one's read and its claim.
        if "attempts" in kwargs:
            real_filter(pk=row.pk).update(attempts=kwargs["attempts"] + 1)
        return real_filter(*args, **kwargs)

    with mock.patch.object(
        ScheduledEmail.objects, "filter", side_effect=claimed_by_another_sweep_after_the_read
    ):
        sent = outbox.outbox_email_send(email_id=row.pk, now=datetime.now(UTC))

    assert sent is False
    assert mail.outbox == []


@pytest.mark.django_db(transaction=True)
def test_two_sweeps_at_once_send_each_email_once(acme, people, ops):
    draft = factories.incident(status=Incident.Status.DRAFT)
    factories.exposure(draft, acme)
    with transaction.atomic():
        incident_publish(incident=draft, by=ops, request=None)
    mail.outbox.clear()  # the on-commit send ran; make the row pending again
    ScheduledEmail.objects.update(status=Status.PENDING, attempts=0, sent_at=None)
    real_send = locmem.EmailBackend.send_messages

    def slow_send(self, messages):
        time.sleep(0.5)  # the other sweep arrives while this one is sending
        return real_send(self, messages)

    results: list[int] = []

    def sweep():
        try:
            results.append(scheduled.scheduled_emails_send_due())
        finally:
            close_old_connections()
            connection.close()

    with mock.patch.object(locmem.EmailBackend, "send_messages", slow_send):
        threads = [threading.Thread(target=sweep) for _ in range(2)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=30)

    assert sorted(results) == [0, 1]
    assert len(mail.outbox) == 1
    assert ScheduledEmail.objects.get().attempts == 1


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_it_skips_a_row_another_sweep_holds_on_postgresql(acme, people, ops):
    draft = factories.incident(status=Incident.Status.DRAFT)
    factories.exposure(draft, acme)
    with transaction.atomic():
        incident_publish(incident=draft, by=ops, request=None)
    mail.outbox.clear()
    row = ScheduledEmail.objects.get()
    ScheduledEmail.objects.update(status=Status.PENDING, attempts=0)
    holding, release = threading.Event(), threading.Event()

    def hold():
        try:
            with transaction.atomic():
                ScheduledEmail.objects.select_for_update().get(pk=row.pk)
                holding.set()
                release.wait(timeout=10)
        finally:
            connection.close()

    holder = threading.Thread(target=hold)
    holder.start()
    assert holding.wait(timeout=10)
    started = time.monotonic()
    try:
        sent = outbox.outbox_email_send(email_id=row.pk, now=datetime.now(UTC))
    finally:
        release.set()
        holder.join(timeout=10)

    assert sent is False
    assert time.monotonic() - started < 2  # skipped, not waited for
    assert mail.outbox == []


# Daily reminder -----------------------------------------------------------------------


@pytest.fixture
def published(acme, people):
    """Acme's incident, published, with Jane (two phones) and John not notified yet."""
    incident = factories.incident(title="Telephony provider breach")
    jane = factories.directory_user(acme, "jdoe", phones=["+12125550143", "+12125550144"])
    john = factories.directory_user(acme, "jsmith", name="John Smith", phones=["+12125550100"])
    factories.exposure(incident, acme, phone="+12125550143", directory_user=jane)
    factories.exposure(incident, acme, phone="+12125550144", directory_user=jane)
    factories.exposure(incident, acme, phone="+12125550100", directory_user=john)
    factories.exposure(incident, acme, phone="+12125550199")  # nobody's, in the directory
    return incident


def sweep_at(moment: datetime) -> int:
    with time_machine.travel(moment, tick=False):
        return scheduled.scheduled_emails_send_due()


def reminders():
    return [message for message in mail.outbox if message.subject.startswith("Reminder")]


def test_it_reminds_the_owners_and_admins_at_nine_in_the_accounts_morning(acme, published):
    assert sweep_at(FRIDAY_EARLY_BERLIN) == 0
    assert sweep_at(FRIDAY_MORNING_BERLIN) == 1

    message = reminders()[0]
    assert message.to == ["alice@acme.example", "bob@acme.example"]
    assert message.subject == "Reminder: 2 exposed users of Acme Corp not notified yet"
    row = ScheduledEmail.objects.get(kind=Kind.DAILY_REMINDER)
    assert row.key == f"{acme.public_id}:2025-03-14"
    acme.refresh_from_db()
    assert acme.last_reminder_sent_at == FRIDAY_MORNING_BERLIN


def test_it_says_how_many_and_where_to_send_a_notice(acme, published):
    sweep_at(FRIDAY_MORNING_BERLIN)

    body = reminders()[0].body
    assert "2 users of Acme Corp whose phones were in the stolen message logs" in body
    assert "- Telephony provider breach: 2 not notified yet" in body
    assert f"{settings.SITE_URL}/o/{acme.public_id}/notices/" in body
    assert settings.SITE_URL + reverse("accounts:settings", kwargs={"org": acme.public_id}) in body
    assert "after 9:00 (Europe/Berlin)" in body


def test_it_reminds_once_a_day(acme, published):
    sweep_at(FRIDAY_MORNING_BERLIN)
    sweep_at(FRIDAY_MORNING_BERLIN + timedelta(hours=5))
    sweep_at(FRIDAY_MORNING_BERLIN + timedelta(days=1))

    assert len(reminders()) == 2
    keys = ScheduledEmail.objects.filter(kind=Kind.DAILY_REMINDER).values_list("key", flat=True)
    assert sorted(keys) == [
        f"{acme.public_id}:2025-03-14",
        f"{acme.public_id}:2025-03-15",
    ]


def test_it_follows_the_accounts_own_calendar_day(published):
    tokyo = factories.organization("Tokyo KK", time_zone="Asia/Tokyo")
    factories.member(tokyo, "kenji@tokyo.example", Role.OWNER)
    yuki = factories.directory_user(tokyo, "yuki", phones=["+819012345678"])
    factories.exposure(published, tokyo, phone="+819012345678", directory_user=yuki)

    sweep_at(datetime(2025, 3, 14, 0, 30, tzinfo=UTC))  # 09:30 in Tokyo, 01:30 in Berlin

    row = ScheduledEmail.objects.get(kind=Kind.DAILY_REMINDER)
    assert row.key == f"{tokyo.public_id}:2025-03-14"
    assert [message.to for message in reminders()] == [["kenji@tokyo.example"]]


def test_it_stops_once_everyone_is_notified(acme, published):
    sweep_at(FRIDAY_MORNING_BERLIN)
    # One of Jane's phones is enough: a person is notified once per incident.
    published.exposures.filter(phone__in=["+12125550143", "+12125550100"]).update(
        last_notified_at=FRIDAY_MORNING_BERLIN
    )

    sweep_at(FRIDAY_MORNING_BERLIN + timedelta(days=1))

    assert len(reminders()) == 1


def test_it_drops_a_reminder_whose_people_were_notified_before_it_left(acme, published):
    with time_machine.travel(FRIDAY_MORNING_BERLIN, tick=False):
        scheduled.daily_reminders_create_due(now=FRIDAY_MORNING_BERLIN)
        published.exposures.update(last_notified_at=FRIDAY_MORNING_BERLIN)
        assert (
            outbox.outbox_send(email_ids=ScheduledEmail.objects.values_list("pk", flat=True)) == 0
        )

    assert reminders() == []
    assert not ScheduledEmail.objects.exists()


def test_it_sends_no_reminder_when_the_account_turned_it_off(acme, published):
    acme.daily_reminder_enabled = False
    acme.save(update_fields=["daily_reminder_enabled"])

    sweep_at(FRIDAY_MORNING_BERLIN)

    assert reminders() == []


def test_it_counts_no_draft_incident(acme, people):
    draft = factories.incident(status=Incident.Status.DRAFT)
    jane = factories.directory_user(acme, "jdoe")
    factories.exposure(draft, acme, directory_user=jane)

    sweep_at(FRIDAY_MORNING_BERLIN)

    assert reminders() == []


def test_it_names_people_without_an_email_but_is_not_kept_going_by_them(acme, published):
    nomail = factories.directory_user(acme, "nomail", email="", phones=["+12125550111"])
    factories.exposure(published, acme, phone="+12125550111", directory_user=nomail)

    sweep_at(FRIDAY_MORNING_BERLIN)
    body = reminders()[0].body
    assert "2 not notified yet, and 1 more without an email address in your directory" in body
    assert "Users without an email address in your directory cannot get a notice" in body

    published.exposures.exclude(directory_user=nomail).update(
        last_notified_at=FRIDAY_MORNING_BERLIN
    )
    sweep_at(FRIDAY_MORNING_BERLIN + timedelta(days=1))
    assert len(reminders()) == 1


# Weekly summary -----------------------------------------------------------------------


@pytest.fixture
def week(acme, published, ops):
    """The state the summary reports: a published incident, one notified person, log
    copies in several states, and reports from this week and from long ago."""
    published.exposures.filter(phone="+12125550100").update(last_notified_at=MONDAY)
    for status in ("requested", "approved", "ready"):
        LogCopyRequest.objects.create(
            organization=acme, incident=published, reason="SOC", status=status
        )
    for _ in range(2):
        SuspicionReport.objects.create(
            organization=acme, incident=published, channel="call", occurred_at=MONDAY
        )
    old = SuspicionReport.objects.create(
        organization=acme, incident=published, channel="sms", occurred_at=MONDAY
    )
    SuspicionReport.objects.filter(pk=old.pk).update(created_at=MONDAY - timedelta(days=30))
    factories.incident(title="Not yet published", status=Incident.Status.DRAFT)
    return published


def summaries():
    return [message for message in mail.outbox if message.subject.startswith("Vigil weekly")]


def test_it_sends_the_weekly_summary_on_monday_from_eight_utc(week, ops):
    with time_machine.travel(MONDAY + timedelta(hours=7, minutes=59), tick=False):
        scheduled.scheduled_emails_send_due()
    assert summaries() == []

    with time_machine.travel(MONDAY + timedelta(hours=8), tick=False):
        scheduled.scheduled_emails_send_due()

    assert len(summaries()) == 1
    assert summaries()[0].subject == "Vigil weekly summary, 2025-W11"
    assert ScheduledEmail.objects.get(kind=Kind.WEEKLY_SUMMARY).key == "2025-W11"


def test_it_sends_the_summary_once_a_week_even_after_a_missed_monday(week, ops):
    for moment in (
        MONDAY + timedelta(days=1, hours=3),  # the sweep was down on Monday
        MONDAY + timedelta(days=3),
        MONDAY + timedelta(days=7, hours=8),
    ):
        with time_machine.travel(moment, tick=False):
            scheduled.scheduled_emails_send_due()

    assert [message.subject[-8:] for message in summaries()] == ["2025-W11", "2025-W12"]


def test_it_sends_the_summary_to_active_staff_only(week, ops, people):
    factories.staff("gone@vigil.example", is_active=False)
    factories.staff("ada@vigil.example")

    with time_machine.travel(MONDAY + timedelta(hours=9), tick=False):
        scheduled.scheduled_emails_send_due()

    assert summaries()[0].to == ["ada@vigil.example", "ops@vigil.example"]


def test_it_summarises_each_published_incident(week, ops):
    with time_machine.travel(MONDAY + timedelta(hours=9), tick=False):
        scheduled.scheduled_emails_send_due()

    body = summaries()[0].body
    assert "Telephony provider breach" in body
    assert "Not yet published" not in body
    assert "Accounts affected:               1" in body
    assert "Exposed phones:                  4, 3 matched to a directory user" in body
    assert "Notified:                        33% of the matched phones (1 of 3)" in body
    assert "Open log-copy requests:          2, 1 waiting for approval" in body
    assert "Suspicion reports, last 7 days:  2" in body
    assert (
        settings.SITE_URL
        + reverse("operator_incidents:detail", kwargs={"incident": week.public_id})
        in body
    )


def test_it_sends_no_summary_when_nothing_is_published(ops):
    with time_machine.travel(MONDAY + timedelta(hours=9), tick=False):
        scheduled.scheduled_emails_send_due()

    assert summaries() == []
    assert not ScheduledEmail.objects.exists()


def test_the_minute_sweep_sends_them(acme, published):
    from portal.tasks import sweep_due_work

    with time_machine.travel(FRIDAY_MORNING_BERLIN, tick=False):
        done = sweep_due_work.apply().get()

    assert done["scheduled_emails_sent"] == 1


# Through a real SMTP server ------------------------------------------------------------


@pytest.fixture
def smtp(settings):
    server = SmtpSink(transient_then_accept(times=1)).start()
    settings.MAILERS = {"default": server.mailer()}
    yield server
    server.stop()


def test_it_sends_a_sweeps_emails_over_one_connection_and_retries_a_4xx(
    smtp, draft, acme, people, ops, django_capture_on_commit_callbacks
):
    publish(draft, ops, django_capture_on_commit_callbacks, execute=False)

    assert scheduled.scheduled_emails_send_due() == 0  # every address answered 451 once
    rows = ScheduledEmail.objects.order_by("pk")
    assert [(row.status, row.attempts) for row in rows] == [(Status.PENDING, 1)] * 2
    assert rows[0].last_error.startswith("SMTPRecipientsRefused")
    assert "@" not in rows[0].last_error

    later = timezone.now() + timedelta(minutes=1)
    assert scheduled.scheduled_emails_send_due(now=later) == 2
    assert smtp.sessions == 2  # one connection a sweep, not one a message
    assert sorted(smtp.copies()) == sorted(f"<customer-notice-{row.pk}@localhost>" for row in rows)


# Every link an email holds opens a page for the people it goes to ------------------


def test_every_link_in_the_customer_notice_opens_for_its_recipients(
    draft, acme, people, ops, client, django_capture_on_commit_callbacks
):
    publish(draft, ops, django_capture_on_commit_callbacks)

    assert_links_open(client, people["alice"], acme_email(acme).body)


def test_every_link_in_the_daily_reminder_opens_for_its_recipients(acme, people, published, client):
    sweep_at(FRIDAY_MORNING_BERLIN)

    body = reminders()[0].body
    assert_links_open(client, people["alice"], body)
    # Bob, an admin, is told the settings link is an owner's.
    settings_page = reverse("accounts:settings", kwargs={"org": acme.public_id})
    assert "An owner of the account can turn it off in the account settings" in body
    assert_links_open(client, people["bob"], body, but=(settings_page,))


def test_every_link_in_the_weekly_summary_opens_for_staff(week, ops, client):
    with time_machine.travel(MONDAY + timedelta(hours=9), tick=False):
        scheduled.scheduled_emails_send_due()

    assert_links_open(client, ops, summaries()[0].body)


# In each recipient's language ---------------------------------------------------------


def speaking(**languages):
    for email, language in languages.items():
        User.objects.filter(email=f"{email}@acme.example").update(language=language)


def test_it_sends_the_customer_notice_once_per_language_among_its_recipients(
    draft, acme, people, ops, django_capture_on_commit_callbacks
):
    speaking(alice="fr", bob="de")

    publish(draft, ops, django_capture_on_commit_callbacks)

    french, german = (
        next(message for message in mail.outbox if message.to == [address])
        for address in ("alice@acme.example", "bob@acme.example")
    )
    assert french.subject == "Incident de sécurité touchant Acme Corp : Telephony provider breach"
    assert french.extra_headers["Content-Language"] == "fr"
    assert "Ce qui a été exposé" in french.body
    assert "pendant la période 1 mars 2024 \N{EN DASH} 31 mars 2024 (UTC)" in french.body
    assert "les journaux contiennent 2 numéros de téléphone et 5 messages." in french.body
    assert (
        "1 personne de votre annuaire a l\N{RIGHT SINGLE QUOTATION MARK}un de ces numéros."
        in french.body
    )
    assert german.subject == "Sicherheitsvorfall bei Acme Corp: Telephony provider breach"
    assert german.extra_headers["Content-Language"] == "de"
    assert "im Zeitraum 1. März 2024 \N{EN DASH} 31. März 2024 (UTC)" in german.body
    assert "enthalten die Protokolle 2 Telefonnummern und 5 Nachrichten." in german.body
    # One row, two messages, each with its own id; the initech notice is the third.
    assert len(mail.outbox) == 3
    row = ScheduledEmail.objects.get(organization=acme)
    assert (row.status, row.recipients_count) == (Status.SENT, 2)
    assert french.extra_headers["Message-ID"].startswith(f"<customer-notice-{row.pk}-fr@")
    assert german.extra_headers["Message-ID"].startswith(f"<customer-notice-{row.pk}-de@")


def test_it_groups_the_recipients_who_share_a_language(
    draft, acme, people, ops, django_capture_on_commit_callbacks
):
    speaking(alice="de", bob="de")

    publish(draft, ops, django_capture_on_commit_callbacks)

    message = acme_email(acme)
    assert message.to == ["alice@acme.example", "bob@acme.example"]
    assert message.subject.startswith("Sicherheitsvorfall bei Acme Corp")
    assert message.extra_headers["Message-ID"].startswith("<customer-notice-")
    assert "-de@" not in message.extra_headers["Message-ID"]  # one message, the usual id


def test_it_writes_in_the_portals_language_to_a_member_who_never_chose(acme, published):
    speaking(bob="fr")

    sweep_at(FRIDAY_MORNING_BERLIN)

    english = next(message for message in mail.outbox if message.to == ["alice@acme.example"])
    french = next(message for message in mail.outbox if message.to == ["bob@acme.example"])
    assert english.subject == "Reminder: 2 exposed users of Acme Corp not notified yet"
    assert english.extra_headers["Content-Language"] == "en"
    assert french.subject == "Rappel : 2 utilisateurs exposés de Acme Corp pas encore avisés"
    assert (
        "2 utilisateurs de Acme Corp dont les téléphones figuraient dans les journaux"
        " de messages volés n\N{RIGHT SINGLE QUOTATION MARK}ont pas encore reçu d\N{RIGHT SINGLE QUOTATION MARK}avis de vigilance."
        in french.body
    )
    assert "- Telephony provider breach : 2 pas encore avisés" in french.body
    assert "après 9 h (Europe/Berlin)" in french.body


def test_it_sends_the_daily_reminder_in_german(acme, published):
    speaking(alice="de", bob="de")

    sweep_at(FRIDAY_MORNING_BERLIN)

    message = reminders_in("Erinnerung")[0]
    assert message.to == ["alice@acme.example", "bob@acme.example"]
    assert message.subject == (
        "Erinnerung: 2 betroffene Benutzer von Acme Corp noch nicht benachrichtigt"
    )
    assert "- Telephony provider breach: 2 noch nicht benachrichtigt" in message.body
    assert "Diese Erinnerung kommt einmal täglich nach 9:00 Uhr (Europe/Berlin)" in message.body
    assert settings.SITE_URL + reverse("accounts:settings", kwargs={"org": acme.public_id}) in (
        message.body
    )


def reminders_in(word: str):
    return [message for message in mail.outbox if message.subject.startswith(word)]


def test_every_link_in_a_french_and_a_german_reminder_opens(acme, people, published, client):
    speaking(alice="fr", bob="de")
    sweep_at(FRIDAY_MORNING_BERLIN)

    french, german = sorted(mail.outbox, key=lambda message: message.to)
    assert french.subject.startswith("Rappel")
    assert german.subject.startswith("Erinnerung")
    assert_links_open(client, people["alice"], french.body)
    # Bob, an admin, is told the settings link is an owner's.
    settings_page = reverse("accounts:settings", kwargs={"org": acme.public_id})
    assert_links_open(client, people["bob"], german.body, but=(settings_page,))
