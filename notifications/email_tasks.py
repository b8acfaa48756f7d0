"""Celery tasks of the scheduled emails: thin, by id, on the default queue.

Not `notifications.tasks`: that module's tasks go to the `notices` queue, which the
notice workers keep busy with campaigns; a handful of emails to account owners and
operator staff must not wait behind a 10,000-recipient campaign.
"""

from celery import shared_task


@shared_task(acks_late=True)
def scheduled_emails_send(email_ids: list[int]) -> int:
    # Imported here: notifications.scheduled enqueues this task, so it imports this
    # module, and a module-level import back would be a cycle.
    from notifications.scheduled import scheduled_emails_send as send

    return send(email_ids=email_ids)
