"""What log copies tell the apps above them, without importing them: notifications
turns each into an email to the requester through its outbox.

Sent inside the transaction that recorded the change, so the outbox row commits or
rolls back with it.
"""

from django.dispatch import Signal

# The requester must hear of it. Arguments: copy, event ("approved", "rejected",
# "ready" or "failed").
logcopy_changed = Signal()
LOGCOPY_EVENTS = ("approved", "rejected", "ready", "failed")
