from django.contrib import admin

from portal.audit.models import AuditEvent


@admin.register(AuditEvent)
class AuditEventAdmin(admin.ModelAdmin):
    """Read-only: the audit log is append-only, in the admin as everywhere else."""

    list_display = ["created_at", "actor_label", "organization", "action", "target_label", "ip"]
    list_filter = ["action"]
    list_select_related = ["organization"]
    search_fields = ["actor_label", "action", "target_id"]
    show_full_result_count = False

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False
