"""What the minute sweep (portal.tasks.sweep_due_work) finds for notices."""

from notifications.delivery.dispatch import campaigns_dispatch_due, deliveries_requeue_stale
from notifications.outbox.scheduled import scheduled_emails_send_due

# name in the sweep's result -> the step; each returns how many things it moved on.
NOTICE_STEPS = {
    "campaigns_dispatched": campaigns_dispatch_due,
    "deliveries_requeued": deliveries_requeue_stale,
    "scheduled_emails_sent": scheduled_emails_send_due,
}
