"""Schemathesis over the whole API (issue 16 point 5): every operation of the schema the
API serves at /api/v1/openapi.json, called with a key of each role's capabilities,
answers no 5xx, and every answer matches the schema: a documented status code, its
content type, its body, its headers.

The calls go through the Django WSGI application in this process, on the test's own
database transaction (PostgreSQL in CI). Acme has one of everything, so that a
generated call reaches real objects as well as made-up ids: about half the positive
cases of an operation with an id in its path get the id of Acme's object of that kind
(a ready log copy and a download link for it, a draft campaign, a new report, an
incident and an exposure).

Bounded: ten generated examples per operation and role, besides schemathesis' own
examples and coverage cases (derandomized under CI=true by the Hypothesis profile in
tests/conftest.py): 72 tests (18 operations, 4 roles), about 3,700 checked calls, in one to
two minutes on a shared two-core machine.
"""

import zlib
from datetime import timedelta

import pytest
import schemathesis
from django.core.files.base import ContentFile
from django.core.signals import request_finished, request_started
from django.db import close_old_connections
from django.utils import timezone
from hypothesis import HealthCheck, settings
from schemathesis.specs.openapi.checks import positive_data_acceptance

from notifications.models import Delivery, NoticeCampaign, NoticeTemplate, SuspicionReport
from portal.accounts.roles import Role
from portal.logcopies.models import LogCopyRequest
from portal.logcopies.signing import api_download_token_make
from portal.wsgi import application
from tests import factories
from tests.api.conftest import API
from tests.conftest import CI

pytestmark = pytest.mark.django_db

schema = schemathesis.openapi.from_wsgi(f"{API}/openapi.json", application)
# The key is the test's own, sent with every call: not a parameter to generate or to
# break. A query parameter the API does not know is ignored, as HTTP APIs do, rather
# than refused: not a negative case here.
schema.config.generation.update(
    with_security_parameters=False, allow_extra_parameters=False, deterministic=CI
)

ROLES = [Role.OWNER, Role.ADMIN, Role.SECURITY, Role.VIEWER]


@pytest.fixture
def one_connection():
    """Django's handler closes the database connection around each request, as a web
    worker should; here the connection holds the test's transaction, so the calls
    keep it (what Django's own test client does)."""
    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    yield
    request_started.connect(close_old_connections)
    request_finished.connect(close_old_connections)


@pytest.fixture
def world(acme, media_root, settings):
    """Acme with an object of each kind the API names in a path; their ids by the path
    parameter's name."""
    # The rate limit has tests of its own (tests/api/test_keys.py); here a 429 would
    # only hide the operation's own answers.
    settings.API_RATE_LIMIT_PER_MINUTE = 1_000_000
    acme.contact_name, acme.contact_email = "Acme Security Desk", "security@acme.example"
    acme.save(update_fields=["contact_name", "contact_email"])
    incident = factories.incident(title="Telephony provider breach")
    person = factories.directory_user(acme, "jdoe")
    exposure = factories.exposure(incident, acme, directory_user=person)
    factories.log_record(incident, acme)
    copy = LogCopyRequest.objects.create(
        organization=acme,
        incident=incident,
        reason="Our SOC needs the rows",
        status=LogCopyRequest.Status.READY,
        rows=1,
        size=9,
        sha256="0" * 64,
        generated_at=timezone.now(),
        expires_at=timezone.now() + timedelta(days=7),
    )
    copy.file.save("copy.zip", ContentFile(b"PK zip..."), save=True)
    template = NoticeTemplate.objects.create(
        organization=acme, name="Our notice", language="en", subject="About", body_text="Hello"
    )
    campaign = NoticeCampaign.objects.create(
        organization=acme, incident=incident, template=template, name="March notice"
    )
    delivery = Delivery.objects.create(
        campaign=campaign,
        organization=acme,
        directory_user=person,
        email=person.email,
        status=Delivery.Status.SENT,
    )
    report = SuspicionReport.objects.create(
        organization=acme,
        delivery=delivery,
        incident=incident,
        channel=SuspicionReport.Channel.CALL,
        occurred_at=timezone.now() - timedelta(hours=1),
    )
    return {
        "copy_id": str(copy.public_id),
        "token": api_download_token_make(copy=copy),
        "campaign_id": str(campaign.public_id),
        "report_id": str(report.public_id),
        "incident_id": str(incident.public_id),
        "exposure_id": str(exposure.public_id),
    }


def _positive(case) -> bool:
    return case.meta is not None and case.meta.generation.mode.is_positive


def _real_ids(case, ids: dict[str, str]) -> None:
    """Acme's own ids, in the path and for a body's `incident`, in about half of the
    positive cases (chosen from the case itself, so a run is repeatable); a negative
    case keeps what it was made to be."""
    if not _positive(case):
        return
    if zlib.crc32(repr(case.path_parameters).encode() + repr(case.body).encode()) % 2:
        return
    for name in case.path_parameters or {}:
        if name in ids:
            case.path_parameters[name] = ids[name]
    if isinstance(case.body, dict) and isinstance(case.body.get("incident"), str):
        case.body["incident"] = ids["incident_id"]


# What a schema cannot say: a cursor or a link is valid only if the API signed it, an
# incident must be one the account may use, a date range must lie in its window, the
# chosen entries must be phones or usernames of the directory, a reason must not be
# blank, a report moves only along the triage's steps (and needs a note to close). A
# schema-valid request refused with 422 must be refused for one of these, by name.
ONLY_THE_SERVER_KNOWS = {
    "cursor",
    "incident",
    "scope_start",
    "scope_end",
    "chosen",
    "reason",
    "note",
    "copy_request",
    "status",
}


def _check_positive_refusal(case, response) -> None:
    """Schemathesis' positive_data_acceptance, less what only the server can know."""
    if not _positive(case) or response.status_code < 400:
        return
    if response.status_code == 422:
        errors = response.json().get("errors") or []
        fields = {str(error["loc"][-1]) for error in errors if error.get("loc")}
        assert errors, response.text
        assert fields <= ONLY_THE_SERVER_KNOWS, (case.operation.label, response.text)
        return
    assert response.status_code in {401, 403, 404, 409, 410, 429}, (
        case.operation.label,
        response.status_code,
        response.text,
    )


@pytest.fixture
def key(acme, api_key, role):
    """A key holding all of the role's capabilities, made by an owner of Acme."""
    return api_key(acme, role, name=f"schemathesis {role}")


@pytest.mark.parametrize("role", ROLES)
@schema.parametrize()
@settings(
    max_examples=10,
    deadline=None,
    suppress_health_check=[
        HealthCheck.function_scoped_fixture,
        HealthCheck.too_slow,
        HealthCheck.filter_too_much,
    ],
)
def test_every_operation_answers_as_its_schema_says(case, role, key, world, one_connection):
    _real_ids(case, world)
    response = case.call_and_validate(
        headers={"Authorization": f"Bearer {key}"}, excluded_checks=[positive_data_acceptance]
    )
    _check_positive_refusal(case, response)
