"""Small factories: named people and accounts, as in healthchecks' tests.

Alice owns Acme; Bob is on her team; Charlie belongs to Globex, outside it.
"""

import itertools
from datetime import UTC, datetime, timedelta

from allauth.mfa.totp.internal.auth import TOTP, generate_totp_secret
from django.utils import timezone

from notifications.models import Delivery, NoticeCampaign
from portal.accounts.models import Membership, Organization, User
from portal.accounts.roles import Role
from portal.incidents.exposures.services import exposure_rollup_refresh, message_rollup_refresh
from portal.incidents.models import DirectoryUser, Exposure, Incident, MessageLogRecord

_sequence = itertools.count(1)
PASSWORD = "correct horse battery"


def organization(name: str = "Acme Corp", account_id: str | None = None, **fields) -> Organization:
    n = next(_sequence)
    return Organization.objects.create(name=name, account_id=account_id or f"DA{n:08d}", **fields)


def user(email: str, *, second_factor: bool = True, **fields) -> User:
    """A person who can sign in; with a TOTP factor unless told otherwise, since the
    portal sends anyone without one to enrol before anything else."""
    person = User.objects.create_user(email=email, password=PASSWORD, **fields)
    if second_factor:
        TOTP.activate(person, generate_totp_secret())
    return person


def member(org: Organization, email: str, role: str = Role.ADMIN, **fields) -> User:
    person = user(email, **fields)
    Membership.objects.create(user=person, organization=org, role=role)
    return person


def staff(email: str = "ops@vigil.example", **fields) -> User:
    return user(email, is_staff=True, **fields)


def incident(**fields) -> Incident:
    n = next(_sequence)
    defaults = {
        "slug": f"incident-{n}",
        "title": "March 2024 SMS logs",
        "provider": "the telephony provider",
        "window_start": datetime(2024, 3, 1, tzinfo=UTC),
        "window_end": datetime(2024, 4, 1, tzinfo=UTC),
        "status": Incident.Status.PUBLISHED,
    }
    return Incident.objects.create(**{**defaults, **fields})


def log_record(inc: Incident, org: Organization, **fields) -> MessageLogRecord:
    n = next(_sequence)
    defaults = {
        "provider_message_id": f"m-{n:06d}",
        "sent_at": datetime(2024, 3, 1, 8, 0, tzinfo=UTC) + timedelta(minutes=n),
        "phone": "+12125550143",
        "carrier": "Verizon Wireless",
        "country": "US",
        "region": "New York",
        "message_type": MessageLogRecord.MessageType.SMS,
    }
    record = MessageLogRecord.objects.create(
        incident=inc, organization=org, **{**defaults, **fields}
    )
    # As the import would, with the exposures: the dashboard reads the rollup.
    message_rollup_refresh(incident_id=inc.pk, organization_ids=[org.pk])
    return record


def directory_user(org: Organization, username: str = "jdoe", **fields) -> DirectoryUser:
    defaults = {"name": "Jane Doe", "email": f"{username}@acme.example", "phones": ["+12125550143"]}
    return DirectoryUser.objects.create(
        organization=org, username=username, **{**defaults, **fields}
    )


def exposure(inc: Incident, org: Organization, phone: str = "+12125550143", **fields) -> Exposure:
    defaults = {
        "sms_count": 1,
        "voice_count": 0,
        "message_count": 1,
        "first_seen_at": datetime(2024, 3, 1, 8, 0, tzinfo=UTC),
        "last_seen_at": datetime(2024, 3, 1, 8, 0, tzinfo=UTC),
        "country": "US",
    }
    made = Exposure.objects.create(
        incident=inc, organization=org, phone=phone, **{**defaults, **fields}
    )
    # As every writer of exposures does: the dashboard and the account home read it.
    exposure_rollup_refresh(incident_id=inc.pk, organization_ids=[org.pk])
    return made


def sent_delivery(campaign: NoticeCampaign, exposed: Exposure, **fields) -> Delivery:
    """A notice sent to the person behind `exposed`, as the sender leaves it: its report
    link works."""
    person = exposed.directory_user
    return Delivery.objects.create(
        campaign=campaign,
        organization=campaign.organization,
        directory_user=person,
        exposure=exposed,
        email=person.email,
        status=Delivery.Status.SENT,
        **fields,
    )


def future(**delta) -> datetime:
    return timezone.now() + timedelta(**delta)
