"""What incidents tell the apps above them, without importing them: notifications
makes the customer notices, webhooks the events of the accounts' endpoints.

Sent inside the transaction that published the rows, so what receivers write (the
outbox rows) commits or rolls back with them.
"""

from django.dispatch import Signal

# A published incident has exposures some accounts were not told of yet: at
# publication, and after an import adds accounts to a published incident.
# Arguments: incident; organization_ids (None at publication: every account; after an
# import, only the accounts new to the incident). A receiver returns the ids of the
# emails it queued.
incident_exposures_published = Signal()

# A member asked for an export of exposed users too large to stream: log copies (which
# keeps the export jobs) makes one and returns it. Arguments: member, incident, filters,
# reveal, total.
exposure_export_requested = Signal()

# The response plan of an account's incident page asks the apps above for their steps
# (log copies: the copy; notifications: the notice and the reports). Arguments: member,
# incident, numbers (portal.incidents.exposures.plan.PlanNumbers). A receiver returns a
# list of PlanPart (the expressions its step needs, then the step from their values): the
# plan reads every app's values in one query.
response_plan_steps = Signal()

# An import of a provider dump completed and published its rows, inside the transaction
# that published them. Arguments: batch, rows_by_account ({organization id: rows the
# import added for it, or None where not counted}).
import_completed = Signal()
