"""A campaign ready to dispatch, with as many recipients as a test needs (bulk-made).

Acme's directory users jdoe-0000, jdoe-0001, ... each have one exposed phone in the
incident (the first one two), an email unless told otherwise, and English, French or
German as their language in turn.
"""

from dataclasses import dataclass
from datetime import UTC, datetime

from django.utils import timezone

from notifications.models import NoticeCampaign
from notifications.notice_templates import rendering
from portal.accounts.models import Organization
from portal.incidents.models import DirectoryUser, Exposure, Incident
from tests import factories

LANGUAGES = ("en", "fr", "de")

SNAPSHOT = {
    "name": "Vigilance",
    "language": "en",
    "languages": {
        "en": {
            "subject": "{{ incident_title }}: be vigilant",
            "body_text": (
                "Hello {{ recipient_name }},\n"
                "{{ message_count }} messages to your phone ending {{ phone_last_digits }} "
                "were in stolen logs. Never share a code. Tell {{ contact_name }} "
                "({{ contact_email }}). Report: {{ report_link }}\n"
            ),
            "body_html": "<p>Hello {{ recipient_name }}</p><p>{{ report_link }}</p>",
        },
        "fr": {
            "subject": "{{ incident_title }} : restez vigilant",
            "body_text": "Bonjour {{ recipient_name }}, signalez : {{ report_link }}\n",
            "body_html": "",
        },
        "de": {
            "subject": "{{ incident_title }}: bleiben Sie wachsam",
            "body_text": "Hallo {{ recipient_name }}, melden: {{ report_link }}\n",
            "body_html": "",
        },
    },
}


@dataclass
class World:
    organization: Organization
    incident: Incident
    campaign: NoticeCampaign
    users: list[DirectoryUser]


def campaign_world(
    recipients: int = 3,
    *,
    without_email: int = 0,
    rate: int = 100_000,
    name: str = "Acme Corp",
    status: str = NoticeCampaign.Status.SCHEDULED,
) -> World:
    organization = factories.organization(
        name,
        contact_name="Sam Security",
        contact_email="security@acme.example",
        contact_phone="+1 212 555 0100",
        notice_rate_per_minute=rate,
    )
    incident = factories.incident()
    users = DirectoryUser.objects.bulk_create(
        [
            DirectoryUser(
                organization=organization,
                username=f"jdoe-{n:04d}",
                name=f"Jane Doe {n}",
                email="" if n >= recipients - without_email else f"jdoe-{n:04d}@acme.example",
                phones=[_phone(n)],
                language=LANGUAGES[n % len(LANGUAGES)],
            )
            for n in range(recipients)
        ]
    )
    seen = datetime(2024, 3, 1, 8, 0, tzinfo=UTC)
    exposures = [
        Exposure(
            organization=organization,
            incident=incident,
            phone=_phone(n),
            sms_count=2,
            voice_count=1,
            message_count=3,
            first_seen_at=seen,
            last_seen_at=seen,
            country="US",
            directory_user=user,
        )
        for n, user in enumerate(users)
    ]
    if users:
        exposures.append(
            Exposure(
                organization=organization,
                incident=incident,
                phone="+33612345678",
                sms_count=1,
                voice_count=0,
                message_count=1,
                first_seen_at=seen,
                last_seen_at=seen,
                country="FR",
                directory_user=users[0],
            )
        )
    Exposure.objects.bulk_create(exposures)
    campaign = NoticeCampaign.objects.create(
        organization=organization,
        incident=incident,
        name="Be vigilant",
        audience=NoticeCampaign.Audience.ALL_MATCHED,
        template_snapshot=SNAPSHOT,
        contact_snapshot=rendering.contact_snapshot(organization),
        status=status,
        scheduled_at=timezone.now(),
        launched_at=timezone.now(),
    )
    return World(organization=organization, incident=incident, campaign=campaign, users=users)


def _phone(n: int) -> str:
    return f"+1212555{n:04d}"
