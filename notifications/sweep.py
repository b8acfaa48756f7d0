"""What the minute sweep (portal.tasks.sweep_due_work) finds for notices."""

from notifications.dispatch import campaigns_dispatch_due, deliveries_requeue_stale
from notifications.scheduled import scheduled_emails_send_due


def notices_sweep_due() -> dict[str, int]:
    return {
        "campaigns_dispatched": campaigns_dispatch_due(),
        "deliveries_requeued": deliveries_requeue_stale(),
        "scheduled_emails_sent": scheduled_emails_send_due(),
    }
