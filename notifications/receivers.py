"""Where notifications hears the apps below it (connected in NotificationsConfig.ready):
each signal becomes outbox rows, in the transaction that sent it. The apps below never
import notifications."""

from django.dispatch import receiver

from notifications.outbox.account_emails import invitation_email_add, logcopy_email_add
from notifications.outbox.scheduled import customer_notices_create
from notifications.plan import notice_plan_parts
from portal.accounts.signals import invitation_created
from portal.incidents.signals import incident_exposures_published, response_plan_steps
from portal.logcopies.signals import logcopy_changed


@receiver(invitation_created, dispatch_uid="notifications.invitation_email")
def _invitation_created(sender, *, invitation, **kwargs) -> None:
    invitation_email_add(invitation=invitation)


@receiver(logcopy_changed, dispatch_uid="notifications.logcopy_email")
def _logcopy_changed(sender, *, copy, event, **kwargs) -> None:
    logcopy_email_add(copy=copy, event=event)


@receiver(incident_exposures_published, dispatch_uid="notifications.customer_notices")
def _incident_exposures_published(
    sender, *, incident, organization_ids=None, **kwargs
) -> list[int]:
    return customer_notices_create(incident=incident, organization_ids=organization_ids)


@receiver(response_plan_steps, dispatch_uid="notifications.response_plan")
def _response_plan_steps(sender, *, member, incident, numbers, **kwargs):
    return notice_plan_parts(member=member, incident=incident, numbers=numbers)
