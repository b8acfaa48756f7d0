"""Where the webhooks hear the apps below them (connected in WebhooksConfig.ready):
each signal becomes an event, and a delivery per endpoint that wants it, in the
transaction that sent it.

Payloads carry ids, counts, times and links to the account's pages, never a phone
number, an email address or what a reporter wrote: a receiver that needs more asks the
API with its key, which masks and audits as the pages do.
"""

from django.conf import settings
from django.db.models import Exists, OuterRef
from django.dispatch import receiver
from django.urls import reverse
from django.utils import timezone

from notifications.signals import campaign_finished, report_filed
from portal.accounts.models import Organization
from portal.incidents.models import Exposure
from portal.incidents.signals import import_completed, incident_exposures_published
from portal.logcopies.signals import logcopy_changed, logcopy_expired
from portal.webhooks.models import EventType, WebhookEndpoint
from portal.webhooks.services import event_record


def _url(name: str, **kwargs) -> str:
    return str(settings.SITE_URL) + reverse(name, kwargs=kwargs)


def _time(value) -> str | None:
    return value.isoformat().replace("+00:00", "Z") if value else None


def _incident(incident) -> dict:
    return {"id": str(incident.public_id), "slug": incident.slug, "title": incident.title}


def _log_copy(copy) -> dict:
    return {
        "log_copy": {
            "id": str(copy.public_id),
            "status": copy.status,
            "format": copy.format,
            "rows": copy.rows,
            "size": copy.size,
            "sha256": copy.sha256,
            "expires_at": _time(copy.expires_at),
            "url": _url("logcopies:detail", org=copy.organization.public_id, copy=copy.public_id),
        },
        "incident": _incident(copy.incident),
    }


def _with_endpoints(accounts):
    """Only the accounts with an enabled endpoint: a publication touching thousands of
    accounts asks no more of the others than this one filter."""
    return accounts.filter(
        Exists(WebhookEndpoint.objects.filter(organization=OuterRef("pk"), enabled=True))
    )


@receiver(logcopy_changed, dispatch_uid="webhooks.logcopy_ready")
def _logcopy_changed(sender, *, copy, event, **kwargs) -> None:
    if event == "ready":
        event_record(
            organization_id=copy.organization_id,
            event_type=EventType.LOG_COPY_READY,
            key=str(copy.public_id),
            data=_log_copy(copy),
        )


@receiver(logcopy_expired, dispatch_uid="webhooks.logcopy_expired")
def _logcopy_expired(sender, *, copy, **kwargs) -> None:
    event_record(
        organization_id=copy.organization_id,
        event_type=EventType.LOG_COPY_EXPIRED,
        key=str(copy.public_id),
        data=_log_copy(copy),
    )


@receiver(campaign_finished, dispatch_uid="webhooks.campaign_finished")
def _campaign_finished(sender, *, campaign, **kwargs) -> None:
    organization = campaign.organization
    event_record(
        organization_id=campaign.organization_id,
        event_type=EventType.CAMPAIGN_FINISHED,
        # A campaign completes again after its failed notices are retried: each time
        # is an event of its own.
        key=f"{campaign.public_id}:{_time(campaign.completed_at)}",
        data={
            "campaign": {
                "id": str(campaign.public_id),
                "name": campaign.name,
                "status": campaign.status,
                "recipients": campaign.recipients_total,
                "sent": campaign.sent_count,
                "failed": campaign.failed_count,
                "skipped": campaign.skipped_count,
                "completed_at": _time(campaign.completed_at),
                "url": _url(
                    "campaigns:detail", org=organization.public_id, campaign=campaign.public_id
                ),
            },
            "incident": _incident(campaign.incident),
        },
    )


@receiver(report_filed, dispatch_uid="webhooks.report_filed")
def _report_filed(sender, *, report, **kwargs) -> None:
    # What the reporter wrote (the number that called them, the description) stays
    # behind the account's pages.
    event_record(
        organization_id=report.organization_id,
        event_type=EventType.REPORT_FILED,
        key=str(report.public_id),
        data={
            "report": {
                "id": str(report.public_id),
                "channel": report.channel,
                "status": report.status,
                "occurred_at": _time(report.occurred_at),
                "filed_at": _time(report.created_at),
                "url": _url(
                    "reports:detail", org=report.organization.public_id, report=report.public_id
                ),
            },
            "incident": _incident(report.incident) if report.incident_id else None,
        },
    )


@receiver(incident_exposures_published, dispatch_uid="webhooks.incident_published")
def _incident_published(sender, *, incident, organization_ids=None, **kwargs) -> None:
    """At publication, every account with exposures in it; after an import into a
    published incident, the accounts it brought in. Returns nothing (the sender
    collects the ids of notifications' emails)."""
    accounts = _with_endpoints(
        Organization.objects.filter(
            Exists(Exposure.objects.filter(incident=incident, organization=OuterRef("pk")))
        )
    )
    if organization_ids is not None:
        accounts = accounts.filter(pk__in=list(organization_ids))
    for pk, public_id in accounts.values_list("pk", "public_id"):
        event_record(
            organization_id=pk,
            event_type=EventType.INCIDENT_PUBLISHED,
            key=str(incident.public_id),
            data={
                "incident": {
                    **_incident(incident),
                    "provider": incident.provider,
                    "window_start": _time(incident.window_start),
                    "window_end": _time(incident.window_end),
                    "published_at": _time(incident.published_at),
                    "url": _url("incidents:dashboard", org=public_id, incident=incident.public_id),
                },
                "exposures": Exposure.objects.filter(incident=incident, organization_id=pk).count(),
            },
        )


@receiver(import_completed, dispatch_uid="webhooks.import_completed")
def _import_completed(sender, *, batch, rows_by_account, **kwargs) -> None:
    """Told only of an incident the accounts can see (published): a draft's imports
    stay the operator's business until publication, which is an event of its own."""
    incident = batch.incident
    if incident.status != incident.Status.PUBLISHED:
        return
    accounts = dict(
        _with_endpoints(Organization.objects.filter(pk__in=list(rows_by_account))).values_list(
            "pk", "public_id"
        )
    )
    for pk, public_id in accounts.items():
        event_record(
            organization_id=pk,
            event_type=EventType.IMPORT_COMPLETED,
            key=str(batch.public_id),
            data={
                "import": {
                    "id": str(batch.public_id),
                    "format": batch.format,
                    "rows": rows_by_account.get(pk),
                    "finished_at": _time(timezone.now()),
                },
                "incident": {
                    **_incident(incident),
                    "url": _url("incidents:dashboard", org=public_id, incident=incident.public_id),
                },
                "exposures": Exposure.objects.filter(incident=incident, organization_id=pk).count(),
            },
        )
