"""The cross-account matrix, built from the URL resolver.

Every URL pattern that takes an id has a row here. For each row: every role of another
account gets a 404 (never a 403 that confirms the object exists), anonymous visitors
are sent to sign in, and a viewer of the account itself changes nothing. A pattern
added without a row fails `test_it_has_a_row_for_every_pattern_that_takes_an_id`.
"""

import uuid
from dataclasses import dataclass, field
from typing import Any

import pytest
from django.core.files.base import ContentFile
from django.urls import URLPattern, URLResolver, get_resolver, reverse

from notifications.models import (
    Delivery,
    NoticeCampaign,
    NoticeTemplate,
    SuspicionReport,
)
from portal.accounts.api_keys import api_key_create
from portal.accounts.models import ApiKey, Invitation, Membership, Organization
from portal.accounts.roles import Role
from portal.audit.models import AuditEvent
from portal.incidents.models import DirectoryImport, DirectoryUser, Exposure, ImportBatch, Incident
from portal.logcopies.models import ExposureExport, LogCopyRequest
from portal.logcopies.signing import download_token_make, export_token_make
from portal.webhooks.models import WebhookDelivery, WebhookEndpoint, WebhookEvent
from tests import factories
from tests.accounts.auth import signed_in

pytestmark = pytest.mark.django_db

ROLES = [Role.OWNER, Role.ADMIN, Role.SECURITY, Role.VIEWER]


@dataclass(frozen=True)
class Row:
    """How to reach one URL pattern with account A's objects."""

    # "account": under /o/<org>/; "staff": operator console; "token": an invitation
    # link; "public": no sign-in at all (tested with its own feature)
    kind: str
    # URL kwargs that name one of A's objects: besides `org` for account rows; all of
    # them for staff rows.
    objects: tuple[str, ...] = ()
    write: bool = False  # POST changes something
    data: dict = field(default_factory=dict)


MATRIX: dict[str, Row] = {
    "accounts:home": Row("account"),
    "accounts:team": Row("account"),
    "accounts:invite": Row(
        "account", write=True, data={"email": "new@acme.example", "role": "viewer"}
    ),
    "accounts:member_role": Row("account", ("membership",), write=True, data={"role": "viewer"}),
    "accounts:member_remove": Row("account", ("membership",), write=True),
    "accounts:invitation_revoke": Row("account", ("invitation",), write=True),
    "audit:list": Row("account"),
    "incidents:dashboard": Row("account", ("incident",)),
    "incidents:exposed": Row("account", ("incident",)),
    "incidents:exposed_export": Row("account", ("incident",)),
    "incidents:exposure": Row("account", ("incident", "exposure")),
    "incidents:reveal": Row("account", ("incident", "exposure"), write=True),
    "incidents:unmatched": Row("account", ("incident",)),
    "directory:index": Row("account"),
    "directory:upload": Row("account", write=True),
    "directory:preview": Row("account", ("directory_import",)),
    "directory:apply": Row("account", ("directory_import",), write=True),
    "directory:discard": Row("account", ("directory_import",), write=True),
    "operator_incidents:list": Row("staff"),
    "operator_incidents:create": Row("staff"),
    "operator_incidents:detail": Row("staff", ("incident",)),
    "operator_incidents:edit": Row("staff", ("incident",)),
    "operator_incidents:publish": Row("staff", ("incident",), write=True),
    "operator_incidents:close": Row("staff", ("incident",), write=True),
    "operator_incidents:upload": Row("staff", ("incident",), write=True),
    "operator_incidents:batch": Row("staff", ("batch",)),
    "operator_incidents:batch_progress": Row("staff", ("batch",)),
    "operator_incidents:batch_errors": Row("staff", ("batch",)),
    "operator_incidents:batch_retry": Row("staff", ("batch",), write=True),
    "operator_incidents:batch_publish": Row("staff", ("batch",), write=True),
    "operator_incidents:batch_discard": Row("staff", ("batch",), write=True),
    "audit:export": Row("account"),
    "operator:account": Row("staff", ("org",)),
    "logcopies:list": Row("account"),
    "logcopies:request": Row("account"),
    "logcopies:detail": Row("account", ("copy",)),
    "logcopies:progress": Row("account", ("copy",)),
    "logcopies:retry": Row("account", ("copy",), write=True),
    "logcopies:link": Row("account", ("copy",), write=True),
    "logcopies:download": Row("account", ("copy", "token")),
    "logcopies:export": Row("account", ("export",)),
    "logcopies:export_progress": Row("account", ("export",)),
    "logcopies:export_download": Row("account", ("export", "export_token")),
    "operator_logcopies:queue": Row("staff"),
    "operator_logcopies:detail": Row("staff", ("copy",)),
    "operator_logcopies:approve": Row("staff", ("copy",), write=True),
    "operator_logcopies:reject": Row(
        "staff", ("copy",), write=True, data={"reject-reason": "Not needed"}
    ),
    "operator_logcopies:policy": Row("staff", ("org",), write=True, data={"auto_approve": "on"}),
    "invitations:accept": Row("token"),
    # Notices (issue 6). Objects: "template", "campaign", "report" (see _object_ids).
    "report_form:form": Row("public"),
    "notice_templates:list": Row("account"),
    "notice_templates:create": Row("account"),
    "notice_templates:preview": Row("account", ("template",)),
    "notice_templates:edit": Row("account", ("template",)),
    "notice_templates:frame": Row("account", ("template",)),
    "notice_templates:delete": Row("account", ("template",), write=True),
    "notice_templates:copy": Row("account", ("template",), write=True),
    "notice_templates:test_send": Row("account", ("template",), write=True),
    "operator_notices:list": Row("staff"),
    "operator_notices:create": Row("staff"),
    "operator_notices:edit": Row("staff", ("default_template",)),
    "operator_notices:frame": Row("staff", ("default_template",)),
    "operator_notices:delete": Row("staff", ("default_template",), write=True),
    "reports:list": Row("account"),
    "reports:detail": Row("account", ("report",)),
    "reports:triage": Row(
        "account", ("report",), write=True, data={"status": "triaged", "note": "Checked"}
    ),
    "accounts:settings": Row(
        "account",
        write=True,
        data={
            "contact_name": "Mallory",
            "contact_email": "mallory@evil.example",
            "time_zone": "UTC",
            "log_copy_retention_days": "14",
            "notice_rate_per_minute": "600",
        },
    ),
    "campaigns:list": Row("account"),
    "campaigns:new": Row("account"),
    "campaigns:detail": Row("account", ("campaign",)),
    "campaigns:edit": Row("account", ("campaign",)),
    "campaigns:review": Row("account", ("campaign",)),
    "campaigns:preview_html": Row("account", ("campaign",)),
    "campaigns:launch": Row("account", ("campaign",), write=True),
    "campaigns:progress": Row("account", ("campaign",)),
    "campaigns:pause": Row("account", ("campaign",), write=True),
    "campaigns:resume": Row("account", ("campaign",), write=True),
    "campaigns:cancel": Row("account", ("campaign",), write=True),
    "campaigns:retry": Row("account", ("campaign",), write=True),
    # API keys (issue 16).
    "accounts:api_keys": Row(
        "account",
        write=True,
        data={"name": "Mallory's", "capabilities": ["view_dashboard"], "expires_on": "2099-01-01"},
    ),
    "accounts:api_key_revoke": Row("account", ("key",), write=True),
    # Webhooks (issue 16 point 3): owners only. Objects: "endpoint", "delivery".
    "webhooks:list": Row(
        "account", write=True, data={"url": "https://93.184.216.34/", "events": ["report.filed"]}
    ),
    "webhooks:detail": Row(
        "account",
        ("endpoint",),
        write=True,
        data={"url": "https://93.184.216.35/", "events": ["report.filed"]},
    ),
    "webhooks:test": Row("account", ("endpoint",), write=True),
    "webhooks:rotate": Row("account", ("endpoint",), write=True),
    "webhooks:delete": Row("account", ("endpoint",), write=True),
    "webhooks:replay": Row("account", ("endpoint", "delivery"), write=True),
}


def _patterns(resolver: URLResolver, namespace: str = ""):
    for entry in resolver.url_patterns:
        if isinstance(entry, URLResolver):
            inner = f"{namespace}{entry.namespace}:" if entry.namespace else namespace
            yield from (
                (name, pattern, {**entry.pattern.converters, **converters})
                for name, pattern, converters in _patterns(entry, inner)
            )
        elif isinstance(entry, URLPattern):
            yield f"{namespace}{entry.name}", entry, entry.pattern.converters


def _ours(name: str, pattern: URLPattern) -> bool:
    # Django's admin (staff only, behind the same sign-in) and allauth's own pages (the
    # person's own sign-in, factors and sessions) hold no account-scoped objects.
    # The API's routes (api:) have a matrix of their own, built from its schema
    # (tests/api/test_access_matrix.py).
    module = getattr(pattern.callback, "__module__", "")
    return (
        not name.startswith(("admin:", "api:"))
        and not module.startswith("allauth")
        and not module.startswith("ninja")
    )


def test_it_has_a_row_for_every_pattern_that_takes_an_id():
    ours = [
        (name, converters)
        for name, pattern, converters in _patterns(get_resolver())
        if _ours(name, pattern)
    ]
    taking_ids = {name for name, converters in ours if converters}

    assert taking_ids - MATRIX.keys() == set(), "new URL patterns need a row in MATRIX"
    assert MATRIX.keys() - {name for name, _ in ours} == set(), (
        "MATRIX names patterns that no longer exist"
    )


@dataclass
class World:
    acme: Any
    globex: Any
    acme_members: dict
    globex_members: dict
    bob_membership: Membership
    invitation: Invitation
    staff: Any
    incident: Incident
    exposure: Exposure
    directory_import: DirectoryImport
    batch: ImportBatch
    copy: LogCopyRequest
    export: ExposureExport
    template: NoticeTemplate
    # An operator default (no account): the console's template pages edit only these.
    default_template: NoticeTemplate
    campaign: NoticeCampaign
    report: SuspicionReport
    api_key: ApiKey
    endpoint: WebhookEndpoint
    webhook_delivery: WebhookDelivery


@pytest.fixture
def world(media_root):
    acme = factories.organization("Acme Corp")
    globex = factories.organization("Globex")
    acme_members = {role: factories.member(acme, f"{role}@acme.example", role) for role in ROLES}
    globex_members = {
        role: factories.member(globex, f"{role}@globex.example", role) for role in ROLES
    }
    bob = factories.member(acme, "bob@acme.example", Role.ADMIN)
    invitation = Invitation.objects.create(
        organization=acme,
        email="invitee@acme.example",
        role=Role.VIEWER,
        expires_at=factories.future(days=7),
    )
    # An incident that touched Acme only: for Globex it is one of Acme's objects.
    incident = factories.incident()
    exposure = factories.exposure(incident, acme, phone="+12125550143")
    factories.log_record(incident, acme, phone="+12125550143")
    directory_import = DirectoryImport.objects.create(
        organization=acme,
        upload="directory-imports/x.csv",
        original_name="x.csv",
        sha256="0" * 64,
    )
    batch = ImportBatch.objects.create(
        incident=incident,
        upload="imports/x.csv",
        original_name="x.csv",
        sha256="0" * 64,
        format=ImportBatch.Format.CSV,
        status=ImportBatch.Status.FAILED,
        phase=ImportBatch.Phase.DONE,
    )
    batch.error_report.save("errors.csv", ContentFile(b"line,message_id,account_id,reason\n"))
    # A ready copy with its file: a download that got through would count in _state.
    copy = LogCopyRequest.objects.create(
        organization=acme,
        incident=incident,
        reason="Our SOC needs the rows",
        status=LogCopyRequest.Status.READY,
        sha256="0" * 64,
    )
    copy.file.save("copy.zip", ContentFile(b"zip bytes"), save=True)
    # A ready export of Acme's exposed users, its owner's.
    export = ExposureExport.objects.create(
        organization=acme,
        incident=incident,
        requested_by=acme_members[Role.OWNER],
        status=ExposureExport.Status.READY,
        total_rows=1,
        rows=1,
    )
    export.file.save("export.csv", ContentFile(b"phone\n"), save=True)
    template = NoticeTemplate.objects.create(
        organization=acme,
        name="Acme notice",
        subject="About {{ incident_title }}",
        body_text="Hello {{ recipient_name }}",
    )
    campaign = NoticeCampaign.objects.create(
        organization=acme, incident=incident, template=template, name="Acme campaign"
    )
    person = factories.directory_user(acme, "alice", phones=["+12125550143"])
    delivery = Delivery.objects.create(
        campaign=campaign, organization=acme, directory_user=person, email="alice@acme.example"
    )
    report = SuspicionReport.objects.create(
        organization=acme,
        delivery=delivery,
        channel=SuspicionReport.Channel.CALL,
        occurred_at=factories.future(days=-1),
    )
    api_key, _ = api_key_create(
        organization=acme,
        name="Acme's SIEM",
        capabilities={"view_dashboard"},
        by=acme_members[Role.OWNER],
    )
    endpoint = WebhookEndpoint.objects.create(
        organization=acme,
        url="https://93.184.216.34/hooks",
        events=["report.filed"],
        secret="whsec_" + "QUJD" * 8,
    )
    webhook_event = WebhookEvent.objects.create(
        organization=acme, message_id="msg_matrix", type="report.filed", key="k", payload={}
    )
    webhook_delivery = WebhookDelivery.objects.create(
        organization=acme,
        event=webhook_event,
        endpoint=endpoint,
        status=WebhookDelivery.Status.FAILED,
    )
    return World(
        api_key=api_key,
        endpoint=endpoint,
        webhook_delivery=webhook_delivery,
        template=template,
        default_template=NoticeTemplate.objects.create(
            name="Matrix default", subject="Default", body_text="{{ report_link }}"
        ),
        campaign=campaign,
        report=report,
        copy=copy,
        export=export,
        incident=incident,
        exposure=exposure,
        directory_import=directory_import,
        batch=batch,
        acme=acme,
        globex=globex,
        acme_members=acme_members,
        globex_members=globex_members,
        bob_membership=Membership.objects.get(user=bob),
        invitation=invitation,
        staff=factories.staff(),
    )


def _object_ids(world: World) -> dict:
    return {
        "org": world.acme.public_id,
        "membership": world.bob_membership.public_id,
        "invitation": world.invitation.public_id,
        "incident": world.incident.public_id,
        "exposure": world.exposure.public_id,
        "directory_import": world.directory_import.public_id,
        "batch": world.batch.public_id,
        "copy": world.copy.public_id,
        "export": world.export.public_id,
        "export_token": export_token_make(export=world.export, user=world.acme_members[Role.OWNER]),
        "template": world.template.public_id,
        "default_template": world.default_template.public_id,
        "campaign": world.campaign.public_id,
        "report": world.report.public_id,
        "key": world.api_key.public_id,
        "endpoint": world.endpoint.public_id,
        "delivery": world.webhook_delivery.public_id,
        # Made for Acme's owner: a valid link that is nobody else's.
        "token": download_token_make(copy=world.copy, user=world.acme_members[Role.OWNER]),
    }


def _url(name: str, row: Row, world: World, *, org=None) -> str:
    if row.kind == "token":
        return reverse(name, kwargs={"token": world.invitation.token})
    ids = _object_ids(world)
    kwargs = {key: ids[key] for key in row.objects}
    if row.kind == "account":
        kwargs["org"] = (org or world.acme).public_id
    return reverse(name, kwargs=kwargs)


def _request(client, name: str, row: Row, url: str):
    return client.post(url, row.data) if row.write else client.get(url)


def _state(world: World):
    return (
        sorted(Membership.objects.values_list("public_id", "role")),
        sorted(Invitation.objects.values_list("public_id", "revoked_at", "accepted_at")),
        sorted(Incident.objects.values_list("public_id", "status")),
        sorted(ImportBatch.objects.values_list("public_id", "status")),
        sorted(DirectoryImport.objects.values_list("public_id", "status")),
        DirectoryUser.objects.count(),
        sorted(LogCopyRequest.objects.values_list("public_id", "status", "download_count")),
        sorted(
            Organization.objects.values_list("public_id", "log_copy_auto_approve", "contact_email")
        ),
        sorted(NoticeTemplate.objects.values_list("public_id", "subject", "updated_at")),
        sorted(NoticeCampaign.objects.values_list("public_id", "status", "name")),
        sorted(Delivery.objects.values_list("pk", "status")),
        sorted(SuspicionReport.objects.values_list("public_id", "status")),
        # An export downloaded, or a new one made, would show here.
        sorted(ExposureExport.objects.values_list("public_id", "status")),
        AuditEvent.objects.filter(action__startswith="exposure.export").count(),
        sorted(ApiKey.objects.values_list("public_id", "revoked_at")),
        sorted(WebhookEndpoint.objects.values_list("public_id", "url", "secret", "enabled")),
        sorted(WebhookDelivery.objects.values_list("public_id", "status", "attempts")),
        WebhookEvent.objects.count(),
    )


ACCOUNT_ROWS = [name for name, row in MATRIX.items() if row.kind == "account"]
OBJECT_ROWS = [name for name, row in MATRIX.items() if row.kind == "account" and row.objects]
WRITE_ROWS = [name for name, row in MATRIX.items() if row.kind == "account" and row.write]
STAFF_ROWS = [name for name, row in MATRIX.items() if row.kind == "staff"]


@pytest.mark.parametrize("name", ACCOUNT_ROWS)
@pytest.mark.parametrize("role", ROLES)
def test_it_answers_404_to_every_role_of_another_account(client, world, name, role):
    row = MATRIX[name]
    signed_in(client, world.globex_members[role])
    before = _state(world)

    response = _request(client, name, row, _url(name, row, world))

    assert response.status_code == 404
    assert _state(world) == before


@pytest.mark.parametrize("name", OBJECT_ROWS)
@pytest.mark.parametrize("role", ROLES)
def test_it_reveals_nothing_of_another_accounts_object_under_ones_own_account(
    client, world, name, role
):
    row = MATRIX[name]
    signed_in(client, world.globex_members[role])
    before = _state(world)
    made_up = {key: uuid.uuid4() for key in row.objects}
    kwargs = {"org": world.globex.public_id}

    response = _request(client, name, row, _url(name, row, world, org=world.globex))
    unknown = _request(client, name, row, reverse(name, kwargs={**kwargs, **made_up}))

    # A role allowed to act gets 404; one that is not gets the 403 it gets for any id.
    # Either way the answer is the one a made-up id gets: nothing says A's object exists.
    assert response.status_code == unknown.status_code
    assert response.status_code in (403, 404)
    assert _state(world) == before


@pytest.mark.parametrize("name", ACCOUNT_ROWS + STAFF_ROWS)
@pytest.mark.parametrize("method", ["get", "post"])
def test_it_sends_anonymous_visitors_to_sign_in(client, world, name, method):
    url = _url(name, MATRIX[name], world)

    response = getattr(client, method)(url)

    assert response.status_code == 302
    assert response["Location"].startswith("/accounts/login/?next=")


@pytest.mark.parametrize("name", WRITE_ROWS)
def test_it_lets_a_viewer_change_nothing(client, world, name):
    row = MATRIX[name]
    signed_in(client, world.acme_members[Role.VIEWER])
    before = _state(world)

    response = _request(client, name, row, _url(name, row, world))

    assert response.status_code == 403
    assert _state(world) == before


@pytest.mark.parametrize("name", STAFF_ROWS)
@pytest.mark.parametrize("role", ROLES)
def test_it_hides_the_operator_console_from_every_member(client, world, name, role):
    row = MATRIX[name]
    before = _state(world)
    for person in (world.acme_members[role], world.globex_members[role]):
        signed_in(client, person)
        assert _request(client, name, row, _url(name, row, world)).status_code == 404
    assert _state(world) == before


@pytest.mark.parametrize("name", [name for name in STAFF_ROWS if not MATRIX[name].write])
def test_it_opens_the_operator_console_to_staff(client, world, name):
    signed_in(client, world.staff)

    assert client.get(_url(name, MATRIX[name], world)).status_code == 200


def test_it_answers_404_to_a_made_up_invitation_token(client, world):
    signed_in(client, world.globex_members[Role.OWNER])

    assert client.get(reverse("invitations:accept", kwargs={"token": "made-up"})).status_code == 404


# Exporting exposed users with their names and emails is its own capability (issue 15
# point 9): owners, admins and security staff; a viewer sees counts and masked rows.
EXPORT_ROWS = [
    "incidents:exposed_export",
    "logcopies:export",
    "logcopies:export_progress",
    "logcopies:export_download",
]


@pytest.mark.parametrize("name", EXPORT_ROWS)
@pytest.mark.parametrize(
    ("role", "allowed"),
    [(Role.OWNER, True), (Role.ADMIN, True), (Role.SECURITY, True), (Role.VIEWER, False)],
)
def test_only_roles_that_may_export_reach_the_exports(client, world, name, role, allowed):
    row = MATRIX[name]
    signed_in(client, world.acme_members[role])

    response = _request(client, name, row, _url(name, row, world))

    # The owner's export is theirs: another allowed role gets the 404 of a stranger's.
    assert (response.status_code != 403) is allowed
    if not allowed:
        assert not AuditEvent.objects.filter(action__startswith="exposure.export").exists()


def test_the_role_card_lists_the_export_for_the_roles_that_have_it(client, world):
    for role, shown in [(Role.ADMIN, True), (Role.SECURITY, True), (Role.VIEWER, False)]:
        signed_in(client, world.acme_members[role])
        page = client.get(reverse("accounts:home", kwargs={"org": world.acme.public_id}))
        assert ("Export exposed users with names and emails" in page.content.decode()) is shown
