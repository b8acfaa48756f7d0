"""The database itself keeps the data right, whatever code writes to it."""

from datetime import UTC, datetime

import pytest
from django.db import IntegrityError, transaction

from notifications.models import Delivery, NoticeCampaign, NoticeTemplate
from portal.accounts.models import Membership
from portal.accounts.roles import Role
from portal.incidents.models import DirectoryPhone, Exposure
from tests import factories

pytestmark = pytest.mark.django_db


def _refused(create) -> None:
    with pytest.raises(IntegrityError), transaction.atomic():
        create()


@pytest.fixture
def acme():
    return factories.organization("Acme Corp", "DA7QK4M2ZP")


@pytest.fixture
def breach():
    return factories.incident()


def test_it_keeps_one_log_row_per_provider_message_id_per_incident(acme, breach):
    factories.log_record(breach, acme, provider_message_id="m-000001")

    _refused(lambda: factories.log_record(breach, acme, provider_message_id="m-000001"))

    # The same provider id in another incident is another message.
    factories.log_record(factories.incident(), acme, provider_message_id="m-000001")


def test_it_refuses_an_unknown_message_type(acme, breach):
    _refused(lambda: factories.log_record(breach, acme, message_type="fax"))


def test_it_keeps_one_exposure_per_account_incident_and_phone(acme, breach):
    factories.exposure(breach, acme, phone="+12125550143")

    _refused(lambda: factories.exposure(breach, acme, phone="+12125550143"))

    globex = factories.organization("Globex")
    factories.exposure(breach, globex, phone="+12125550143")
    assert Exposure.objects.filter(phone="+12125550143").count() == 2


def test_it_refuses_exposure_counts_that_do_not_add_up(acme, breach):
    _refused(lambda: factories.exposure(breach, acme, sms_count=2, voice_count=1, message_count=4))


def test_it_refuses_an_incident_window_that_ends_before_it_starts():
    _refused(
        lambda: factories.incident(
            window_start=datetime(2024, 4, 1, tzinfo=UTC),
            window_end=datetime(2024, 3, 1, tzinfo=UTC),
        )
    )


def test_it_keeps_one_membership_per_person_and_account(acme):
    alice = factories.member(acme, "alice@acme.example", Role.OWNER)

    _refused(lambda: Membership.objects.create(user=alice, organization=acme, role=Role.VIEWER))


def test_it_refuses_an_unknown_role(acme):
    _refused(lambda: factories.member(acme, "mallory@acme.example", role="god"))


def test_it_keeps_one_directory_entry_per_username_and_one_row_per_phone(acme):
    jane = factories.directory_user(acme, "jdoe")
    _refused(lambda: factories.directory_user(acme, "jdoe"))

    DirectoryPhone.objects.create(organization=acme, directory_user=jane, phone="+12125550143")
    _refused(
        lambda: DirectoryPhone.objects.create(
            organization=acme, directory_user=jane, phone="+12125550143"
        )
    )


def test_it_keeps_one_delivery_per_campaign_and_recipient(acme, breach):
    jane = factories.directory_user(acme, "jdoe")
    campaign = NoticeCampaign.objects.create(organization=acme, incident=breach)
    Delivery.objects.create(
        campaign=campaign, organization=acme, directory_user=jane, email=jane.email
    )

    _refused(
        lambda: Delivery.objects.create(
            campaign=campaign, organization=acme, directory_user=jane, email=jane.email
        )
    )

    other = NoticeCampaign.objects.create(organization=acme, incident=breach)
    Delivery.objects.create(
        campaign=other, organization=acme, directory_user=jane, email=jane.email
    )
    # Each delivery gets its own report token.
    assert len(set(Delivery.objects.values_list("report_token", flat=True))) == 2


def test_it_keeps_one_default_template_per_name_and_language():
    NoticeTemplate.objects.create(name="Vigilance", language="en", subject="s", body_text="b")

    _refused(
        lambda: NoticeTemplate.objects.create(
            name="Vigilance", language="en", subject="s", body_text="b"
        )
    )


def test_it_lets_each_account_have_its_own_template_of_the_same_name(acme):
    NoticeTemplate.objects.create(name="Vigilance", language="en", subject="s", body_text="b")
    NoticeTemplate.objects.create(
        organization=acme, name="Vigilance", language="en", subject="s", body_text="b"
    )

    _refused(
        lambda: NoticeTemplate.objects.create(
            organization=acme, name="Vigilance", language="en", subject="s", body_text="b"
        )
    )
