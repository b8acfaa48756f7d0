from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

from portal.accounts.models import Organization


class AuditLogAppendOnlyError(Exception):
    """Raised on any attempt to change or remove an audit event."""


class AuditEventQuerySet(models.QuerySet):
    """Every way the ORM has to change or remove rows, refused.

    The manager below is also the model's base manager, which Django uses where it
    bypasses the default one (saving, related lookups), so `_base_manager` refuses too.
    What a plain QuerySet(AuditEvent) or raw SQL would do is refused by the guard on
    every connection (portal/audit/guard.py), and below both by the database's own
    triggers (migrations 0002 and 0003), on PostgreSQL and SQLite alike.
    """

    def update(self, **kwargs):
        raise AuditLogAppendOnlyError("audit events cannot be updated")

    def _update(self, values):  # what save() and update() use underneath
        raise AuditLogAppendOnlyError("audit events cannot be updated")

    def bulk_update(self, objs, fields, batch_size=None):
        raise AuditLogAppendOnlyError("audit events cannot be updated")

    def update_or_create(self, defaults=None, create_defaults=None, **kwargs):
        raise AuditLogAppendOnlyError("audit events cannot be updated")

    def bulk_create(self, objs, *args, update_conflicts=False, **kwargs):
        if update_conflicts:
            raise AuditLogAppendOnlyError("audit events cannot be overwritten")
        return super().bulk_create(objs, *args, **kwargs)

    def delete(self):
        raise AuditLogAppendOnlyError("audit events cannot be deleted")

    delete.queryset_only = True  # type: ignore[attr-defined]

    def _raw_delete(self, using):
        raise AuditLogAppendOnlyError("audit events cannot be deleted")


class AuditEvent(models.Model):
    """An append-only record of a sensitive action.

    The foreign keys carry no database constraint and never cascade: deleting a user
    or an account must not rewrite or remove its history. `actor_label` keeps who it
    was after the user is gone.
    """

    id = models.BigAutoField(primary_key=True)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.DO_NOTHING,
        db_constraint=False,
        related_name="+",
    )
    actor_label = models.CharField(max_length=254, help_text=_("Email of the actor, or 'system'."))
    organization = models.ForeignKey(
        Organization,
        null=True,
        blank=True,
        on_delete=models.DO_NOTHING,
        db_constraint=False,
        related_name="+",
    )
    action = models.CharField(max_length=64, help_text=_("e.g. logcopy.download, phone.reveal"))
    target_type = models.CharField(max_length=64, blank=True)
    target_id = models.CharField(max_length=64, blank=True)
    target_label = models.CharField(max_length=200, blank=True)
    ip = models.GenericIPAddressField(null=True, blank=True)
    user_agent = models.CharField(max_length=300, blank=True)
    details = models.JSONField(default=dict, blank=True)

    objects = AuditEventQuerySet.as_manager()

    class Meta:
        base_manager_name = "objects"
        ordering = ["-created_at", "-id"]
        indexes = [
            models.Index(fields=["organization", "-created_at"], name="audit_by_org"),
            models.Index(fields=["action", "-created_at"], name="audit_by_action"),
        ]

    def __str__(self) -> str:
        return f"{self.created_at:%Y-%m-%d %H:%M} {self.actor_label} {self.action}"

    def save(self, *args, **kwargs):
        if not self._state.adding:
            raise AuditLogAppendOnlyError("audit events cannot be updated")
        if self.pk is not None:
            # A new event with the id of an old one: Django would UPDATE the old row.
            raise AuditLogAppendOnlyError("audit events are numbered by the log itself")
        kwargs["force_insert"] = True
        super().save(*args, **kwargs)

    def delete(self, *args, **kwargs):
        raise AuditLogAppendOnlyError("audit events cannot be deleted")
