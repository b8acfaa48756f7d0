"""Emails to the person who asked for a log copy: approved, rejected, ready, failed."""

import logging

from django.conf import settings
from django.core.mail import send_mail
from django.template.loader import render_to_string
from django.urls import reverse

from portal.logcopies.models import LogCopyRequest

logger = logging.getLogger(__name__)

EVENTS = ("approved", "rejected", "ready", "failed")


def logcopy_page_url(copy: LogCopyRequest) -> str:
    kwargs = {"org": copy.organization.public_id, "copy": copy.public_id}
    return settings.SITE_URL + reverse("logcopies:detail", kwargs=kwargs)


def logcopy_email_send(*, copy: LogCopyRequest, event: str) -> bool:
    """Tell the requester what happened to their request. Returns whether a mail left.

    A failed send is logged, never raised: the copy's state is already recorded and
    the page shows it, so a mail server hiccup must not undo or fail the step.
    """
    if event not in EVENTS:
        raise ValueError(f"unknown log copy event {event!r}")
    requester = copy.requested_by
    if requester is None or not requester.email:
        return False
    context = {
        "copy": copy,
        "organization": copy.organization,
        "incident": copy.incident,
        "url": logcopy_page_url(copy),
    }
    subject = " ".join(render_to_string(f"emails/logcopy-{event}-subject.txt", context).split())
    body = render_to_string(f"emails/logcopy-{event}-body.txt", context)
    try:
        send_mail(subject, body, None, [requester.email])
    except Exception:
        logger.exception("log copy %s: the %s email could not be sent", copy.public_id, event)
        return False
    return True
