"""What log copies tell the apps above them, without importing them: notifications
turns each change into an email to the requester through its outbox, and webhooks
turns a copy made ready or expired into an event for the account's endpoints.

Sent inside the transaction that recorded the change, so the outbox row commits or
rolls back with it.
"""

from django.dispatch import Signal

# The requester must hear of it. Arguments: copy, event ("approved", "rejected",
# "ready" or "failed").
logcopy_changed = Signal()
LOGCOPY_EVENTS = ("approved", "rejected", "ready", "failed")

# A ready copy passed its expiry and its file is being deleted. Arguments: copy.
logcopy_expired = Signal()
