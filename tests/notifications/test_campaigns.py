"""Composing and launching campaigns (DESIGN.md flow 7): the services behind the pages.

Acme (Paris time) has three exposed people in the breach: Jane (English, email), Luc
(French, email) and Nora (no email). Globex is another account.
"""

from datetime import UTC, datetime

import pytest
from django.core.exceptions import ValidationError

from notifications.audience import audience_count
from notifications.campaigns import services
from notifications.models import NoticeCampaign, NoticeTemplate
from portal.audit.models import AuditEvent
from portal.incidents.models import Incident
from tests import factories

pytestmark = pytest.mark.django_db
Status = NoticeCampaign.Status
Audience = NoticeCampaign.Audience


@pytest.fixture
def acme():
    return factories.organization(
        "Acme Corp",
        time_zone="Europe/Paris",
        contact_name="Acme Security Desk",
        contact_email="security@acme.example",
        contact_phone="+33 1 23 45 67 89",
    )


@pytest.fixture
def globex():
    return factories.organization("Globex", contact_name="G", contact_email="g@globex.example")


@pytest.fixture
def breach(acme):
    incident = factories.incident(title="Telephony provider breach")
    people = [
        ("jane", "Jane Doe", "jane@acme.example", "en", "+12125550143", "US"),
        ("luc", "Luc Martin", "luc@acme.example", "fr", "+33612345678", "FR"),
        ("nora", "Nora Blank", "", "en", "+12125550100", "US"),
    ]
    for username, name, email, language, phone, country in people:
        person = factories.directory_user(
            acme, username, name=name, email=email, language=language, phones=[phone]
        )
        factories.exposure(incident, acme, phone=phone, country=country, directory_user=person)
    return incident


@pytest.fixture
def template(acme):
    NoticeTemplate.objects.create(
        organization=acme,
        name="Our notice",
        language="fr",
        subject="Avis : {{ incident_title }}",
        body_text="Bonjour {{ recipient_name }}",
    )
    return NoticeTemplate.objects.create(
        organization=acme,
        name="Our notice",
        language="en",
        subject="About {{ incident_title }}",
        body_text="Hello {{ recipient_name }}, tell {{ contact_name }}.",
        body_html="<p>Hello {{ recipient_name }}</p>",
    )


@pytest.fixture
def dispatched(monkeypatch):
    """The dispatch task each launch enqueues after commit, recorded instead of run."""
    calls = []
    monkeypatch.setattr(services, "_dispatch_soon", lambda: calls.append("dispatch"))
    return calls


def draft(acme, breach, template, by=None, **fields):
    values = {
        "organization": acme,
        "by": by,
        "incident": breach,
        "template": template,
        "audience": Audience.ALL_MATCHED,
    }
    return services.notice_campaign_create(**{**values, **fields})


# Composing -----------------------------------------------------------------------


def test_it_creates_a_draft(acme, breach, template, alice):
    campaign = draft(acme, breach, template, by=alice)

    campaign.refresh_from_db()
    assert (campaign.status, campaign.incident, campaign.template, campaign.created_by) == (
        Status.DRAFT,
        breach,
        template,
        alice,
    )
    assert campaign.name == "Notice about Telephony provider breach"
    assert campaign.scheduled_at is None
    assert campaign.template_snapshot == {}


def test_it_keeps_a_filter_only_for_a_filter_audience(acme, breach, template):
    filtered = draft(
        acme,
        breach,
        template,
        audience=Audience.FILTER,
        audience_filter={"country": "FR", "carrier": ""},
    )
    everyone = draft(acme, breach, template, audience_filter={"country": "FR"})

    assert filtered.audience_filter == {"country": "FR"}
    assert everyone.audience_filter == {}
    assert audience_count(filtered).recipients == 1


def test_it_refuses_a_filter_it_does_not_know(acme, breach, template):
    with pytest.raises(ValidationError) as error:
        draft(
            acme,
            breach,
            template,
            audience=Audience.FILTER,
            audience_filter={"country": "FR", "favourite_colour": "blue"},
        )

    assert error.value.message_dict["audience_filter"] == ["Unknown filter: favourite_colour"]


def test_it_refuses_an_incident_the_account_may_not_use(acme, globex, template):
    draft_incident = factories.incident(status=Incident.Status.DRAFT)
    factories.exposure(draft_incident, acme)
    globex_only = factories.incident()
    factories.exposure(globex_only, globex)

    for incident in (draft_incident, globex_only):
        with pytest.raises(ValidationError) as error:
            draft(acme, incident, template)
        assert "incident" in error.value.message_dict


def test_it_refuses_another_accounts_template(acme, globex, breach):
    theirs = NoticeTemplate.objects.create(
        organization=globex, name="Theirs", subject="x", body_text="y"
    )

    with pytest.raises(ValidationError) as error:
        draft(acme, breach, theirs)

    assert "template" in error.value.message_dict


def test_it_takes_an_operator_default(acme, breach):
    default = NoticeTemplate.objects.create(
        organization=None, name="Operator test default", subject="s", body_text="b"
    )

    assert draft(acme, breach, default).template == default


def test_it_needs_people_for_a_chosen_audience(acme, globex, breach, template):
    stranger = factories.directory_user(globex, "stranger")

    with pytest.raises(ValidationError) as empty:
        draft(acme, breach, template, audience=Audience.CHOSEN)
    with pytest.raises(ValidationError) as foreign:
        draft(acme, breach, template, audience=Audience.CHOSEN, chosen_users=[stranger])

    assert "chosen_users" in empty.value.message_dict
    assert "chosen_users" in foreign.value.message_dict


def test_it_changes_a_draft_and_nothing_else(acme, breach, template, dispatched):
    campaign = draft(acme, breach, template)
    luc = breach.exposures.get(country="FR").directory_user

    services.notice_campaign_update(
        campaign=campaign,
        by=None,
        incident=breach,
        template=template,
        audience=Audience.CHOSEN,
        chosen_users=[luc],
        name="Only Luc",
        scheduled_at=datetime(2031, 1, 1, tzinfo=UTC),
    )
    campaign.refresh_from_db()
    assert (campaign.name, campaign.audience, list(campaign.chosen_users.all())) == (
        "Only Luc",
        Audience.CHOSEN,
        [luc],
    )

    services.notice_campaign_launch(campaign=campaign, by=None)
    with pytest.raises(ValidationError, match="only a draft can be changed"):
        services.notice_campaign_update(
            campaign=campaign, by=None, incident=breach, template=template, audience="all_matched"
        )


# Launching -----------------------------------------------------------------------


def test_it_launches_with_the_template_and_contact_frozen(
    acme, breach, template, alice, dispatched, django_capture_on_commit_callbacks
):
    campaign = draft(acme, breach, template, by=alice)

    with django_capture_on_commit_callbacks(execute=True):
        services.notice_campaign_launch(campaign=campaign, by=alice)

    campaign.refresh_from_db()
    assert campaign.status == Status.SCHEDULED
    assert campaign.launched_by == alice
    assert campaign.scheduled_at == campaign.launched_at
    assert campaign.template_snapshot["name"] == "Our notice"
    assert sorted(campaign.template_snapshot["languages"]) == ["en", "fr"]
    assert campaign.contact_snapshot["name"] == "Acme Security Desk"
    assert campaign.contact_snapshot["email"] == "security@acme.example"
    assert dispatched == ["dispatch"]
    # Later edits change nothing already launched.
    template.subject = "Changed"
    template.save()
    acme.contact_name = "Someone else"
    acme.save()
    campaign.refresh_from_db()
    assert campaign.template_snapshot["languages"]["en"]["subject"] == "About {{ incident_title }}"
    assert campaign.contact_snapshot["name"] == "Acme Security Desk"


def test_it_audits_the_launch_with_the_counts(acme, breach, template, alice, dispatched):
    campaign = draft(acme, breach, template, by=alice)

    services.notice_campaign_launch(campaign=campaign, by=alice)

    event = AuditEvent.objects.get(action="notice.launch")
    assert event.actor == alice
    assert event.organization == acme
    assert event.target_id == str(campaign.public_id)
    assert event.details["recipients"] == 2
    assert event.details["skipped_no_email"] == 1
    assert event.details["audience"] == "all_matched"


def test_it_keeps_the_time_it_was_scheduled_for(acme, breach, template, dispatched):
    later = datetime(2031, 6, 1, 7, 0, tzinfo=UTC)
    campaign = draft(acme, breach, template, scheduled_at=later)

    services.notice_campaign_launch(campaign=campaign, by=None)

    campaign.refresh_from_db()
    assert (campaign.status, campaign.scheduled_at) == (Status.SCHEDULED, later)


def test_it_launches_only_once(acme, breach, template, dispatched):
    campaign = draft(acme, breach, template)
    services.notice_campaign_launch(campaign=campaign, by=None)

    with pytest.raises(ValidationError, match="launched only once"):
        services.notice_campaign_launch(campaign=campaign, by=None)

    assert AuditEvent.objects.filter(action="notice.launch").count() == 1


def test_it_refuses_to_launch_without_a_designated_contact(acme, breach, template, dispatched):
    campaign = draft(acme, breach, template)
    acme.contact_email = ""
    acme.save()

    with pytest.raises(ValidationError, match="no designated contact: add an email address"):
        services.notice_campaign_launch(campaign=campaign, by=None)

    campaign.refresh_from_db()
    assert campaign.status == Status.DRAFT
    assert dispatched == []


def test_it_refuses_to_launch_to_no_one(acme, breach, template, dispatched):
    nora = breach.exposures.get(phone="+12125550100").directory_user
    campaign = draft(acme, breach, template, audience=Audience.CHOSEN, chosen_users=[nora])

    with pytest.raises(ValidationError, match="No one in this audience"):
        services.notice_campaign_launch(campaign=campaign, by=None)


def test_it_refuses_to_launch_when_the_template_is_gone(acme, breach, template, dispatched):
    campaign = draft(acme, breach, template)
    NoticeTemplate.objects.filter(name="Our notice").delete()
    campaign.refresh_from_db()

    with pytest.raises(ValidationError, match="template no longer exists"):
        services.notice_campaign_launch(campaign=campaign, by=None)
