"""What notifications tells the apps above it (the webhooks), without importing them.

Sent inside the transaction of the change, so what receivers write (webhook events)
commits or rolls back with it.
"""

from django.dispatch import Signal

# A campaign's last delivery was recorded and the campaign completed (again, after a
# retry of its failed notices). Arguments: campaign, with its counts.
campaign_finished = Signal()

# Someone filed a suspicion report through a notice's link. Arguments: report.
report_filed = Signal()
