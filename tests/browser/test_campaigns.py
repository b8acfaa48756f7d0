"""A vigilance notice campaign end to end in a real browser, under the enforced Content
Security Policy: an owner composes it from the incident's dashboard, previews it for
real recipients (the HTML in a sandboxed frame of its own), schedules it for later in
the account's time zone and launches it, then watches its page: when its time comes
the dispatcher runs (here, called from the test thread, as the minute sweep would; the
senders run eagerly with it) and the page turns to completed by itself.

`transaction=True`: the live server's thread has its own database connection.
"""

from datetime import UTC, timedelta
from zoneinfo import ZoneInfo

import pytest
from django.conf import settings
from django.core import mail
from django.test import Client
from django.utils import timezone
from playwright.sync_api import expect

from notifications.models import NoticeCampaign, NoticeTemplate
from portal.accounts.roles import Role
from portal.audit.models import AuditEvent
from portal.tasks import sweep_due_work
from tests import factories
from tests.accounts.auth import signed_in

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

PARIS = ZoneInfo("Europe/Paris")
HTML = (
    '<div style="font-family:Arial,sans-serif;max-width:560px;margin:0 auto;padding:24px;'
    'border-top:4px solid #2f6fb3;">'
    '<h1 style="font-size:20px;margin:0 0 12px 0;">Hello {{ recipient_name }},</h1>'
    '<p style="font-size:15px;line-height:1.5;">Our telephony provider was breached. The '
    "logs of {{ message_count }} sign-in messages to your phone ending in "
    "{{ phone_last_digits }} were copied, without their content.</p>"
    '<p style="font-size:15px;line-height:1.5;padding:10px 14px;background:#f6f8fa;'
    'border-left:3px solid #2f6fb3;"><strong>Never share a code and never approve a '
    "sign-in you did not start.</strong></p>"
    '<p style="font-size:15px;">Tell {{ contact_name }} ({{ contact_email }}) about anything '
    'odd, or <a href="{{ report_link }}" style="color:#2f6fb3;">report it here</a>.</p></div>'
)


def signed_in_browser(page, live_server, user) -> None:
    """A session as after password and second factor, just now, handed to the browser."""
    client = Client()
    signed_in(client, user)
    page.context.add_cookies(
        [
            {
                "name": settings.SESSION_COOKIE_NAME,
                "value": client.cookies[settings.SESSION_COOKIE_NAME].value,
                "url": live_server.url,
            }
        ]
    )


@pytest.fixture
def acme():
    acme = factories.organization(
        "Acme Corp",
        time_zone="Europe/Paris",
        contact_name="Acme Security Desk",
        contact_email="security@acme.example",
        contact_phone="+33 1 23 45 67 89",
    )
    NoticeTemplate.objects.create(
        organization=acme,
        name="Acme vigilance notice",
        language="en",
        subject="{{ account_name }}: beware of anyone asking for your sign-in codes",
        body_text="Hello {{ recipient_name }},\n\nNever share a code. Tell {{ contact_name }}.",
        body_html=HTML,
    )
    NoticeTemplate.objects.create(
        organization=acme,
        name="Acme vigilance notice",
        language="fr",
        subject="{{ account_name }} : méfiez-vous de quiconque demande vos codes",
        body_text="Bonjour {{ recipient_name }},\n\nNe partagez jamais un code.",
        body_html=HTML.replace("Hello", "Bonjour"),
    )
    return acme


@pytest.fixture
def breach(acme):
    incident = factories.incident(title="Telephony provider breach")
    people = [
        ("jdoe", "Jane Doe", "jane@acme.example", "en", "+12125550143", "US"),
        ("lmartin", "Luc Martin", "luc@acme.example", "fr", "+33612345678", "FR"),
        ("nblank", "Nora Blank", "", "en", "+12125550100", "US"),
    ]
    for username, name, email, language, phone, country in people:
        person = factories.directory_user(
            acme, username, name=name, email=email, language=language, phones=[phone]
        )
        factories.exposure(
            incident,
            acme,
            phone=phone,
            country=country,
            directory_user=person,
            sms_count=4,
            message_count=4,
        )
    return incident


def test_a_campaign_is_composed_previewed_scheduled_launched_and_completes(
    page, live_server, acme, breach, screenshot
):
    alice = factories.member(acme, "alice@acme.example", Role.OWNER)
    signed_in_browser(page, live_server, alice)

    # From the incident's dashboard to the compose form, the incident chosen.
    page.goto(f"{live_server.url}/o/{acme.public_id}/incidents/{breach.public_id}/")
    page.get_by_role("link", name="Send a vigilance notice").click()
    expect(page.get_by_label("Incident")).to_have_value(str(breach.public_id))
    expect(page.locator("[data-contact]")).to_contain_text("Acme Security Desk")
    page.get_by_label("Exposed users not yet notified").check()
    page.get_by_label("Template").select_option(label="Acme vigilance notice")
    page.get_by_label("At a time I choose").check()
    # An hour from now, as a person in Paris types it.
    when = (timezone.now() + timedelta(hours=1)).astimezone(PARIS).replace(second=0)
    page.get_by_label("Date and time").fill(when.strftime("%Y-%m-%dT%H:%M"))
    page.get_by_label("Name").fill("Breach notice, first wave")
    screenshot(page, "1-compose")
    page.get_by_role("button", name="Save and review").click()

    # The review: who gets it, who is skipped and why, the notice as Jane gets it.
    expect(page.locator("h1")).to_have_text("Review and launch")
    expect(page.locator("[data-recipients]")).to_have_text("2")
    expect(page.locator("[data-review-audience] [data-skipped]")).to_contain_text(
        "No email address in the directory: 1"
    )
    expect(page.locator("[data-when]")).to_contain_text(when.strftime("%H:%M") + " (Europe/Paris)")
    expect(page.locator("[data-preview-subject]")).to_have_text(
        "Acme Corp: beware of anyone asking for your sign-in codes"
    )
    frame = page.frame_locator("[data-preview-html]")
    expect(frame.get_by_role("heading")).to_have_text("Hello Jane Doe,")
    expect(frame.locator("body")).to_contain_text("phone ending in 0143")
    screenshot(page, "2-review")
    # Luc reads French.
    page.get_by_role("link", name="Another recipient").click()
    expect(page.locator("[data-preview-recipient]")).to_contain_text("Luc Martin")
    expect(page.locator("[data-preview-subject]")).to_contain_text("méfiez-vous")
    expect(page.frame_locator("[data-preview-html]").get_by_role("heading")).to_have_text(
        "Bonjour Luc Martin,"
    )
    screenshot(page, "3-review-french")

    page.get_by_role("button", name="Schedule it").click()
    expect(page.locator(".vigil-messages")).to_contain_text("The campaign is scheduled")
    progress = page.locator("#campaign-progress")
    expect(progress.locator("[data-status]")).to_have_text("Scheduled")
    expect(progress.locator("[data-waiting]")).to_contain_text(when.strftime("%H:%M"))
    campaign = NoticeCampaign.objects.get()
    assert campaign.status == NoticeCampaign.Status.SCHEDULED
    assert campaign.scheduled_at == when.replace(microsecond=0).astimezone(UTC)
    assert AuditEvent.objects.filter(action="notice.launch", actor=alice).exists()
    screenshot(page, "4-scheduled")

    # Its time comes: the minute sweep dispatches it, and the senders run with it.
    NoticeCampaign.objects.filter(pk=campaign.pk).update(scheduled_at=timezone.now())
    assert sweep_due_work()["campaigns_dispatched"] == 1

    # The page, polling, reloads itself once the status moves on.
    expect(progress.locator("[data-status]")).to_have_text("Completed", timeout=15_000)
    expect(progress.locator('[data-count="sent"]')).to_have_text("2")
    expect(progress.locator('[data-count="skipped"]')).to_have_text("1")
    expect(progress.locator('[data-count="pending"]')).to_have_text("0")
    expect(progress.locator("[data-percent]")).to_have_text("100%")
    expect(page.locator("[data-skipped-list] [data-reason]")).to_have_text(
        "No email address in the directory"
    )
    assert sorted(message.to[0] for message in mail.outbox) == [
        "jane@acme.example",
        "luc@acme.example",
    ]
    screenshot(page, "5-completed")

    # The list, and the dashboard's notified share.
    page.get_by_role("link", name="Notices").click()
    row = page.locator(f'tr[data-campaign="{campaign.public_id}"]')
    expect(row.locator("[data-status]")).to_have_text("Completed")
    screenshot(page, "6-list")
    page.goto(f"{live_server.url}/o/{acme.public_id}/incidents/{breach.public_id}/")
    expect(page.locator('[data-stat="notified"] [data-value]')).to_have_text("67%")
    screenshot(page, "7-dashboard")
