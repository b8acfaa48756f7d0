"""Writing campaigns: composing a draft, editing it, and launching it (DESIGN.md flow 7).

Launching freezes what the notices are made of (the template in every language of its
name, and the designated contact) and hands the campaign to the dispatcher, which finds
it in the database once it is due (notifications.delivery.dispatch). Pause, resume, cancel and
retry are in notifications.campaigns.controls.
"""

from collections.abc import Iterable
from datetime import datetime

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from notifications.audience import audience_count
from notifications.models import NoticeCampaign, NoticeTemplate
from notifications.notice_templates import rendering
from portal.accounts.models import Organization
from portal.audit.services import audit_record
from portal.incidents.exposures.selectors import incidents_of_account
from portal.incidents.models import DirectoryUser, Incident

Audience = NoticeCampaign.Audience
Status = NoticeCampaign.Status

# The list filters an audience may use. "matched" is left out: only people matched to
# the directory have an address to write to, so every audience is matched already.
AUDIENCE_FILTER_FIELDS = ("country", "region", "carrier", "message_type", "notified")


def contact_missing(organization: Organization) -> list[str]:
    """What the account's settings lack for a notice to name its designated contact."""
    missing = []
    if not organization.contact_name.strip():
        missing.append(_("a name"))
    if not organization.contact_email.strip():
        missing.append(_("an email address"))
    return missing


def contact_missing_words(missing: list[str]) -> str:
    """What contact_missing found, as words: "a name and an email address"."""
    if len(missing) < 2:
        return "".join(missing)
    return _("%(first)s and %(second)s") % {"first": missing[0], "second": missing[1]}


def _check(
    *,
    organization: Organization,
    incident: Incident,
    template: NoticeTemplate | None,
    audience: str,
    audience_filter: dict,
    chosen_users: Iterable[DirectoryUser],
) -> tuple[dict, list[DirectoryUser]]:
    errors: dict[str, str] = {}
    if not incidents_of_account(organization).filter(pk=incident.pk).exists():
        errors["incident"] = "Choose a published incident that involves this account."
    if template is None:
        errors["template"] = "Choose a template."
    elif template.organization_id not in (None, organization.pk):
        errors["template"] = "Choose one of your templates or an operator default."
    if audience not in Audience.values:
        errors["audience"] = "Choose who gets the notice."
    unknown = sorted(set(audience_filter) - set(AUDIENCE_FILTER_FIELDS))
    if unknown:
        errors["audience_filter"] = "Unknown filter: " + ", ".join(unknown)
    users = list(chosen_users)
    if audience == Audience.CHOSEN:
        if not users:
            errors["chosen_users"] = "Choose at least one person from your directory."
        elif any(user.organization_id != organization.pk for user in users):
            errors["chosen_users"] = "Choose people from your own directory."
    if errors:
        raise ValidationError(errors)
    # Only what the audience uses is kept, so a draft switched from "a filter" to "all"
    # does not carry a filter no one sees.
    kept_filter = (
        {name: str(value) for name, value in audience_filter.items() if value}
        if audience == Audience.FILTER
        else {}
    )
    return kept_filter, users if audience == Audience.CHOSEN else []


def notice_campaign_create(
    *,
    organization: Organization,
    by,
    incident: Incident,
    template: NoticeTemplate | None,
    audience: str,
    audience_filter: dict | None = None,
    chosen_users: Iterable[DirectoryUser] = (),
    name: str = "",
    scheduled_at: datetime | None = None,
) -> NoticeCampaign:
    """A draft campaign. `scheduled_at` None means "as soon as it is launched"."""
    kept_filter, users = _check(
        organization=organization,
        incident=incident,
        template=template,
        audience=audience,
        audience_filter=audience_filter or {},
        chosen_users=chosen_users,
    )
    with transaction.atomic():
        campaign = NoticeCampaign.objects.create(
            organization=organization,
            incident=incident,
            template=template,
            audience=audience,
            audience_filter=kept_filter,
            name=name.strip() or f"Notice about {incident.title}",
            scheduled_at=scheduled_at,
            created_by=by,
        )
        if users:
            campaign.chosen_users.set(users)
    return campaign


def notice_campaign_update(
    *,
    campaign: NoticeCampaign,
    by,
    incident: Incident,
    template: NoticeTemplate | None,
    audience: str,
    audience_filter: dict | None = None,
    chosen_users: Iterable[DirectoryUser] = (),
    name: str = "",
    scheduled_at: datetime | None = None,
) -> NoticeCampaign:
    """Change a draft. A launched campaign's notices are already decided."""
    kept_filter, users = _check(
        organization=campaign.organization,
        incident=incident,
        template=template,
        audience=audience,
        audience_filter=audience_filter or {},
        chosen_users=chosen_users,
    )
    with transaction.atomic():
        locked = NoticeCampaign.objects.select_for_update().get(pk=campaign.pk)
        if locked.status != Status.DRAFT:
            raise ValidationError(
                _("This campaign is %(status)s: only a draft can be changed.")
                % {"status": locked.get_status_display().lower()}
            )
        locked.incident = incident
        locked.template = template
        locked.audience = audience
        locked.audience_filter = kept_filter
        locked.name = name.strip() or f"Notice about {incident.title}"
        locked.scheduled_at = scheduled_at
        locked.save(
            update_fields=[
                "incident",
                "template",
                "audience",
                "audience_filter",
                "name",
                "scheduled_at",
            ]
        )
        locked.chosen_users.set(users)
    return locked


def notice_campaign_launch(*, campaign: NoticeCampaign, by, request=None) -> NoticeCampaign:
    """Freeze the draft's template and contact, and schedule it: now when it has no
    time, else at its time. The dispatcher makes its deliveries once it is due."""
    with transaction.atomic():
        # Locked: two clicks on Launch (or two people) must launch it once.
        locked = (
            NoticeCampaign.objects.select_for_update()
            .select_related("organization", "incident")
            .get(pk=campaign.pk)
        )
        if locked.status != Status.DRAFT:
            raise ValidationError(
                _("This campaign is %(status)s already: it can be launched only once.")
                % {"status": locked.get_status_display().lower()}
            )
        organization = locked.organization
        missing = contact_missing(organization)
        if missing:
            raise ValidationError(
                _(
                    "Your account has no designated contact: add %(missing)s in the account "
                    "settings. Every notice tells people whom to tell."
                )
                % {"missing": contact_missing_words(missing)}
            )
        template = (
            NoticeTemplate.objects.filter(pk=locked.template_id).first()
            if locked.template_id
            else None
        )
        if template is None:
            raise ValidationError(_("The campaign's template no longer exists: choose another."))
        if not incidents_of_account(organization).filter(pk=locked.incident_id).exists():
            raise ValidationError(_("The campaign's incident is no longer published."))
        counted = audience_count(locked)
        if counted.recipients == 0:
            raise ValidationError(
                _("No one in this audience can receive the notice: choose another audience.")
            )
        now = timezone.now()
        locked.template_snapshot = rendering.template_snapshot(template)
        locked.contact_snapshot = rendering.contact_snapshot(organization)
        # A time that has passed since it was chosen means "now", which the dispatcher
        # reads the same way.
        locked.scheduled_at = locked.scheduled_at or now
        locked.status = Status.SCHEDULED
        locked.launched_by = by
        locked.launched_at = now
        locked.save(
            update_fields=[
                "template_snapshot",
                "contact_snapshot",
                "scheduled_at",
                "status",
                "launched_by",
                "launched_at",
            ]
        )
        audit_record(
            action="notice.launch",
            actor=by,
            organization=organization,
            target=locked,
            request=request,
            details={
                "incident": str(locked.incident.public_id),
                "template": template.name,
                "audience": locked.audience,
                "recipients": counted.recipients,
                "skipped_no_email": counted.skipped_no_email,
                "scheduled_at": locked.scheduled_at.isoformat(timespec="seconds"),
            },
        )
        # A campaign due now goes out without waiting for the minute sweep; for one due
        # later the dispatcher finds nothing yet, and the sweep finds it when it is due
        # (never a long broker ETA, which Redis would redeliver).
        transaction.on_commit(_dispatch_soon, robust=True)
    return locked


def _dispatch_soon() -> None:
    from notifications.delivery.tasks import campaigns_dispatch

    campaigns_dispatch.delay()
