"""The team page: members, roles, removal, and the owner every account keeps."""

import threading
from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from portal.accounts import services
from portal.accounts.models import Invitation, Membership
from portal.accounts.roles import Role
from portal.audit.models import AuditEvent
from tests import factories
from tests.accounts.auth import signed_in
from tests.core.test_layout import assert_nothing_inline_without_the_nonce


def team_url(org) -> str:
    return f"/o/{org.public_id}/team/"


def role_url(org, membership) -> str:
    return f"/o/{org.public_id}/team/{membership.public_id}/role/"


def remove_url(org, membership) -> str:
    return f"/o/{org.public_id}/team/{membership.public_id}/remove/"


def membership(user, org) -> Membership:
    return Membership.objects.get(user=user, organization=org)


def owners_of(org) -> list[str]:
    return sorted(
        Membership.objects.filter(organization=org, role=Role.OWNER).values_list(
            "user__email", flat=True
        )
    )


def test_it_lists_members_with_roles_and_pending_invitations(client, acme, alice, bob):
    Invitation.objects.create(
        organization=acme,
        email="dana@acme.example",
        role=Role.SECURITY,
        invited_by=alice,
        expires_at=timezone.now() + timedelta(days=3),
    )
    client.force_login(alice)

    response = client.get(team_url(acme))

    assert response.status_code == 200
    html = response.content.decode()
    assert "alice@acme.example" in html
    assert "bob@acme.example" in html
    assert "dana@acme.example" in html
    assert "Security staff" in html
    assert "Send the invitation" in html  # the owner's invite form
    assert role_url(acme, membership(bob, acme)) in html
    assert remove_url(acme, membership(bob, acme)) in html
    assert_nothing_inline_without_the_nonce(response)


def test_it_shows_the_team_without_the_controls_to_members_who_cannot_manage_it(
    client, acme, alice, bob
):
    client.force_login(bob)

    html = client.get(team_url(acme)).content.decode()

    assert "alice@acme.example" in html
    assert "Send the invitation" not in html
    assert role_url(acme, membership(alice, acme)) not in html
    assert remove_url(acme, membership(alice, acme)) not in html
    assert remove_url(acme, membership(bob, acme)) in html  # Bob may leave


def test_it_changes_a_role_and_records_from_and_to(client, acme, alice, bob):
    signed_in(client, alice)

    response = client.post(role_url(acme, membership(bob, acme)), {"role": Role.SECURITY})

    assert response.status_code == 302
    assert response.url == team_url(acme)
    assert membership(bob, acme).role == Role.SECURITY
    event = AuditEvent.objects.get(action="member.role_change")
    assert event.actor == alice
    assert event.organization_id == acme.pk
    assert event.target_id == str(membership(bob, acme).public_id)
    assert event.details == {"member": "bob@acme.example", "from": "admin", "to": "security"}
    page = client.get(response.url).content.decode()
    assert "bob@acme.example is now security staff." in page


@pytest.mark.parametrize("role", [Role.ADMIN, Role.SECURITY, Role.VIEWER])
def test_it_refuses_role_changes_by_members_who_are_not_owners(client, acme, alice, role):
    someone = factories.member(acme, "someone@acme.example", role)
    signed_in(client, someone)

    response = client.post(role_url(acme, membership(alice, acme)), {"role": Role.VIEWER})

    assert response.status_code == 403
    assert membership(alice, acme).role == Role.OWNER
    assert not AuditEvent.objects.filter(action="member.role_change").exists()


def test_it_refuses_an_unknown_role(client, acme, alice, bob):
    signed_in(client, alice)

    client.post(role_url(acme, membership(bob, acme)), {"role": "superuser"})

    assert membership(bob, acme).role == Role.ADMIN


def test_it_refuses_to_demote_the_last_owner(client, acme, alice, bob):
    signed_in(client, alice)

    response = client.post(
        role_url(acme, membership(alice, acme)), {"role": Role.ADMIN}, follow=True
    )

    assert owners_of(acme) == ["alice@acme.example"]
    assert "is the only owner of Acme Corp" in response.content.decode()
    assert not AuditEvent.objects.filter(action="member.role_change").exists()


def test_it_refuses_to_remove_the_last_owner(client, acme, alice, bob):
    signed_in(client, alice)

    response = client.post(remove_url(acme, membership(alice, acme)), follow=True)

    assert owners_of(acme) == ["alice@acme.example"]
    assert "cannot be removed" in response.content.decode()
    assert not AuditEvent.objects.filter(action="member.remove").exists()


def test_it_refuses_the_last_owner_in_the_service_too(acme, alice):
    with pytest.raises(services.LastOwnerError):
        services.membership_change_role(
            membership=membership(alice, acme), role=Role.VIEWER, by=alice
        )
    with pytest.raises(services.LastOwnerError):
        services.membership_remove(membership=membership(alice, acme), by=alice)
    assert owners_of(acme) == ["alice@acme.example"]


def test_it_lets_an_owner_step_down_once_there_is_a_second_owner(client, acme, alice, bob):
    signed_in(client, alice)
    client.post(role_url(acme, membership(bob, acme)), {"role": Role.OWNER})
    assert owners_of(acme) == ["alice@acme.example", "bob@acme.example"]

    client.post(role_url(acme, membership(alice, acme)), {"role": Role.VIEWER})

    assert owners_of(acme) == ["bob@acme.example"]
    assert membership(alice, acme).role == Role.VIEWER


def test_it_lets_an_owner_leave_once_there_is_a_second_owner(client, acme, alice, bob):
    Membership.objects.filter(user=bob).update(role=Role.OWNER)
    signed_in(client, alice)

    response = client.post(remove_url(acme, membership(alice, acme)))

    assert response.status_code == 302
    assert response.url == "/"
    assert owners_of(acme) == ["bob@acme.example"]
    assert client.get(f"/o/{acme.public_id}/").status_code == 404
    assert AuditEvent.objects.get(action="member.remove").details["left"] is True


def test_it_removes_a_member_and_their_access_ends_at_once(client, acme, alice, bob):
    bobs_client = client.__class__()
    bobs_client.force_login(bob)
    assert bobs_client.get(f"/o/{acme.public_id}/").status_code == 200
    bob_membership = membership(bob, acme)
    signed_in(client, alice)

    response = client.post(remove_url(acme, bob_membership))

    assert response.status_code == 302
    assert not Membership.objects.filter(user=bob, organization=acme).exists()
    assert bobs_client.get(f"/o/{acme.public_id}/").status_code == 404
    assert bobs_client.get(team_url(acme)).status_code == 404
    event = AuditEvent.objects.get(action="member.remove")
    assert event.actor == alice
    assert event.target_id == str(bob_membership.public_id)
    assert event.details == {"member": "bob@acme.example", "role": "admin", "left": False}


def test_it_lets_a_member_leave_but_not_remove_someone_else(client, acme, alice, bob):
    viewer = factories.member(acme, "vera@acme.example", Role.VIEWER)
    signed_in(client, bob)

    assert client.post(remove_url(acme, membership(viewer, acme))).status_code == 403
    assert Membership.objects.filter(user=viewer, organization=acme).exists()

    response = client.post(remove_url(acme, membership(bob, acme)), follow=True)

    assert not Membership.objects.filter(user=bob, organization=acme).exists()
    assert "You left Acme Corp." in response.content.decode()


@pytest.mark.parametrize(
    "path",
    [
        "team/invite/",
        "team/{membership}/role/",
        "team/{membership}/remove/",
        "team/invitations/{invitation}/revoke/",
    ],
)
def test_it_rejects_get_on_writes(client, acme, alice, path):
    invitation = services.invitation_create(
        organization=acme, email="dana@acme.example", role=Role.VIEWER, by=alice
    )
    client.force_login(alice)
    url = f"/o/{acme.public_id}/" + path.format(
        membership=membership(alice, acme).public_id, invitation=invitation.public_id
    )

    assert client.get(url).status_code == 405


@pytest.mark.parametrize(
    "path",
    [
        "",
        "team/",
        "team/invite/",
        "team/{membership}/role/",
        "team/{membership}/remove/",
        "team/invitations/{invitation}/revoke/",
    ],
)
@pytest.mark.parametrize("method", ["get", "post"])
def test_it_gives_charlie_404_on_every_acme_url(client, acme, alice, bob, charlie, path, method):
    invitation = services.invitation_create(
        organization=acme, email="dana@acme.example", role=Role.VIEWER, by=alice
    )
    signed_in(client, charlie)
    url = f"/o/{acme.public_id}/" + path.format(
        membership=membership(bob, acme).public_id, invitation=invitation.public_id
    )

    response = getattr(client, method)(url, {"role": Role.OWNER, "email": "c@globex.example"})

    assert response.status_code == 404
    assert membership(bob, acme).role == Role.ADMIN
    assert Invitation.objects.get(pk=invitation.pk).revoked_at is None
    assert not Invitation.objects.filter(email="c@globex.example").exists()


def test_it_gives_404_for_another_accounts_member_under_the_own_account(
    client, acme, globex, alice, charlie
):
    signed_in(client, alice)

    response = client.post(role_url(acme, membership(charlie, globex)), {"role": Role.VIEWER})

    assert response.status_code == 404
    assert membership(charlie, globex).role == Role.OWNER
    assert client.post(remove_url(acme, membership(charlie, globex))).status_code == 404
    assert Membership.objects.filter(user=charlie).exists()


def test_it_sends_anonymous_visitors_to_sign_in(client, acme, alice):
    response = client.get(team_url(acme))

    assert response.status_code == 302
    assert response.url.startswith("/accounts/login/?next=")


@pytest.mark.parametrize("seconds_ago", [None, 11 * 60])
def test_it_asks_to_reauthenticate_when_the_last_authentication_is_stale(
    client, settings, acme, alice, bob, seconds_ago
):
    assert settings.ACCOUNT_REAUTHENTICATION_TIMEOUT == 10 * 60
    if seconds_ago is None:
        client.force_login(alice)  # no record of any authentication at all
    else:
        signed_in(client, alice, seconds_ago=seconds_ago)
    url = role_url(acme, membership(bob, acme))

    response = client.post(url, {"role": Role.VIEWER})

    assert response.status_code == 302
    assert response.url.startswith("/accounts/reauthenticate/?next=")
    assert membership(bob, acme).role == Role.ADMIN
    response = client.post(remove_url(acme, membership(bob, acme)))
    assert response.url.startswith("/accounts/reauthenticate/")
    assert Membership.objects.filter(user=bob, organization=acme).exists()


def test_it_lets_a_fresh_authentication_through(client, acme, alice, bob):
    signed_in(client, alice, seconds_ago=9 * 60)

    response = client.post(role_url(acme, membership(bob, acme)), {"role": Role.VIEWER})

    assert response.status_code == 302
    assert response.url == team_url(acme)
    assert membership(bob, acme).role == Role.VIEWER


def test_it_finishes_the_role_change_after_reauthenticating(client, acme, alice, bob):
    signed_in(client, alice, seconds_ago=60 * 60)
    url = role_url(acme, membership(bob, acme))
    reauthenticate = client.post(url, {"role": Role.SECURITY}).url

    response = client.post(reauthenticate, {"password": factories.PASSWORD})

    assert response.status_code == 302
    assert response.url == team_url(acme)
    assert membership(bob, acme).role == Role.SECURITY


def test_it_lists_the_team_in_a_fixed_number_of_queries(client, acme, alice):
    client.force_login(alice)
    client.get(team_url(acme))  # the first request also records the session
    with CaptureQueriesContext(connection) as few:
        client.get(team_url(acme))

    for n in range(6):
        factories.member(acme, f"member{n}@acme.example", Role.VIEWER)
        services.invitation_create(
            organization=acme, email=f"invitee{n}@acme.example", role=Role.VIEWER, by=alice
        )
    with CaptureQueriesContext(connection) as many:
        response = client.get(team_url(acme))

    assert len(response.context["memberships"]) == 7
    assert len(response.context["invitations"]) == 6
    assert len(many.captured_queries) == len(few.captured_queries)


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_it_keeps_an_owner_when_two_owners_step_down_at_once():
    """Alice and Dana, the two owners, demote themselves at the same moment. Without the
    row locks each would count two owners and both would go; with them the second
    waits for the first, counts again, and is refused."""
    acme = factories.organization("Acme Corp")
    alice = factories.member(acme, "alice@acme.example", Role.OWNER)
    dana = factories.member(acme, "dana@acme.example", Role.OWNER)
    first_holds_the_lock = threading.Event()
    outcome: dict[str, object] = {}

    def alice_steps_down():
        from django.db import transaction

        try:
            with transaction.atomic():
                services.membership_change_role(
                    membership=membership(alice, acme), role=Role.ADMIN, by=alice
                )
                first_holds_the_lock.set()
                threading.Event().wait(0.5)  # Dana's request arrives meanwhile
            outcome["alice"] = "demoted"
        finally:
            connection.close()

    def dana_steps_down():
        first_holds_the_lock.wait(5)
        try:
            services.membership_change_role(
                membership=membership(dana, acme), role=Role.ADMIN, by=dana
            )
            outcome["dana"] = "demoted"
        except services.LastOwnerError:
            outcome["dana"] = "refused"
        finally:
            connection.close()

    threads = [threading.Thread(target=alice_steps_down), threading.Thread(target=dana_steps_down)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(10)

    assert outcome == {"alice": "demoted", "dana": "refused"}
    assert owners_of(acme) == ["dana@acme.example"]
