"""Invitations: by email, with a role, a token and an expiry; accepted once."""

import re
from datetime import timedelta
from unittest import mock

import pytest
from django.contrib.auth import SESSION_KEY
from django.core import mail
from django.utils import timezone

from notifications.models import ScheduledEmail
from notifications.outbox.scheduled import scheduled_emails_send_due
from portal.accounts import services
from portal.accounts.models import Invitation, Membership, User
from portal.accounts.roles import Role
from portal.audit.models import AuditEvent
from tests import factories

NEW_PASSWORD = "quiet meadow lantern 42"


@pytest.fixture
def invite(django_capture_on_commit_callbacks, alice, acme):
    """Alice invites someone, as the team page would; the email leaves on commit."""

    def invite(email="dana@acme.example", role=Role.SECURITY, org=None):
        with django_capture_on_commit_callbacks(execute=True):
            return services.invitation_create(
                organization=org or acme, email=email, role=role, by=alice
            )

    return invite


def accept_url(invitation) -> str:
    return f"/invitations/{invitation.token}/"


def link_in(message) -> str:
    match = re.search(r"https?://\S+/invitations/\S+/", message.body)
    assert match, message.body
    return match.group(0)


def test_it_invites_by_email_with_a_link(
    client, settings, django_capture_on_commit_callbacks, acme, alice
):
    settings.SITE_URL = "https://vigil.example"
    client.force_login(alice)

    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(
            f"/o/{acme.public_id}/team/invite/",
            {"email": "Dana@Acme.example", "role": Role.SECURITY},
            follow=True,
        )

    invitation = Invitation.objects.get(organization=acme)
    assert invitation.email == "Dana@acme.example"  # the domain part normalized
    assert invitation.role == Role.SECURITY
    assert invitation.invited_by == alice
    expected_expiry = timezone.now() + services.INVITATION_VALID_FOR
    assert abs(invitation.expires_at - expected_expiry) < timedelta(minutes=1)
    assert len(mail.outbox) == 1
    message = mail.outbox[0]
    assert message.to == ["Dana@acme.example"]
    assert message.subject == "Alice Adams invited you to Acme Corp on Vigil"
    assert link_in(message) == f"https://vigil.example/invitations/{invitation.token}/"
    assert "Security staff" in message.body
    assert "Invitation sent to Dana@acme.example" in response.content.decode()
    event = AuditEvent.objects.get(action="invitation.create")
    assert event.actor == alice
    assert event.organization_id == acme.pk
    assert event.details["email"] == "Dana@acme.example"
    assert event.details["role"] == "security"
    assert invitation.token not in str(event.details) + event.target_label + event.target_id


def test_it_invites_in_the_inviters_language_by_default(
    client, django_capture_on_commit_callbacks, acme, alice
):
    """Issue 15 point 7: someone who is no member yet has no language of their own; the
    invitation went out in English whatever the inviter's."""
    alice.language = "fr"
    alice.save(update_fields=["language"])
    client.force_login(alice)
    team = client.get(f"/o/{acme.public_id}/team/").content.decode()
    assert '<option value="fr" selected>Français</option>' in team

    with django_capture_on_commit_callbacks(execute=True):
        client.post(
            f"/o/{acme.public_id}/team/invite/", {"email": "dana@acme.example", "role": "viewer"}
        )

    assert Invitation.objects.get().language == "fr"
    [message] = mail.outbox
    assert message.subject == "Alice Adams vous invite à rejoindre Acme Corp sur Vigil"
    assert "invited you" not in message.body


def test_it_invites_in_the_language_chosen_on_the_form_and_opens_the_page_in_it(
    client, django_capture_on_commit_callbacks, acme, alice
):
    client.force_login(alice)  # English
    with django_capture_on_commit_callbacks(execute=True):
        client.post(
            f"/o/{acme.public_id}/team/invite/",
            {"email": "dana@acme.example", "role": "viewer", "language": "de"},
        )
    invitation = Invitation.objects.get()
    assert invitation.language == "de"
    [message] = mail.outbox
    assert message.subject == "Alice Adams hat Sie zu Acme Corp in Vigil eingeladen"
    client.logout()

    # Dana's browser asks for English; the page opens in the invitation's German.
    page = client.get(accept_url(invitation), HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert '<html lang="de">' in page
    assert "Acme Corp auf Vigil beitreten" in page

    response = client.post(
        accept_url(invitation),
        {"name": "Dana Diaz", "password1": NEW_PASSWORD, "password2": NEW_PASSWORD},
    )
    assert response.status_code == 302
    assert User.objects.get(email="dana@acme.example").language == "de"


def test_a_language_chosen_with_the_switcher_wins_on_the_invitation_page(client, acme, alice):
    invitation = services.invitation_create(
        organization=acme, email="dana@acme.example", role=Role.VIEWER, by=alice, language="es"
    )
    client.cookies["django_language"] = "fr"

    page = client.get(accept_url(invitation)).content.decode()

    assert '<html lang="fr">' in page


def test_it_refuses_invitations_from_members_who_are_not_owners(client, acme, bob):
    client.force_login(bob)

    response = client.post(
        f"/o/{acme.public_id}/team/invite/", {"email": "eve@acme.example", "role": Role.OWNER}
    )

    assert response.status_code == 403
    assert not Invitation.objects.exists()
    assert mail.outbox == []


def test_it_refuses_to_invite_someone_already_in_the_account(client, acme, alice, bob):
    client.force_login(alice)

    response = client.post(
        f"/o/{acme.public_id}/team/invite/",
        {"email": "BOB@acme.example", "role": Role.VIEWER},
        follow=True,
    )

    assert not Invitation.objects.exists()
    assert "already a member of Acme Corp" in response.content.decode()


def test_it_refuses_an_invalid_email_with_a_message(client, acme, alice):
    client.force_login(alice)

    response = client.post(
        f"/o/{acme.public_id}/team/invite/",
        {"email": "not an address", "role": "viewer"},
        follow=True,
    )

    assert not Invitation.objects.exists()
    assert "Email address: Enter a valid email address." in response.content.decode()


def test_it_replaces_a_pending_invitation_when_inviting_again(client, invite):
    first = invite(role=Role.VIEWER)
    second = invite(email="DANA@acme.example", role=Role.ADMIN)

    first.refresh_from_db()
    assert first.revoked_at is not None
    assert len(mail.outbox) == 2
    assert client.get(accept_url(first)).status_code == 410
    assert client.get(accept_url(second)).status_code == 200


def test_it_accepts_as_a_new_user_and_then_asks_for_a_second_factor(client, acme, invite):
    invitation = invite()
    url = link_in(mail.outbox[0]).split("://", 1)[1].split("/", 1)[1]

    page = client.get("/" + url)
    assert page.status_code == 200
    assert "Join Acme Corp on Vigil" in page.content.decode()
    assert "dana@acme.example" in page.content.decode()

    response = client.post(
        accept_url(invitation),
        {"name": "Dana Diaz", "password1": NEW_PASSWORD, "password2": NEW_PASSWORD},
    )

    assert response.status_code == 302
    assert response.url == f"/o/{acme.public_id}/"
    dana = User.objects.get(email="dana@acme.example")
    assert dana.name == "Dana Diaz"
    assert dana.check_password(NEW_PASSWORD)
    assert Membership.objects.get(user=dana).organization == acme
    assert Membership.objects.get(user=dana).role == Role.SECURITY
    invitation.refresh_from_db()
    assert invitation.accepted_by == dana
    assert invitation.accepted_at is not None
    assert client.session[SESSION_KEY] == str(dana.pk)
    # Signed in, but no second factor yet: the account waits until one is set up.
    enrol = client.get(response.url)
    assert enrol.status_code == 302
    assert enrol.url == "/accounts/2fa/"
    event = AuditEvent.objects.get(action="invitation.accept")
    assert event.actor == dana
    assert event.details == {"email": "dana@acme.example", "role": "security", "new_user": True}


def test_it_applies_the_password_rules(client, invite):
    invitation = invite()

    response = client.post(
        accept_url(invitation), {"name": "Dana", "password1": "dana1", "password2": "dana1"}
    )

    assert response.status_code == 200
    assert "This password is too short" in response.content.decode()
    assert not User.objects.filter(email="dana@acme.example").exists()
    invitation.refresh_from_db()
    assert invitation.accepted_at is None


def test_it_refuses_an_expired_invitation(client, acme, invite):
    invitation = invite()
    Invitation.objects.filter(pk=invitation.pk).update(
        expires_at=timezone.now() - timedelta(minutes=1)
    )

    page = client.get(accept_url(invitation))
    post = client.post(
        accept_url(invitation),
        {"name": "Dana", "password1": NEW_PASSWORD, "password2": NEW_PASSWORD},
    )

    assert page.status_code == 410
    assert "This invitation has expired" in page.content.decode()
    assert "Ask an owner of Acme Corp" in page.content.decode()
    assert post.status_code == 410
    assert not User.objects.filter(email="dana@acme.example").exists()
    assert (
        not Membership.objects.filter(organization=acme)
        .exclude(user__email="alice@acme.example")
        .exists()
    )


def test_it_refuses_a_reused_invitation(client, acme, invite):
    invitation = invite()
    form = {"name": "Dana", "password1": NEW_PASSWORD, "password2": NEW_PASSWORD}
    assert client.post(accept_url(invitation), form).status_code == 302
    stranger = client.__class__()

    page = stranger.get(accept_url(invitation))
    post = stranger.post(accept_url(invitation), form)

    assert page.status_code == 410
    assert "already been used" in page.content.decode()
    assert post.status_code == 410
    assert (
        Membership.objects.filter(organization=acme, user__email="dana@acme.example").count() == 1
    )
    assert AuditEvent.objects.filter(action="invitation.accept").count() == 1


def test_it_cannot_be_accepted_twice_even_by_two_requests_that_both_saw_it_pending(acme, invite):
    invitation = invite(email="charlie@globex.example")
    charlie = factories.user("charlie@globex.example")
    services.invitation_accept(invitation=invitation, user=charlie)
    Membership.objects.filter(user=charlie).delete()  # so only the claim can stop it

    # `invitation` is the stale copy the second request loaded before the first accepted.
    with pytest.raises(services.InvitationUnusableError):
        services.invitation_accept(invitation=invitation, user=charlie)
    assert not Membership.objects.filter(user=charlie).exists()


def test_it_refuses_a_withdrawn_invitation(client, acme, alice, invite):
    invitation = invite()
    client.force_login(alice)

    response = client.post(f"/o/{acme.public_id}/team/invitations/{invitation.public_id}/revoke/")

    assert response.status_code == 302
    invitation.refresh_from_db()
    assert invitation.revoked_at is not None
    event = AuditEvent.objects.get(action="invitation.revoke")
    assert event.details == {"email": "dana@acme.example", "role": "security"}
    visitor = client.__class__()
    page = visitor.get(accept_url(invitation))
    assert page.status_code == 410
    assert "This invitation was withdrawn" in page.content.decode()


def test_it_answers_404_for_an_unknown_token(client, invite):
    invite()

    assert client.get("/invitations/not-a-real-token/").status_code == 404


def test_it_asks_an_existing_user_to_sign_in_first(client, acme, globex, charlie, invite):
    invitation = invite(email="charlie@globex.example", role=Role.VIEWER)

    page = client.get(accept_url(invitation))
    post = client.post(
        accept_url(invitation), {"name": "X", "password1": NEW_PASSWORD, "password2": NEW_PASSWORD}
    )

    html = page.content.decode()
    assert page.status_code == 200
    assert "Sign in as charlie@globex.example" in html
    assert f"/accounts/login/?next=%2Finvitations%2F{invitation.token}%2F" in html
    assert post.status_code == 200
    assert not Membership.objects.filter(user=charlie, organization=acme).exists()
    assert not charlie.__class__.objects.get(pk=charlie.pk).check_password(NEW_PASSWORD)


def test_it_lets_an_existing_user_join_after_signing_in(client, acme, globex, charlie, invite):
    invitation = invite(email="Charlie@Globex.example", role=Role.VIEWER)
    client.force_login(charlie)

    page = client.get(accept_url(invitation))
    response = client.post(accept_url(invitation))

    assert "Join Acme Corp" in page.content.decode()
    assert response.status_code == 302
    assert response.url == f"/o/{acme.public_id}/"
    assert Membership.objects.get(user=charlie, organization=acme).role == Role.VIEWER
    assert Membership.objects.get(user=charlie, organization=globex).role == Role.OWNER
    assert client.get(response.url).status_code == 200
    event = AuditEvent.objects.get(action="invitation.accept")
    assert event.details["new_user"] is False


def test_it_says_so_when_signed_in_as_someone_else(client, acme, bob, invite):
    invitation = invite(email="dana@acme.example")
    client.force_login(bob)

    page = client.get(accept_url(invitation))
    post = client.post(
        accept_url(invitation),
        {"name": "Dana", "password1": NEW_PASSWORD, "password2": NEW_PASSWORD},
    )

    assert "You are signed in as <strong>bob@acme.example</strong>" in page.content.decode()
    assert post.status_code == 200
    assert not User.objects.filter(email="dana@acme.example").exists()
    invitation.refresh_from_db()
    assert invitation.accepted_at is None


def test_it_keeps_the_invitation_and_retries_its_email_when_the_mail_server_is_down(
    invite, acme, caplog
):
    with mock.patch(
        "django.core.mail.backends.locmem.EmailBackend.send_messages",
        side_effect=ConnectionRefusedError("[Errno 111] Connection refused"),
    ):
        invitation = invite()

    assert mail.outbox == []
    row = ScheduledEmail.objects.get(kind=ScheduledEmail.Kind.INVITATION)
    assert (row.status, row.attempts) == (ScheduledEmail.Status.PENDING, 1)
    assert "dana@" not in caplog.text.lower()

    # The minute sweep once the wait is over: the server is back.
    assert scheduled_emails_send_due(now=row.next_attempt_at) == 1
    assert mail.outbox[0].to == ["dana@acme.example"]
    assert f"/invitations/{invitation.token}/" in mail.outbox[0].body


def test_it_sends_no_email_for_an_invitation_revoked_before_it_left(
    django_capture_on_commit_callbacks, alice, acme
):
    with django_capture_on_commit_callbacks(execute=False):
        invitation = services.invitation_create(
            organization=acme, email="dana@acme.example", role=Role.SECURITY, by=alice
        )
    services.invitation_revoke(invitation=invitation, by=alice)

    assert scheduled_emails_send_due() == 0
    assert mail.outbox == []
    assert not ScheduledEmail.objects.filter(kind=ScheduledEmail.Kind.INVITATION).exists()
