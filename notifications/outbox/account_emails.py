"""Emails about an account's own business, sent through the outbox: the invitation
to join it, and what happened to a log copy someone of it asked for (approved,
rejected, ready, failed). Rows are made by the receivers of accounts' and log copies'
signals (`receivers.py`), in the transaction of the change they tell.
"""

from datetime import datetime

from notifications.models import ScheduledEmail
from notifications.outbox.services import (
    Email,
    NothingToSay,
    composer,
    email_render,
    outbox_add,
    site_url,
)
from portal.accounts.models import Invitation
from portal.accounts.services import (
    INVITATION_VALID_FOR,
    invitation_accept_url,
    invitation_problem,
)
from portal.logcopies.models import LogCopyRequest
from portal.logcopies.signals import LOGCOPY_EVENTS

Kind = ScheduledEmail.Kind


# --- Invitation ------------------------------------------------------------------------


def invitation_email_add(*, invitation: Invitation) -> int | None:
    return outbox_add(
        kind=Kind.INVITATION, key=str(invitation.pk), organization_id=invitation.organization_id
    )


@composer(Kind.INVITATION, nobody="The invitation has no email address.")
def _invitation(row: ScheduledEmail, now: datetime) -> Email:
    invitation = (
        Invitation.objects.select_related("organization", "invited_by")
        .filter(pk=int(row.key))
        .first()
    )
    # Revoked (or replaced by a newer one), accepted or expired before it left: its
    # link would not work.
    if invitation is None or invitation_problem(invitation) is not None:
        raise NothingToSay
    context = {
        "invitation": invitation,
        "organization": invitation.organization,
        "invited_by": invitation.invited_by,
        "role": invitation.get_role_display,  # called in the recipient's language
        "accept_url": invitation_accept_url(invitation),
        "valid_days": INVITATION_VALID_FOR.days,
        "zone": invitation.organization.zone,
    }
    return email_render(
        "invitation",
        context,
        [invitation.email] if invitation.email else [],
        # Someone who is not a member yet has no language of their own: the invitation's.
        fallback_language=invitation.language,
    )


# --- Log copies ------------------------------------------------------------------------


def logcopy_email_add(*, copy: LogCopyRequest, event: str) -> int | None:
    if event not in LOGCOPY_EVENTS:
        raise ValueError(f"unknown log copy event {event!r}")
    return outbox_add(
        kind=Kind.LOGCOPY,
        key=f"{copy.pk}:{event}",
        organization_id=copy.organization_id,
        incident_id=copy.incident_id,
    )


def logcopy_page_url(copy: LogCopyRequest) -> str:
    return site_url("logcopies:detail", org=copy.organization.public_id, copy=copy.public_id)


@composer(Kind.LOGCOPY, nobody="The person who asked for the copy has no email address.")
def _logcopy(row: ScheduledEmail, now: datetime) -> Email:
    copy_id, _, event = row.key.partition(":")
    copy = (
        LogCopyRequest.objects.select_related("organization", "incident", "requested_by")
        .filter(pk=int(copy_id))
        .first()
    )
    if copy is None or copy.requested_by is None or event not in LOGCOPY_EVENTS:
        raise NothingToSay  # the copy, or the person who asked, is gone
    context = {
        "copy": copy,
        "organization": copy.organization,
        "incident": copy.incident,
        "url": logcopy_page_url(copy),
        "zone": copy.organization.zone,
    }
    email = copy.requested_by.email
    return email_render(f"logcopy-{event}", context, [email] if email else [])
