"""Celery tasks of notices: thin, by id, on the `notices` queue (settings)."""

from celery import shared_task

from notifications.delivery import dispatch, sending


@shared_task
def campaigns_dispatch() -> int:
    """Dispatch the campaigns that are due (a launch asks for it at once; the minute
    sweep does it anyway)."""
    return dispatch.campaigns_dispatch_due()


@shared_task
def deliveries_send(campaign_id: int) -> None:
    """One sender's turn on a campaign: claim, send and record batches (sending.py)."""
    sending.campaign_send(campaign_id=campaign_id)
