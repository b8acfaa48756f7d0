"""Where log copies hears incidents (connected in LogCopiesConfig.ready): incidents
never imports log copies."""

from django.dispatch import receiver

from portal.incidents.signals import exposure_export_requested, response_plan_steps
from portal.logcopies.exposure_exports import exposure_export_request
from portal.logcopies.plan import logcopy_plan_part


@receiver(exposure_export_requested, dispatch_uid="logcopies.exposure_export")
def _exposure_export_requested(sender, *, member, incident, filters, reveal, total, **kwargs):
    return exposure_export_request(
        member=member, incident=incident, filters=filters, reveal=reveal, total=total
    )


@receiver(response_plan_steps, dispatch_uid="logcopies.response_plan")
def _response_plan_steps(sender, *, member, incident, **kwargs):
    return [logcopy_plan_part(member=member, incident=incident)]
