from django.apps import AppConfig
from django.db.backends.signals import connection_created


class AuditConfig(AppConfig):
    name = "portal.audit"
    label = "audit"

    def ready(self):
        from portal.audit.guard import audit_guard_install

        connection_created.connect(audit_guard_install, dispatch_uid="audit_guard_install")
