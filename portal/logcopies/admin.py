from django.contrib import admin

from portal.logcopies.models import LogCopyRequest


@admin.register(LogCopyRequest)
class LogCopyRequestAdmin(admin.ModelAdmin):
    list_display = [
        "public_id",
        "organization",
        "incident",
        "format",
        "status",
        "rows",
        "created_at",
    ]
    list_filter = ["status", "format"]
    list_select_related = ["organization", "incident"]
    readonly_fields = ["sha256", "size", "rows", "generated_at", "download_count"]
