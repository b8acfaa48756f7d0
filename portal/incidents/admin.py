from django.contrib import admin

from portal.incidents.models import (
    DirectoryImport,
    DirectoryPhone,
    DirectoryUser,
    Exposure,
    ImportBatch,
    Incident,
    MessageLogRecord,
)


@admin.register(Incident)
class IncidentAdmin(admin.ModelAdmin):
    list_display = ["title", "slug", "provider", "status", "window_start", "window_end"]
    list_filter = ["status"]
    prepopulated_fields = {"slug": ["title"]}


@admin.register(ImportBatch)
class ImportBatchAdmin(admin.ModelAdmin):
    list_display = [
        "original_name",
        "incident",
        "format",
        "status",
        "seen",
        "imported",
        "rejected",
        "created_at",
    ]
    list_filter = ["status", "format"]
    list_select_related = ["incident"]
    readonly_fields = [
        "sha256",
        "seen",
        "imported",
        "duplicate",
        "rejected",
        "unknown_account",
        "first_errors",
    ]


@admin.register(MessageLogRecord)
class MessageLogRecordAdmin(admin.ModelAdmin):
    # Millions of rows: no counting the whole table, no default ordering by an
    # unindexed column, and lookups by exact id only.
    list_display = [
        "provider_message_id",
        "organization",
        "sent_at",
        "message_type",
        "country",
        "carrier",
    ]
    list_select_related = ["organization"]
    search_fields = ["=provider_message_id"]
    show_full_result_count = False
    raw_id_fields = ["incident", "organization", "import_batch"]
    ordering = ["-id"]


class DirectoryPhoneInline(admin.TabularInline):
    model = DirectoryPhone
    extra = 0


@admin.register(DirectoryUser)
class DirectoryUserAdmin(admin.ModelAdmin):
    list_display = ["username", "name", "organization", "language"]
    list_select_related = ["organization"]
    search_fields = ["username", "name"]
    inlines = [DirectoryPhoneInline]


@admin.register(Exposure)
class ExposureAdmin(admin.ModelAdmin):
    list_display = [
        "public_id",
        "organization",
        "incident",
        "country",
        "carrier",
        "message_count",
        "last_notified_at",
    ]
    list_filter = ["incident", "country"]
    list_select_related = ["organization", "incident"]
    show_full_result_count = False
    raw_id_fields = ["directory_user"]


@admin.register(DirectoryImport)
class DirectoryImportAdmin(admin.ModelAdmin):
    list_display = [
        "original_name",
        "organization",
        "status",
        "rows_total",
        "rows_rejected",
        "created_at",
    ]
    list_filter = ["status"]
    list_select_related = ["organization"]
