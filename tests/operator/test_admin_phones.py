"""The Django admin shows phone numbers masked, as the customer pages do, and offers no
way round the mask: the operator has no audited reveal there, so no full number at all.

Olivia is an operator and a superuser (she may use /admin/)."""

import pytest

from portal.incidents.models import DirectoryPhone
from portal.logcopies.models import LogCopyRequest
from tests import factories
from tests.accounts.auth import signed_in

pytestmark = pytest.mark.django_db

JANE = "+12125550143"
# The number however a page could print it, whole.
WHOLE = ("2125550143", "212-555-0143", "212 555 0143", "(212) 555-0143")


@pytest.fixture
def superuser(olivia):
    olivia.is_superuser = True
    olivia.save(update_fields=["is_superuser"])
    return olivia


@pytest.fixture
def rows(acme):
    incident = factories.incident()
    jane = factories.directory_user(acme, "jdoe", phones=[JANE])
    DirectoryPhone.objects.create(organization=acme, directory_user=jane, phone=JANE)
    return {
        "exposure": factories.exposure(incident, acme, phone=JANE, directory_user=jane),
        "messagelogrecord": factories.log_record(incident, acme, phone=JANE),
        "directoryuser": jane,
        "logcopyrequest": LogCopyRequest.objects.create(
            organization=acme,
            incident=incident,
            scope=LogCopyRequest.Scope.CHOSEN,
            scope_phones=[JANE],
            reason="Jane reported a call",
        ),
    }


def assert_masked(html: str) -> None:
    assert "0143" in html  # the last digits, as on every page
    for whole in WHOLE:
        assert whole not in html


@pytest.mark.parametrize(
    ("model", "app"),
    [
        ("exposure", "incidents"),
        ("messagelogrecord", "incidents"),
        ("directoryuser", "incidents"),
        ("logcopyrequest", "logcopies"),
    ],
)
def test_it_shows_numbers_masked_on_the_change_page(client, superuser, rows, model, app):
    signed_in(client, superuser)

    response = client.get(f"/admin/{app}/{model}/{rows[model].pk}/change/")

    assert response.status_code == 200
    assert_masked(response.content.decode())


@pytest.mark.parametrize("model", ["exposure", "messagelogrecord"])
def test_it_shows_numbers_masked_in_the_list(client, superuser, rows, model):
    signed_in(client, superuser)

    response = client.get(f"/admin/incidents/{model}/")

    assert response.status_code == 200
    assert "+1 ••• ••• 0143" in response.content.decode()
    assert_masked(response.content.decode())


def test_deleting_a_person_lists_their_numbers_masked(client, superuser, rows):
    signed_in(client, superuser)

    response = client.get(f"/admin/incidents/directoryuser/{rows['directoryuser'].pk}/delete/")

    assert response.status_code == 200
    assert_masked(response.content.decode())


@pytest.mark.parametrize(
    ("path", "lookup"),
    [
        ("incidents/exposure", "phone__startswith=%2B1212"),
        ("incidents/exposure", "phone__endswith=50143"),
        ("incidents/messagelogrecord", "phone__contains=555"),
        ("incidents/directoryuser", "phones__icontains=555"),
        ("logcopies/logcopyrequest", "scope_phones__icontains=555"),
    ],
)
def test_no_address_filters_the_lists_by_phone_digits(client, superuser, rows, path, lookup):
    # Otherwise the row count would spell a number out digit by digit.
    signed_in(client, superuser)

    response = client.get(f"/admin/{path}/?{lookup}")

    assert response.status_code == 400
