"""What accounts tell the apps above them, without importing them (the import
direction runs from notifications down to accounts, never back).

Sent inside the transaction that made the change, so a receiver's writes (an outbox
row) commit or roll back with it.
"""

from django.dispatch import Signal

# An invitation was made and its link must reach the invitee. Arguments: invitation.
invitation_created = Signal()
