"""What each role may do: the one table views ask (DESIGN.md section 2).

Views and templates ask `can(role, capability)`; none of them compares role names.
"""

from django.db import models
from django.utils.translation import gettext_lazy as _


class Role(models.TextChoices):
    OWNER = "owner", _("Owner")
    ADMIN = "admin", _("Admin")
    SECURITY = "security", _("Security staff")
    VIEWER = "viewer", _("Viewer")


class Capability(models.TextChoices):
    VIEW_DASHBOARD = "view_dashboard", _("See dashboards and exposed users")
    REVEAL_PHONE = "reveal_phone", _("Reveal full phone numbers")
    # Names and emails of the exposed people leave the portal in the export: a
    # capability of its own, so a read-only role sees counts and masked rows only.
    EXPORT_EXPOSED = "export_exposed", _("Export exposed users with names and emails")
    MANAGE_DIRECTORY = "manage_directory", _("Import the user directory")
    REQUEST_LOG_COPY = "request_log_copy", _("Request copies of the stolen logs")
    DOWNLOAD_LOG_COPY = "download_log_copy", _("Download log copies")
    MANAGE_NOTICES = "manage_notices", _("Compose and send vigilance notices")
    VIEW_REPORTS = "view_reports", _("See and triage suspicion reports")
    VIEW_AUDIT = "view_audit", _("See and export the audit log")
    MANAGE_TEAM = "manage_team", _("Invite members and change roles")
    MANAGE_SETTINGS = "manage_settings", _("Change account settings")


_C = Capability
ROLE_CAPABILITIES: dict[str, frozenset[str]] = {
    Role.OWNER: frozenset(_C.values),
    Role.ADMIN: frozenset(
        {
            _C.VIEW_DASHBOARD,
            _C.EXPORT_EXPOSED,
            _C.MANAGE_DIRECTORY,
            _C.REQUEST_LOG_COPY,
            _C.MANAGE_NOTICES,
            _C.VIEW_REPORTS,
            _C.VIEW_AUDIT,
        }
    ),
    Role.SECURITY: frozenset(
        {
            _C.VIEW_DASHBOARD,
            _C.EXPORT_EXPOSED,
            _C.REVEAL_PHONE,
            _C.REQUEST_LOG_COPY,
            _C.DOWNLOAD_LOG_COPY,
            _C.VIEW_REPORTS,
        }
    ),
    Role.VIEWER: frozenset({_C.VIEW_DASHBOARD}),
}


# The roles that hear about incidents (the customer notice, the daily reminder): those
# who can act on them. The operator is told who they are before publishing.
INCIDENT_CONTACT_ROLES = (Role.OWNER, Role.ADMIN)


def can(role: str, capability: str) -> bool:
    return capability in ROLE_CAPABILITIES.get(role, frozenset())
